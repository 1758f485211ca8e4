"""Paper figures: every reproducible figure of the three papers — the paper's caption and claim,
pcdash's figure, the numbers behind the check and whether the claim holds on our data, the
settings that differ, a Reproduce button (a background job shared with the figure's own page) and
a link that opens that page with the figure's exact settings. Everything shown comes from the
catalogue in :mod:`pcdash.paper`."""

import pandas as pd
import streamlit as st

from pcdash.data import dataset_available
from pcdash.errors import PcdashError
from pcdash.paper import FIGURES, PAPERS, runners
from pcdash.paper.catalogue import OFFLINE_DATASETS
from pcdash.paper.summary import shipped_verdicts
from pcdash.ui import state
from pcdash.ui.export import memo, show_figure
from pcdash.ui.panel import experiment_panel
from pcdash.ui.paper import VERDICT_ICONS, page_url, verdict_box

SHORT = {
    "cre": "CRE (Rathjens & Wiskott)",
    "pcx": "PCX (Pinchetti et al.)",
    "comparison": "BP vs PC comparison",
}

st.title("Paper figures")
st.caption(
    "Each figure of the papers that pcdash reproduces: the paper's claim, the same figure from "
    "pcdash's own run, "
    "the numbers the check used and whether the claim holds on our data. A claim that does not "
    "hold is shown "
    "as such, with the settings that differ from the paper's."
)

with st.expander(
    "Every claim at a glance (the shipped, precomputed results; a run you train replaces its row)",
    expanded=True,
):
    rows = []
    for f in FIGURES.values():
        verdicts = shipped_verdicts(f)
        for i, claim in enumerate(f.claims):
            v = verdicts[i] if i < len(verdicts) else None
            rows.append(
                {
                    "paper": SHORT[f.paper],
                    "figure": f.number,
                    "name": f.name,
                    "claim": claim.text,
                    "on our data": VERDICT_ICONS[v["holds"]] if v else "— (press Reproduce)",
                    "numbers": v["summary"] if v else "",
                }
            )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="pf_summary",
        column_config={
            "claim": st.column_config.TextColumn(width="large"),
            "numbers": st.column_config.TextColumn(width="large"),
        },
    )

names = tuple(FIGURES)
c1, c2, c3 = st.columns([3, 2, 2])
name = state.select(
    "Figure",
    "fig",
    names,
    names[0],
    container=c1,
    format_func=lambda n: f"{SHORT[FIGURES[n].paper]} · {FIGURES[n].number} · {FIGURES[n].title}",
)
fig = FIGURES[name]
exp = fig.experiment
datasets = tuple(d for d in exp.datasets if d in OFFLINE_DATASETS or dataset_available(d))
dataset = state.select(
    "Dataset",
    "fig_data",
    datasets,
    exp.offline[0],
    container=c2,
    format_func=lambda d: d + ("" if d in OFFLINE_DATASETS else " (downloaded)"),
    help="the offline datasets, and MNIST / FashionMNIST / CIFAR-10 once downloaded",
)
paper_setting = state.toggle(
    "The paper's setting (slow)",
    "fig_paper",
    False,
    container=c3,
    help="off: the quick setting of the figure's page (what pcdash ships precomputed)",
)
state.sync_url({"fig": name, "fig_data": dataset, "fig_paper": paper_setting})
state.report_bad_url_values()

st.header(f"{fig.number}: {fig.title}")
st.caption(f"**{PAPERS[fig.paper]}.** *Caption:* {fig.caption}")
try:
    config = exp.config(dataset, quick=not paper_setting)
except PcdashError as err:
    state.error(err)
    config = None

if config is not None:
    st.link_button(
        f"Open the {fig.page_label or exp.page} page with these settings",
        page_url(fig, config),
        icon=":material/open_in_new:",
    )
    if exp.link_note:
        st.caption(exp.link_note)

    def draw(result, live):
        if live:
            st.caption("The figure and the verdicts appear when the run has finished.")
            return
        verdicts = memo(("pf_verdicts", name), result, lambda: fig.verdicts(result))
        for claim, verdict in verdicts:
            st.markdown(f"**Claim.** {claim.text}  \n*Paper:* {claim.paper_numbers}")
            verdict_box(claim, verdict)
            if verdict.numbers:
                with st.expander("The numbers behind the check"):
                    st.dataframe(
                        pd.DataFrame(
                            {
                                "number": list(verdict.numbers),
                                "value": list(verdict.numbers.values()),
                            }
                        ),
                        hide_index=True,
                    )
        plots = memo(("pf_plots", name), result, lambda: fig.plot(result))
        for i, plot in enumerate(plots if isinstance(plots, list) else [plots]):
            table = memo(("pf_table", name), result, lambda: fig.table(result)) if i == 0 else None
            show_figure(plot, table, f"{name}-{i + 1}", key=f"pf_plot_{name}_{i}")

    experiment_panel(
        runners.experiment(exp.kind),
        runners.configuration(exp.kind, config),
        draw,
        train_label="Reproduce",
        key=f"pf_{name}",
        placeholder="The figure, the claim's verdict and its numbers appear here",
    )

    st.subheader("Settings")
    st.markdown(
        f"- **Paper:** {fig.paper_setting}\n- **pcdash, offline (quick):** {fig.offline_setting}\n"
        f"- **pcdash, with the paper's data:** {fig.full_setting}"
    )
    st.markdown(
        "**Differences from the paper:**\n"
        + "\n".join(f"- {d}" for d in fig.differences_for(config))
    )
