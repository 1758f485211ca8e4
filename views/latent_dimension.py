"""Latent dimension: accuracy and MSE against dim(z) for a few λ, with PCA and random
projection at the same dimension, and 95% intervals over seeds (the paper's Fig. 4)."""

import streamlit as st

from pcdash.cre.models import FIXED_LATENT
from pcdash.errors import PcdashError
from pcdash.experiments.cre_sweep import CRE_SWEEP
from pcdash.figures.cre import latent_dim_curves
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.results import final_rows
from pcdash.ui import state
from pcdash.ui.cre_controls import cre_sidebar, paper_note, replace_config
from pcdash.ui.export import show_figure
from pcdash.ui.page_runs import LATENT_DIM_PAGE_DIMS, LATENT_DIM_PAGE_LAMBDAS
from pcdash.ui.panel import experiment_panel

st.title("Latent dimension")
st.caption(
    "In the paper, growing dim(z) narrows the gap between λ values: the two tasks compete for room "
    "in z."
)
base = cre_sidebar(grids=False)  # this page sets its own λ values and dim(z) grid, below

if base is not None and base.arch in FIXED_LATENT:
    st.info(
        f"{base.arch} has no dim(z) to vary: its latent is fixed by the architecture "
        f"({base.latent_dims[0]} "
        f"numbers on {base.dataset}). Pick {base.arch}-z, the same kind of model with a dense "
        "dim(z), or an "
        "FC variant as in the paper's figure."
    )
elif base is not None:
    st.caption(
        "This page sets its own λ values and dim(z) values (the sidebar's λ grid and dim(z) do not "
        "apply "
        "here); seeds, epochs and the rest come from the sidebar."
    )
    c1, c2, c3 = st.columns([2, 2, 1])
    dims_text = state.text(
        "dim(z) values",
        "ld_dims",
        ",".join(map(str, LATENT_DIM_PAGE_DIMS)),
        container=c1,
        help="comma-separated, each ≥ 1",
    )
    lams_text = state.text(
        "λ values",
        "ld_lams",
        ",".join(f"{lam:g}" for lam in LATENT_DIM_PAGE_LAMBDAS),
        container=c2,
        help="comma-separated, in [0, 1]",
    )
    with_baselines = state.toggle("PCA and RP", "ld_base", True, container=c3)
    state.sync_url({"ld_dims": dims_text, "ld_lams": lams_text, "ld_base": with_baselines})
    try:
        config = replace_config(
            base,
            latent_dims=parse_int_list(dims_text, "dim(z) values"),
            lambdas=parse_float_list(lams_text, "λ values"),
            baselines=("pca", "rp") if with_baselines else (),
        )
    except PcdashError as err:
        state.error(err)
        config = None
    if config is not None:
        paper_note("latent_dimension", config)
        st.caption(
            f"{config.n_members} CRE models"
            + (
                f" + {2 * len(config.latent_dims) * config.seeds} baseline models"
                if with_baselines
                else ""
            )
        )

        def draw(result, live):
            frame = result.frame
            show_figure(
                latent_dim_curves(frame),
                final_rows(frame, "test"),
                "latent_dimension",
                key=f"ld_{'live' if live else 'done'}",
            )

        experiment_panel(
            CRE_SWEEP,
            config,
            draw,
            key="ld",
            placeholder="Accuracy and MSE against dim(z) per λ appear here, epoch by epoch, as the "
            "models train.",
        )
