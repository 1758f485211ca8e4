"""Trade-off: accuracy and MSE against λ (box plots over seeds, mean curves with 95% bands),
the Pareto view and per-member training curves."""

import streamlit as st

from pcdash.experiments.cre_sweep import CRE_SWEEP
from pcdash.figures.cre import pareto, tradeoff_boxes, tradeoff_means, training_curves
from pcdash.results import final_rows, select_by_validation
from pcdash.ui import state
from pcdash.ui.cre_controls import cre_sidebar, dead_units_warning, paper_note
from pcdash.ui.export import memo, show_figure
from pcdash.ui.panel import experiment_panel

st.title("Classification–reconstruction trade-off")
st.caption(
    "The paper's finding: classification (blue) is best at λ = 0, reconstruction (orange) at λ = "
    "1, and nothing in "
    "between wins both. Compare with what your sweep shows."
)
config = cre_sidebar()
split = state.select("Evaluate on", "split", ("test", "val"), "test", container=st.sidebar)
epoch_rule = state.select(
    "Epoch per model",
    "pick",
    ("last", "best on validation"),
    "last",
    container=st.sidebar,
    help="'best on validation' picks each model's epoch by validation loss; test never picks",
)
state.sync_url({"split": split, "pick": epoch_rule})
if config is not None:
    paper_note("tradeoff", config)


def draw(result, live):
    source = result.frame  # a new object whenever epochs finish: figures are rebuilt only then
    tag = "live" if live else "done"

    def frames():
        frame = source[source["model"] == "cre"] if "model" in source else source
        shown = frame
        if epoch_rule == "best on validation" and not live:
            shown = select_by_validation(frame, "loss", split=split)
        return frame, shown, final_rows(shown, split)

    def figure(name, build):
        return memo(
            ("tradeoff", name, tag, split, epoch_rule),
            source,
            lambda: build(*memo(("tradeoff", tag, split, epoch_rule), source, frames)),
        )

    left, right = st.columns(2)
    with left:
        fig, data = figure("boxes", lambda f, s, final: (tradeoff_boxes(s, split=split), final))
        show_figure(fig, data, "tradeoff_boxes", key=f"boxes_{tag}")
    with right:
        fig, data = figure("means", lambda f, s, final: (tradeoff_means(s, split=split), final))
        show_figure(fig, data, "tradeoff_means", key=f"means_{tag}")
    if live and source["epoch"].max() <= 1:
        # the first live drawing shows the two main charts only: it reaches the screen sooner
        st.caption("The Pareto view and the training curves join from the second epoch on.")
        return
    left, right = st.columns(2)
    with left:
        fig, data = figure("pareto", lambda f, s, final: (pareto(s, split=split), final))
        show_figure(fig, data, "pareto", key=f"pareto_{tag}")
    with right:
        metric = st.radio(
            "Training curves of",
            ("accuracy", "mse", "ce"),
            horizontal=True,
            key=f"curve_metric_{tag}",
        )
        fig, data = figure(
            f"curves_{metric}",
            lambda f, s, final: (
                training_curves(f, metric=metric),
                f[f["split"].isin(["train", "val"])],
            ),
        )
        show_figure(fig, data, f"training_{metric}", key=f"curves_{tag}")
    diverged = figure(
        "diverged", lambda f, s, final: f.groupby("member")["diverged"].any().sum() if len(f) else 0
    )
    if diverged:
        st.warning(
            f"{int(diverged)} model(s) diverged (loss became NaN/inf); they are left out of the "
            "plots."
        )
    if not live:
        dead_units_warning(source)


if config is not None:
    experiment_panel(
        CRE_SWEEP,
        config,
        draw,
        key="tradeoff",
        placeholder="Accuracy and MSE per λ appear here, epoch by epoch, as the models train.",
    )
