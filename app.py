"""pcdash: the dashboard. ``streamlit run app.py`` opens it on the bundled digits data."""

import streamlit as st

from pcdash.ui.widgets import export_format_control

st.set_page_config(page_title="pcdash", page_icon=":material/neurology:", layout="wide")

CRE_PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/tradeoff.py", title="Trade-off", icon=":material/balance:", url_path="tradeoff"),
    st.Page("views/latent_space.py", title="Latent space", icon=":material/scatter_plot:", url_path="latent"),
    st.Page("views/reconstructions.py", title="Reconstructions", icon=":material/image:", url_path="reconstructions"),
    st.Page("views/latent_dimension.py", title="Latent dimension", icon=":material/straighten:", url_path="latent_dim"),
]
PC_PAGES = [
    st.Page("views/energy_dynamics.py", title="Energy dynamics", icon=":material/bolt:", url_path="energy"),
    st.Page("views/pc_algorithms.py", title="PC algorithms", icon=":material/compare_arrows:", url_path="algorithms"),
    st.Page("views/pc_vs_bp.py", title="PC vs BP", icon=":material/difference:", url_path="pc_vs_bp"),
    st.Page("views/generative.py", title="Generative & memory", icon=":material/auto_awesome:", url_path="generative"),
]
PAPER_PAGES = [st.Page("views/paper_figures.py", title="Paper figures", icon=":material/fact_check:",
                       url_path="paper_figures")]
TOOLS = [st.Page("views/runs.py", title="Runs", icon=":material/folder_open:", url_path="runs")]

page = st.navigation({"Papers": PAPER_PAGES, "Classification vs reconstruction": CRE_PAGES, "Predictive coding": PC_PAGES,
                      "Tools": TOOLS})
st.session_state["page_family"] = "pc" if page in PC_PAGES else "cre"
page.run()
export_format_control()
