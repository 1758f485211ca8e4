"""The PCN sidebar (bound to the URL), shared by the predictive-coding pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pcdash.data import DATASETS, describe
from pcdash.errors import PcdashError
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.pcn import ACTIVATIONS, ALGORITHMS, STATE_OPTIMIZERS
from pcdash.pcn.inference import STATE_INITS
from pcdash.pcn.network import ACTIVATION_NAMES
from pcdash.ui import state
from pcdash.ui.state import cost_summary, dataset_label

PCN_DATASETS = tuple(d for d in DATASETS if d != "cifar10")
PAGE_DEFAULT = PCNConfig(
    optimizers=("adamw", "sgd"), state_lrs=(0.003, 0.01, 0.03, 0.1, 0.3), seeds=2, epochs=5
)


def pcn_sidebar(
    default: PCNConfig = PAGE_DEFAULT,
    *,
    algorithms: tuple[str, ...] = ALGORITHMS,
    paper_lrs: Callable[[str], tuple[float, str]] | None = None,
) -> PCNConfig | None:
    """The shared PCN controls; a valid config, or None after showing what is wrong.

    ``paper_lrs(dataset) -> (rate, paper's dataset)``: offer a paper's weight learning rate for
    the chosen dataset (on by default) in place of the per-optimiser rates."""
    sb = st.sidebar
    sb.header("PCN sweep")
    v: dict[str, Any] = {}
    v["pdata"] = state.select(
        "Dataset", "pdata", PCN_DATASETS, default.dataset, format_func=dataset_label, container=sb
    )
    v["alg"] = state.select(
        "Algorithm",
        "alg",
        algorithms,
        default.algorithm,
        container=sb,
        help="PC with squared-error or cross-entropy output energy, or backprop on the same MLP",
    )
    v["state_lrs"] = state.text(
        "State learning rates γ",
        "state_lrs",
        ",".join(f"{g:g}" for g in default.state_lrs),
        help="comma-separated, each > 0; all γ train as one program",
        container=sb,
    )
    v["wopt"] = state.select(
        "Weight optimiser",
        "wopt",
        ("adamw,sgd", "adamw", "sgd"),
        ",".join(default.optimizers),
        container=sb,
        help="both: SGD and AdamW members side by side (Fig. 6c)",
    )
    v["widths"] = state.text(
        "Widths",
        "widths",
        ",".join(map(str, default.widths)),
        help="comma-separated; each width is its own compiled program",
        container=sb,
    )
    v["pseeds"] = state.size("Seeds", "pseeds", default.seeds, "seeds", container=sb)
    v["pepochs"] = state.size("Epochs", "pepochs", default.epochs, "epochs", container=sb)
    with sb.expander("Network and inference"):
        v["depth"] = state.size("Hidden layers", "depth", default.depth, "depth", container=st)
        v["act"] = state.select(
            "Activation",
            "act",
            tuple(ACTIVATIONS),
            default.activation,
            container=st,
            format_func=lambda a: ACTIVATION_NAMES.get(a, a),
        )
        v["T"] = state.size(
            "Inference steps T", "T", default.inference_steps, "steps", container=st
        )
        v["sopt"] = state.select(
            "State optimiser",
            "sopt",
            STATE_OPTIMIZERS,
            default.state_optimizer,
            container=st,
            help="SGD (with the momentum below) or Adam on the states h",
        )
        v["sinit"] = state.select(
            "State initialisation",
            "sinit",
            STATE_INITS,
            default.state_init,
            container=st,
            help="how the states start inference (PCX Fig. 6a): a forward pass, zero or N(0, I)",
        )
        v["smom"] = state.number(
            "State momentum",
            "smom",
            default.state_momentum,
            min_value=0.0,
            max_value=0.99,
            fmt_str="%.2g",
            step=0.1,
            container=st,
            help="momentum of the SGD state optimiser (PCX §5.1: none)",
        )
        lrs = _weight_lr_controls(default, v, paper_lrs)
        v["pbatch"] = state.size("Batch size", "pbatch", default.batch_size, "batch", container=st)
    state.sync_url(v)
    state.report_bad_url_values()
    try:
        config = PCNConfig(
            dataset=v["pdata"],
            algorithm=v["alg"],
            widths=parse_int_list(v["widths"], "widths"),
            depth=int(v["depth"]),
            activation=v["act"],
            state_lrs=parse_float_list(v["state_lrs"], "state learning rates γ"),
            optimizers=tuple(v["wopt"].split(",")),
            inference_steps=int(v["T"]),
            state_optimizer=v["sopt"],
            state_momentum=float(v["smom"]),
            state_init=v["sinit"],
            weight_lr=lrs["adamw"],
            weight_lrs=tuple(lrs.items()),
            batch_size=int(v["pbatch"]),
            epochs=int(v["pepochs"]),
            seeds=int(v["pseeds"]),
        ).validate()
    except PcdashError as err:
        state.error(err, sb)
        state.error(f"The sweep set in the sidebar cannot run: {err}")
        return None
    sb.caption(describe(config.dataset))
    sb.caption(cost_summary(config))
    return config


def _weight_lr_controls(
    default: PCNConfig, v: dict[str, Any], paper_lrs: Callable[[str], tuple[float, str]] | None
) -> dict[str, float]:
    """One weight learning rate per weight optimiser (``wlr``: AdamW, ``wlr_sgd``: SGD), or the
    paper's rate for the dataset when ``paper_lrs`` is given and its toggle is on."""
    if paper_lrs is not None:
        v["plr"] = state.toggle(
            "Paper's weight learning rates",
            "plr",
            True,
            container=st,
            help="PCX App. D.2: one rate per dataset for SGD and AdamW",
        )
        if v["plr"]:
            rate, source = paper_lrs(v["pdata"])
            where = "" if source == v["pdata"] else f", its value for {dataset_label(source)}"
            st.caption(f"AdamW and SGD: {rate:g} (PCX App. D.2{where})")
            return {"adamw": rate, "sgd": rate}
    v["wlr"] = state.number(
        "AdamW learning rate",
        "wlr",
        default.lr_for("adamw"),
        min_value=1e-6,
        max_value=1.0,
        fmt_str="%.4g",
        step=1e-4,
        container=st,
    )
    v["wlr_sgd"] = state.number(
        "SGD learning rate",
        "wlr_sgd",
        default.lr_for("sgd"),
        min_value=1e-6,
        max_value=1.0,
        fmt_str="%.4g",
        step=1e-4,
        container=st,
    )
    return {"adamw": float(v["wlr"]), "sgd": float(v["wlr_sgd"])}
