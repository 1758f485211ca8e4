"""pcdash: the dashboard. ``streamlit run app.py`` opens it on the bundled digits data."""

import streamlit as st

from pcdash.ui.export import export_format_control

st.set_page_config(page_title="pcdash", page_icon=":material/neurology:", layout="wide")

CRE_PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/tradeoff.py", title="Trade-off", icon=":material/balance:", url_path="tradeoff"),
    st.Page(
        "views/latent_space.py",
        title="Latent space",
        icon=":material/scatter_plot:",
        url_path="latent",
    ),
    st.Page(
        "views/reconstructions.py",
        title="Reconstructions",
        icon=":material/image:",
        url_path="reconstructions",
    ),
    st.Page(
        "views/latent_dimension.py",
        title="Latent dimension",
        icon=":material/straighten:",
        url_path="latent_dim",
    ),
]
PC_PAGES = [
    st.Page(
        "views/energy_dynamics.py",
        title="Energy dynamics",
        icon=":material/bolt:",
        url_path="energy",
    ),
    st.Page(
        "views/pc_algorithms.py",
        title="PC algorithms",
        icon=":material/compare_arrows:",
        url_path="algorithms",
    ),
    st.Page(
        "views/pc_vs_bp.py", title="PC vs BP", icon=":material/difference:", url_path="pc_vs_bp"
    ),
]
GENERATIVE_PAGES = [  # PCX §4.2, Appendices C and F: one experiment per page
    st.Page(
        "views/autoencoder.py",
        title="Autoencoder",
        icon=":material/auto_awesome:",
        url_path="autoencoder",
    ),
    st.Page("views/mcpc.py", title="MCPC sampling", icon=":material/grain:", url_path="mcpc"),
    st.Page(
        "views/memory.py", title="Associative memory", icon=":material/memory:", url_path="memory"
    ),
    st.Page("views/ood.py", title="OOD detection", icon=":material/report:", url_path="ood"),
]
PAPER_PAGES = [
    st.Page(
        "views/paper_figures.py",
        title="Paper figures",
        icon=":material/fact_check:",
        url_path="paper_figures",
    )
]
TOOLS = [st.Page("views/runs.py", title="Runs", icon=":material/folder_open:", url_path="runs")]

page = st.navigation(
    {
        "Papers": PAPER_PAGES,
        "Classification vs reconstruction": CRE_PAGES,
        "Predictive coding": PC_PAGES,
        "Generative & memory": GENERATIVE_PAGES,
        "Tools": TOOLS,
    }
)
st.session_state["page_family"] = "pc" if page in PC_PAGES + GENERATIVE_PAGES else "cre"
page.run()
export_format_control()
