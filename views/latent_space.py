"""Latent space: 3-D scatter of z per λ (small multiples, one λ, or an animation over λ), and a
linked 2-D view whose selected points show their inputs beside their reconstructions."""

import numpy as np
import streamlit as st

from pcdash.experiments.cre_sweep import CRE_SWEEP
from pcdash.figures.latent import (
    CAMERAS,
    image_grid,
    latent_2d,
    latent_animation,
    latent_scatter_3d,
    latent_small_multiples,
)
from pcdash.ui import state
from pcdash.ui.cre_controls import cre_sidebar, dead_units_warning, paper_note
from pcdash.ui.export import show_figure
from pcdash.ui.panel import experiment_panel

st.title("Latent space")
st.caption(
    "In the paper, λ = 0 gives classes as rays from a centre (classification-driven) and λ = 1 "
    "overlapping "
    "clouds (reconstruction-driven)."
)
config = cre_sidebar()

if config is not None:
    paper_note("latent", config)
    c1, c2, c3, c4 = st.columns(4)
    view = state.select(
        "View",
        "view",
        ("small multiples", "one λ", "animation over λ"),
        "small multiples",
        container=c1,
    )
    seed = state.select("Seed", "seed", tuple(range(config.seeds)), 0, container=c2)
    dim = state.select(
        "dim(z)", "dim", tuple(config.latent_dims), config.latent_dims[0], container=c3
    )
    camera = state.select("Camera", "camera", tuple(CAMERAS), "iso", container=c4)
    lam = state.select("λ", "lam", tuple(config.lambdas), config.lambdas[0], container=st)
    state.sync_url({"view": view, "seed": seed, "dim": dim, "camera": camera, "lam": lam})

    def draw(result, live):
        snap = result.snapshot
        members = result.members
        members = members[(members["model"] == "cre") & (members["latent_dim"] == dim)]
        if not snap.z:
            st.info("Latent codes appear after the first epoch.")
            return
        names = getattr(result, "class_names", None) or tuple(
            str(c) for c in range(int(snap.y.max()) + 1)
        )
        tag = "live" if live else "done"
        if not live:
            dead_units_warning(result.frame)
        if dim > 3:
            st.caption(f"dim(z) = {dim}: shown through its first three principal components.")
        if view == "small multiples":
            fig = latent_small_multiples(
                snap, members, seed=seed, latent_dim=dim, class_names=names
            )
            show_figure(fig, None, "latent_small_multiples", key=f"lsm_{tag}")
        elif view == "animation over λ":
            fig = latent_animation(snap, members, seed=seed, latent_dim=dim, class_names=names)
            show_figure(fig, None, "latent_animation", key=f"lanim_{tag}")
        chosen = members[(members["seed"] == seed) & np.isclose(members["lam"], lam)]
        if chosen.empty or int(chosen["member"].iloc[0]) not in snap.z:
            st.info("This model has no latent codes yet (still training, or diverged).")
            return
        m = int(chosen["member"].iloc[0])
        z, x_hat = snap.z[m], snap.x_hat[m]
        if view == "one λ":
            fig = latent_scatter_3d(
                z, snap.y, names, title=f"λ = {lam:g}, seed {seed}", camera=camera
            )
            show_figure(fig, None, "latent_3d", key=f"l3d_{tag}")
        st.subheader(f"Select points (λ = {lam:g}) to see their inputs and reconstructions")
        left, right = st.columns([3, 2])
        with left:
            event = show_figure(
                latent_2d(z, snap.y, names, np.arange(len(snap.y))),
                None,
                "latent_2d",
                key=f"l2d_{tag}",
                on_select="rerun" if not live else "ignore",
                selection_mode=("lasso", "box", "points"),
            )
        with right:
            points = []
            if event is not None and not live:
                points = [
                    int(
                        p["customdata"][0]
                        if isinstance(p.get("customdata"), list)
                        else p.get("customdata", p["point_index"])
                    )
                    for p in event.selection.get("points", [])
                ]
            if not points:
                st.info("Draw a lasso or box around points in the 2-D view.")
            else:
                points = points[:12]
                images = np.stack([snap.x[points], x_hat[points]], axis=1)
                labels = [f"#{i} ({names[int(snap.y[i])]})" for i in points]
                st.plotly_chart(
                    image_grid(images, row_labels=labels, col_labels=["input", "reconstruction"]),
                    key=f"lsel_{tag}",
                )
                if len(event.selection.get("points", [])) > 12:
                    st.caption("Showing the first 12 selected points.")

    experiment_panel(CRE_SWEEP, config, draw, key="latent")
