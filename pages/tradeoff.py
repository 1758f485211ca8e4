"""Trade-off: accuracy and MSE against λ (box plots over seeds, mean curves with 95% bands),
the Pareto view and per-member training curves."""

import streamlit as st

from pcdash.figures.cre import pareto, tradeoff_boxes, tradeoff_means, training_curves
from pcdash.results import final_rows, select_by_validation
from pcdash.ui import state
from pcdash.ui.widgets import cre_result, cre_sidebar, job_panel, show_figure, start_cre_job

st.title("Classification–reconstruction trade-off")
st.caption("Classification (blue) is best at λ = 0, reconstruction (orange) at λ = 1; nothing in between wins both.")
config = cre_sidebar()
split = state.select("Evaluate on", "split", ("test", "val"), "test", container=st.sidebar)
epoch_rule = state.select("Epoch per model", "pick", ("last", "best on validation"), "last", container=st.sidebar,
                          help="'best on validation' picks each model's epoch by validation loss; test never picks")
state.sync_url({"split": split, "pick": epoch_rule})


def draw(result, live):
    frame = result.frame
    frame = frame[frame["model"] == "cre"] if "model" in frame else frame
    shown = frame
    if epoch_rule == "best on validation" and not live:
        shown = select_by_validation(frame, "loss", split=split)
    tag = "live" if live else "done"
    left, right = st.columns(2)
    with left:
        show_figure(tradeoff_boxes(shown, split=split), final_rows(shown, split), "tradeoff_boxes", key=f"boxes_{tag}")
    with right:
        show_figure(tradeoff_means(shown, split=split), final_rows(shown, split), "tradeoff_means", key=f"means_{tag}")
    left, right = st.columns(2)
    with left:
        show_figure(pareto(shown, split=split), final_rows(shown, split), "pareto", key=f"pareto_{tag}")
    with right:
        metric = st.radio("Training curves of", ("accuracy", "mse", "ce"), horizontal=True, key=f"curve_metric_{tag}")
        curves = frame[frame["split"].isin(["train", "val"])]
        show_figure(training_curves(frame, metric=metric), curves, f"training_{metric}", key=f"curves_{tag}")
    diverged = frame.groupby("member")["diverged"].any().sum() if len(frame) else 0
    if diverged:
        st.warning(f"{int(diverged)} model(s) diverged (loss became NaN/inf); they are left out of the plots.")


if config is not None:
    job_panel(cre_result(config), start=lambda restart: start_cre_job(config, restart=restart), body=draw, key="tradeoff")
