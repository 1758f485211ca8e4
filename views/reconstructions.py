"""Reconstructions: one input per class and its reconstruction by the model of each λ."""

import streamlit as st

from pcdash.experiments.cre_sweep import CRE_SWEEP
from pcdash.figures.latent import reconstruction_grid
from pcdash.ui import state
from pcdash.ui.cre_controls import cre_sidebar, dead_units_warning, paper_note
from pcdash.ui.export import show_figure
from pcdash.ui.panel import experiment_panel

st.title("Reconstructions")
st.caption(
    "In the paper, λ = 0 decodes class prototypes and as λ grows the reconstructions keep more of "
    "each input's "
    "detail."
)
config = cre_sidebar()

if config is not None:
    paper_note("reconstructions", config)
    c1, c2, c3 = st.columns(3)
    seed = state.select("Seed", "seed", tuple(range(config.seeds)), 0, container=c1)
    dim = state.select(
        "dim(z)", "dim", tuple(config.latent_dims), config.latent_dims[0], container=c2
    )
    per_class = state.number(
        "Examples per class", "per_class", 1, min_value=1, max_value=5, container=c3
    )
    state.sync_url({"seed": seed, "dim": dim, "per_class": per_class})

    def draw(result, live):
        snap = result.snapshot
        members = result.members
        if snap.x.ndim != 4:
            st.info(
                "Reconstructions are images: pick an image dataset (digits, MNIST, FashionMNIST, "
                "CIFAR-10)."
            )
            return
        if not snap.x_hat:
            st.info("Reconstructions appear after the first epoch.")
            return
        fig = reconstruction_grid(
            snap,
            members[members["model"] == "cre"],
            seed=seed,
            per_class=int(per_class),
            latent_dim=dim,
        )
        show_figure(fig, None, "reconstructions", key=f"recon_{'live' if live else 'done'}")
        if not live:
            dead_units_warning(result.frame)

    experiment_panel(CRE_SWEEP, config, draw, key="recon")
