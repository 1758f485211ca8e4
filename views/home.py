"""Home: what pcdash is for, and a guided first sweep on the chosen dataset."""

import streamlit as st

from pcdash.experiments.cre_sweep import CRE_SWEEP
from pcdash.figures.cre import tradeoff_means
from pcdash.ui.cre_controls import cre_sidebar, dead_units_warning, paper_note
from pcdash.ui.export import memo, show_figure
from pcdash.ui.panel import experiment_panel

st.title("pcdash")
st.markdown(
    """
**Can one representation serve both classification and reconstruction?** Predictive-coding
networks assume that recognising an input and predicting it back help each other in shared layers.
A *Classification-Reconstruction Encoder* (CRE) tests this directly: an encoder maps an image to a
small latent code `z`, a decoder reconstructs the image from `z` and a classifier reads the label
from `z`. The encoder is trained on **λ·MSE + (1−λ)·CE** while the decoder and the classifier always
learn their own task, so λ = 0 makes `z` purely classification-driven and λ = 1 purely
reconstruction-driven (Rathjens & Wiskott). Sweep λ and watch accuracy fall as reconstruction
improves: the two processes compete for the latent space rather than helping each other.

**How do predictive coding networks actually learn?** A PCN settles its hidden states by
descending an energy, layer by layer, before any weight changes. The *Predictive coding* pages
train PCNs live and show per-layer energies during inference, how the state learning rate and the
optimiser shape learning, and how PC variants compare with backprop (Pinchetti et al., PCX).
"""
)

config = cre_sidebar()
st.subheader("Your first sweep")
st.markdown(
    "1. Pick a dataset in the sidebar (`digits` is bundled and needs no download).  \n"
    "2. Press **Train**: every λ × seed model trains together as one compiled program.  \n"
    "3. Watch the curves fill in, then explore **Trade-off**, **Latent space**, "
    "**Reconstructions** "
    "and **Latent dimension** in the menu."
)
if config is not None:
    paper_note("tradeoff", config)

    def draw(result, live):
        tag = "live" if live else "done"
        fig = memo(
            ("home_means", tag), result.frame, lambda: tradeoff_means(result.frame)
        )  # rebuilt when epochs finish
        show_figure(fig, None, "tradeoff_means", key=f"home_means_{tag}")
        if not live:
            dead_units_warning(result.frame)

    experiment_panel(
        CRE_SWEEP,
        config,
        draw,
        key="home",
        placeholder="Mean accuracy and MSE per λ appear here, epoch by epoch, as the models train.",
    )
