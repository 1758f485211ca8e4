"""Reconstructions: one input per class and its reconstruction by the model of each λ."""

import streamlit as st

from pcdash.figures.latent import reconstruction_grid
from pcdash.ui import state
from pcdash.ui.widgets import (
    cre_result,
    cre_sidebar,
    dead_units_warning,
    job_panel,
    paper_note,
    show_figure,
    start_cre_job,
)

st.title("Reconstructions")
st.caption("In the paper, λ = 0 decodes class prototypes and as λ grows the reconstructions keep more of each input's "
           "detail.")
config = cre_sidebar()

if config is not None:
    paper_note("reconstructions", config)
    c1, c2, c3 = st.columns(3)
    seed = state.select("Seed", "seed", tuple(range(config.seeds)), 0, container=c1)
    dim = state.select("dim(z)", "dim", tuple(config.latent_dims), config.latent_dims[0], container=c2)
    per_class = state.number("Examples per class", "per_class", 1, min_value=1, max_value=5, container=c3)
    state.sync_url({"seed": seed, "dim": dim, "per_class": per_class})

    def draw(result, live):
        snap = result.extras["snapshot"] if live else result.snapshot
        members = result.extras["members"] if live else result.members
        if snap.x.ndim != 4:
            st.info("Reconstructions are images: pick an image dataset (digits, MNIST, FashionMNIST, CIFAR-10).")
            return
        if not snap.x_hat:
            st.info("Reconstructions appear after the first epoch.")
            return
        fig = reconstruction_grid(snap, members[members["model"] == "cre"], seed=seed, per_class=int(per_class), latent_dim=dim)
        show_figure(fig, None, "reconstructions", key=f"recon_{'live' if live else 'done'}")
        if not live:
            dead_units_warning(result.frame)

    job_panel(cre_result(config), start=lambda restart: start_cre_job(config, restart=restart), body=draw, key="recon")
