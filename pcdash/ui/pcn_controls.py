"""The PCN sidebar (bound to the URL) and PCN jobs, shared by the predictive-coding pages."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pcdash.data import DATASETS, describe
from pcdash.errors import PcdashError
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.pcn import (
    ACTIVATIONS,
    ALGORITHMS,
    STATE_OPTIMIZERS,
    PCNConfig,
    load_pcn_output,
    run_pcn_sweep,
    save_pcn_output,
)
from pcdash.pcn.saving import load_comparison, save_comparison
from pcdash.ui import state
from pcdash.ui.jobs import Job
from pcdash.ui.widgets import cost_summary, dataset_label, job_manager, saved_job

PCN_DATASETS = tuple(d for d in DATASETS if d != "cifar10")
PAGE_DEFAULT = PCNConfig(optimizers=("adamw", "sgd"), state_lrs=(0.003, 0.01, 0.03, 0.1, 0.3), seeds=2, epochs=5)


def pcn_sidebar(default: PCNConfig = PAGE_DEFAULT, *, algorithms: tuple[str, ...] = ALGORITHMS) -> PCNConfig | None:
    """The shared PCN controls; a valid config, or None after showing what is wrong."""
    sb = st.sidebar
    sb.header("PCN sweep")
    v: dict[str, Any] = {}
    v["pdata"] = state.select("Dataset", "pdata", PCN_DATASETS, default.dataset, format_func=dataset_label, container=sb)
    v["alg"] = state.select("Algorithm", "alg", algorithms, default.algorithm, container=sb,
                            help="PC with squared-error or cross-entropy output energy, or backprop on the same MLP")
    v["gammas"] = state.text("State learning rates γ", "gammas", ",".join(f"{g:g}" for g in default.state_lrs),
                             help="comma-separated, each > 0; all γ train as one program", container=sb)
    v["wopt"] = state.select("Weight optimiser", "wopt", ("adamw,sgd", "adamw", "sgd"), ",".join(default.optimizers),
                             container=sb, help="both: SGD and AdamW members side by side (Fig. 6c)")
    v["widths"] = state.text("Widths", "widths", ",".join(map(str, default.widths)),
                             help="comma-separated; each width is its own compiled program", container=sb)
    v["pseeds"] = state.number("Seeds", "pseeds", default.seeds, min_value=1, max_value=10, container=sb)
    v["pepochs"] = state.number("Epochs", "pepochs", default.epochs, min_value=1, max_value=200, container=sb)
    with sb.expander("Network and inference"):
        v["depth"] = state.number("Hidden layers", "depth", default.depth, min_value=1, max_value=8, container=st)
        v["act"] = state.select("Activation", "act", tuple(ACTIVATIONS), default.activation, container=st)
        v["T"] = state.number("Inference steps T", "T", default.inference_steps, min_value=1, max_value=200, container=st)
        v["sopt"] = state.select("State optimiser", "sopt", STATE_OPTIMIZERS, default.state_optimizer, container=st,
                                 help="SGD with momentum 0.9 (default) or Adam on the states h")
        v["wlr"] = state.number("Weight learning rate", "wlr", default.weight_lr, min_value=1e-6, max_value=1.0,
                                fmt_str="%.4g", step=1e-4, container=st)
        v["pbatch"] = state.number("Batch size", "pbatch", default.batch_size, min_value=1, max_value=4096, container=st)
    state.sync_url(v)
    state.report_bad_url_values()
    try:
        config = PCNConfig(
            dataset=v["pdata"], algorithm=v["alg"], widths=parse_int_list(v["widths"], "widths"),
            depth=int(v["depth"]), activation=v["act"], state_lrs=parse_float_list(v["gammas"], "state learning rates γ"),
            optimizers=tuple(v["wopt"].split(",")), inference_steps=int(v["T"]), state_optimizer=v["sopt"],
            weight_lr=float(v["wlr"]), batch_size=int(v["pbatch"]), epochs=int(v["pepochs"]), seeds=int(v["pseeds"]),
        ).validate()
    except PcdashError as err:
        state.error(err, sb)
        state.error(f"The sweep set in the sidebar cannot run: {err}")
        return None
    sb.caption(describe(config.dataset))
    sb.caption(cost_summary(config))
    return config


def pcn_result(config: PCNConfig) -> Job | None:
    return saved_job(config.key(), "PCN sweep", lambda: load_pcn_output(config))


def start_pcn_job(config: PCNConfig, *, restart: bool = False) -> Job:
    def runner(on_progress, should_stop):
        return run_pcn_sweep(config, on_progress=on_progress, should_stop=should_stop)

    return job_manager().submit(config.key(), f"PCN sweep · {config.dataset} · {config.algorithm}", runner,
                                on_done=save_pcn_output, restart=restart)


def comparison_key(variants) -> str:
    """A stable job key for a list of ``(name, PCNConfig)``."""
    import hashlib

    blob = "|".join(f"{name}:{config.key()}" for name, config in variants)
    return "cmp-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def comparison_result(variants) -> Job | None:
    key = comparison_key(variants)
    return saved_job(key, "PC comparison", lambda: load_comparison(key, variants))


def start_comparison_job(variants, label: str, *, restart: bool = False) -> Job:
    """Train every ``(name, PCNConfig)`` as the groups of one sweep, in the background."""
    from pcdash.pcn.compare import run_pcn_comparison

    def runner(on_progress, should_stop):
        return run_pcn_comparison(variants, on_progress=on_progress, should_stop=should_stop)

    key = comparison_key(variants)
    return job_manager().submit(key, label, runner, on_done=lambda out: save_comparison(key, variants, out),
                                restart=restart)
