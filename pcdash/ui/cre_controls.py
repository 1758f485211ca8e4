"""The CRE sidebar (bound to the URL) and what the CRE pages say under their figures: which
figure of the paper a page shows, how its configuration differs, and dead latent units."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from pcdash.cre.models import ARCH_DESCRIPTIONS, ARCHS, FIXED_LATENT, INITS
from pcdash.data import DATASETS, DataError, dataset_available, describe, load_dataset
from pcdash.errors import PcdashError
from pcdash.experiments.cre_config import CREConfig
from pcdash.paper.cre_notes import differences, figure_line
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.results import final_rows
from pcdash.ui import state
from pcdash.ui.state import cost_summary, dataset_label

DEFAULT = CREConfig()


def cre_sidebar(*, grids: bool = True) -> CREConfig | None:
    """The shared CRE controls, bound to the URL. Returns a valid config, or None after
    showing what is wrong. ``grids=False``: the λ grid and dim(z) are left out (a page that sets
    its own, in view, replaces them)."""
    sb = st.sidebar
    sb.header("Sweep")
    values: dict[str, Any] = {}
    values["dataset"] = state.select(
        "Dataset",
        "dataset",
        DATASETS,
        DEFAULT.dataset,
        format_func=dataset_label,
        help="digits is bundled and works offline",
        container=sb,
    )
    values["arch"] = state.select(
        "Architecture",
        "arch",
        ARCHS,
        DEFAULT.arch,
        container=sb,
        help="cnn and vit are the authors' models; cnn-z and vit-z add a dense dim(z)",
    )
    sb.caption(ARCH_DESCRIPTIONS[values["arch"]])
    fixed = values["arch"] in FIXED_LATENT
    if grids and not fixed:
        values["dims"] = state.text(
            "Latent dims dim(z)",
            "dims",
            ",".join(map(str, DEFAULT.latent_dims)),
            help="comma-separated, e.g. 2,3,8",
            container=sb,
        )
    if grids:
        values["lams"] = state.text(
            "λ grid",
            "lams",
            ",".join(f"{v:g}" for v in DEFAULT.lambdas),
            help="comma-separated values in [0, 1]",
            container=sb,
        )
    values["seeds"] = state.size("Seeds", "seeds", DEFAULT.seeds, "seeds", container=sb)
    values["epochs"] = state.size("Epochs", "epochs", DEFAULT.epochs, "epochs", container=sb)
    with sb.expander("Optimisation"):
        values["lr"] = state.number(
            "Learning rate (Adam)",
            "lr",
            DEFAULT.lr,
            min_value=1e-5,
            max_value=1.0,
            fmt_str="%.4g",
            step=1e-4,
            container=st,
        )
        values["batch"] = state.size(
            "Batch size", "batch", DEFAULT.batch_size, "batch", container=st
        )
        values["init"] = state.select(
            "Initialisation",
            "init",
            INITS,
            DEFAULT.init,
            container=st,
            help="authors: as in the authors' code (PyTorch's default; Xavier for the ViT); "
            "active-latent: latent units start active and the classifier's output at zero (no dead "
            "ReLU latents)",
        )
        values["latent"] = state.select(
            "Latent activation",
            "latent",
            ("relu", "linear"),
            DEFAULT.latent_activation,
            help="ReLU as in the reference code; linear lets z go negative",
            container=st,
        )
    state.sync_url(values)
    state.report_bad_url_values()
    try:
        config = CREConfig(
            dataset=values["dataset"],
            arch=values["arch"],
            latent_dims=parse_int_list(values["dims"], "latent dims")
            if "dims" in values
            else DEFAULT.latent_dims,
            lambdas=parse_float_list(values["lams"], "λ grid")
            if "lams" in values
            else DEFAULT.lambdas,
            seeds=int(values["seeds"]),
            epochs=int(values["epochs"]),
            batch_size=int(values["batch"]),
            lr=float(values["lr"]),
            latent_activation=values["latent"],
            init=values["init"],
        ).validate()
    except PcdashError as err:
        state.error(err, sb)
        state.error(f"The sweep set in the sidebar cannot run: {err}")
        return None
    if fixed:
        sb.caption(
            f"dim(z) = {config.latent_dims[0]} on {config.dataset}: fixed by the architecture "
            f"(use {values['arch']}-z to choose it)"
        )
    sb.caption(describe(config.dataset))
    if grids:
        sb.caption(
            f"{config.n_members} models · one compiled program per dim(z) · {cost_summary(config)}"
        )
    return config


def _train_size(config: CREConfig) -> int | None:
    if not dataset_available(config.dataset):
        return None
    try:
        return len(load_dataset(config.dataset, val_fraction=config.val_fraction).x_train)
    except (PcdashError, DataError):
        return None


def paper_note(page: str, config: CREConfig) -> None:
    """Which figure of the paper the page shows and how this configuration differs from the
    paper's setting (text from :mod:`pcdash.paper.cre_notes`)."""
    diffs = differences(page, config, _train_size(config))
    text = figure_line(page)
    if diffs:
        text += "  \nDiffers from the paper: " + "; ".join(diffs) + "."
    st.caption(text)


def dead_units_warning(frame: pd.DataFrame) -> None:
    """A warning naming the CRE models whose latent has units that are zero for every test
    example (a dead ReLU unit gets no gradient and stays dead)."""
    if "dead_latent_units" not in frame or "model" not in frame:
        return
    rows = final_rows(frame[frame["model"] == "cre"], "test").dropna(subset=["dead_latent_units"])
    dead = rows[rows["dead_latent_units"] > 0]
    if dead.empty:
        return
    names = ", ".join(
        f"λ = {r.lam:g} seed {int(r.seed)} ({int(r.dead_latent_units)} of {int(r.latent_dim)})"
        for r in dead.itertuples()
    )
    st.warning(
        f"{len(dead)} of {len(rows)} models have dead latent units, zero for every test image: "
        f"{names}. Such a model uses fewer latent dimensions than dim(z); see `dead_latent_units` "
        "in the data."
    )


def replace_config(config: CREConfig, **changes) -> CREConfig:
    return replace(config, **changes).validate()
