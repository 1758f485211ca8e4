"""What each paper figure trains: one :class:`~pcdash.paper.catalogue.Experiment` per page run,
its quick setting (the page's default: what ``reproduce --quick`` trains and ``assets/`` ships),
its paper setting (as far as pcdash can run it), and the URL query that makes its page train
exactly that configuration. Several figures share one experiment (Fig. 2 and 3 of the CRE paper
come from one sweep)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from pcdash.paper import runners
from pcdash.paper.catalogue import Experiment, fmt

IMAGE_DOWNLOADS = ("mnist", "fashion_mnist")


# --------------------------------------------------------------------------- CRE


def _cre(dataset: str, quick: bool):
    if quick:
        return runners.cre_config(dataset=dataset)
    return runners.cre_config(dataset=dataset, seeds=10, paper_training=True)


def _cre_latent_dim(dataset: str, quick: bool):
    return replace(
        _cre(dataset, quick),
        latent_dims=(1, 2, 3, 4, 8, 16),
        lambdas=(0.0, 0.5, 0.9, 1.0),
        baselines=("pca", "rp"),
    )


def cre_query(config) -> dict[str, str]:
    """The CRE sidebar's URL values (pcdash.ui.cre_controls.cre_sidebar) for ``config``."""
    query = {
        "dataset": config.dataset,
        "arch": config.arch,
        "dims": fmt(config.latent_dims),
        "lams": fmt(config.lambdas),
        "seeds": fmt(config.seeds),
        "epochs": fmt(config.epochs),
        "lr": fmt(config.lr),
        "batch": fmt(config.batch_size),
        "latent": config.latent_activation,
    }
    if hasattr(config, "init"):
        query["init"] = config.init
    return query


def _latent_dim_query(config) -> dict[str, str]:
    base = {k: v for k, v in cre_query(config).items() if k not in ("dims", "lams")}
    return {
        **base,
        "ld_dims": fmt(config.latent_dims),
        "ld_lams": fmt(config.lambdas),
        "ld_base": fmt(bool(config.baselines)),
    }


def _round_snapshot(out):
    """A CRE result whose latent codes and reconstructions are rounded to float16 precision (kept
    as float32: they compress to about half, and nothing drawn or checked changes visibly)."""
    snap = out.snapshot
    rounded = replace(
        snap,
        z={m: _f16(v) for m, v in snap.z.items()},
        x_hat={m: _f16(v) for m, v in snap.x_hat.items()},
    )
    return replace(out, snapshot=rounded)


def _without_snapshot(out):
    """A CRE result without per-member latents (the Latent dimension page draws only the frame)."""
    return replace(out, snapshot=replace(out.snapshot, z={}, x_hat={}, pred={}, epoch={}))


def _f16(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float16).astype(np.float32)


CRE = Experiment(
    "cre",
    "cre",
    _cre,
    "tradeoff",
    cre_query,
    ("digits",),
    (*IMAGE_DOWNLOADS, "cifar10"),
    slim=_round_snapshot,
)
CRE_LATENT_DIM = Experiment(
    "cre-latent-dim",
    "cre",
    _cre_latent_dim,
    "latent_dim",
    _latent_dim_query,
    ("digits",),
    IMAGE_DOWNLOADS,
    slim=_without_snapshot,
)


# --------------------------------------------------------------------------- PCX energy and
# stability


def _energy(dataset: str, quick: bool):
    config = runners.energy_config(dataset)
    return (
        config
        if quick
        else replace(config, widths=(1024,), state_lrs=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0))
    )


def _stability(dataset: str, quick: bool):
    config = runners.stability_config(dataset)
    return config if quick else replace(config, widths=(32, 64, 128, 256, 512, 1024, 2048))


def pcn_query(config) -> dict[str, str]:
    """The PCN sidebar's URL values (pcdash.ui.pcn_controls.pcn_sidebar with the paper's weight
    learning rates, as on the Energy dynamics page) for ``config``."""
    return {
        "pdata": config.dataset,
        "alg": config.algorithm,
        "state_lrs": fmt(config.state_lrs),
        "wopt": ",".join(config.optimizers),
        "widths": fmt(config.widths),
        "pseeds": fmt(config.seeds),
        "pepochs": fmt(config.epochs),
        "depth": fmt(config.depth),
        "act": config.activation,
        "T": fmt(config.inference_steps),
        "sopt": config.state_optimizer,
        "smom": fmt(config.state_momentum),
        "plr": "True",
        "pbatch": fmt(config.batch_size),
    }


def _stability_query(config) -> dict[str, str]:
    sidebar = runners.energy_config(
        config.dataset
    )  # the stability run is the sidebar's with other widths
    return {**pcn_query(sidebar), "s_widths": fmt(config.widths), "s_act": config.activation}


def _mlp_f16(mlp):
    from pcdash.pcn.network import MLP

    return MLP(
        tuple(_f16(w) for w in mlp.weights), tuple(_f16(b) for b in mlp.biases), mlp.activation
    )


def _rounded_weights(out):
    """A PCN sweep whose trained weights are rounded to float16 precision (kept as float32: they
    compress to about half; the energies the page recomputes from them change in the fourth
    digit)."""
    return replace(out, runs=[replace(r, mlp=_mlp_f16(r.mlp)) for r in out.runs])


def _rounded_comparison(out):
    """A comparison whose trained weights are rounded to float16 precision (see
    :func:`_rounded_weights`)."""
    return replace(out, runs={n: replace(r, mlp=_mlp_f16(r.mlp)) for n, r in out.runs.items()})


def _no_weights(out):
    """A PCN sweep without its trained weights (the stability panel draws only the frame)."""
    return replace(out, runs=[])


ENERGY = Experiment(
    "pcx-energy",
    "pcn",
    _energy,
    "energy",
    pcn_query,
    ("digits", "moons", "circles"),
    ("fashion_mnist", "mnist"),
    slim=_rounded_weights,
)
STABILITY = Experiment(
    "pcx-stability",
    "pcn",
    _stability,
    "energy",
    _stability_query,
    ("digits", "moons"),
    ("fashion_mnist",),
    slim=_no_weights,
)

# Fig. 6(a): state initialisation × T, on the Energy page's setting (its sidebar) with one weight
# optimiser, a few γ (the figure reports each cell's highest accuracy) and these T.
INIT_KINDS = ("forward", "zero", "gaussian")
INIT_STEPS = (2, 8, 32)
INIT_STATE_LRS = (0.03, 0.1, 0.3)
INIT_OPTIMIZER = "adamw"


def init_variants(
    base, inits=INIT_KINDS, steps=INIT_STEPS, state_lrs=INIT_STATE_LRS, optimizer=INIT_OPTIMIZER
):
    """``(name, PCNConfig)`` for every state initialisation × T: ``base`` (the Energy page's
    sidebar setting) with one weight optimiser and the γ grid ``state_lrs``."""
    from pcdash.errors import ConfigError

    if not inits or not steps:
        raise ConfigError("give at least one state initialisation and one T")
    shared = replace(base, optimizers=(optimizer,), state_lrs=tuple(state_lrs))
    return tuple(
        (f"{init} · T={t}", replace(shared, state_init=init, inference_steps=int(t)).validate())
        for init in inits
        for t in steps
    )


def _init(dataset: str, quick: bool):
    base = runners.energy_config(dataset)
    return init_variants(base) if quick else init_variants(base, steps=(2, 4, 8, 16, 32, 64))


def _init_query(variants) -> dict[str, str]:
    first = variants[0][1]
    inits = tuple(dict.fromkeys(c.state_init for _, c in variants))
    steps = tuple(dict.fromkeys(c.inference_steps for _, c in variants))
    return {
        **pcn_query(runners.energy_config(first.dataset)),
        "i_inits": ",".join(inits),
        "i_T": fmt(steps),
        "i_state_lrs": fmt(first.state_lrs),
        "i_opt": first.optimizers[0],
    }


def _no_runs(out):
    """A comparison without its trained weights (pages that draw only the frame)."""
    return replace(out, runs={})


INIT = Experiment(
    "pcx-init",
    "comparison",
    _init,
    "energy",
    _init_query,
    ("digits", "moons"),
    ("fashion_mnist",),
    slim=_no_runs,
)


# --------------------------------------------------------------------------- PCX Table 1


def _table1(dataset: str, quick: bool):
    TABLE1_DEFAULT, ALGORITHMS = runners.table1_default()  # noqa: N806
    base = replace(TABLE1_DEFAULT, dataset=dataset)
    if not quick:
        base = replace(base, epochs=25, batch_size=128)
    return tuple((a, replace(base, algorithm=a).validate()) for a in ALGORITHMS)


def _table1_query(variants) -> dict[str, str]:
    c = variants[0][1]
    return {
        "adata": c.dataset,
        "algs": ",".join(n for n, _ in variants),
        "awidth": fmt(c.widths[0]),
        "adepth": fmt(c.depth),
        "aseeds": fmt(c.seeds),
        "aepochs": fmt(c.epochs),
        "astate_lr": fmt(c.state_lrs[0]),
        "aT": fmt(c.inference_steps),
        "awlr": fmt(c.weight_lr),
        "abeta0": fmt(c.beta0),
        "abetar": fmt(c.beta_rate),
        "acn": c.cn_schedule,
        "abatch": fmt(c.batch_size),
    }


TABLE1 = Experiment(
    "pcx-table1",
    "comparison",
    _table1,
    "algorithms",
    _table1_query,
    ("digits",),
    IMAGE_DOWNLOADS,
    slim=_no_runs,
)


# --------------------------------------------------------------------------- BP-vs-PC comparison

# The PC vs BP page's controls and the ComparisonSetting field each sets (views/pc_vs_bp.py).
COMPARISON_FIELDS = {
    "cdata": "dataset",
    "conds": "conditions",
    "cwidth": "width",
    "cdepth": "depth",
    "cT": "inference_steps",
    "ctol": "inference_tol",
    "ck": "relaxed_every",
    "cprec": "precision",
    "cwd": "weight_decay",
    "cwlr": "weight_lr",
    "crlr": "relaxed_lr",
    "cstate_lr": "state_lr",
    "cepochs": "epochs",
    "cseeds": "seeds",
    "cbatch": "batch_size",
}


def comparison_setting(dataset: str, quick: bool, **changes):
    quick_setting, paper_setting, _ = runners.comparison_settings()
    base = quick_setting if quick else paper_setting
    return replace(base, dataset=dataset, **changes)


def setting_query(setting) -> dict[str, str]:
    """The PC vs BP page's URL values for a
    :class:`~pcdash.experiments.conditions.ComparisonSetting`."""
    return {name: fmt(getattr(setting, field)) for name, field in COMPARISON_FIELDS.items()}


class _Variants(tuple):
    """A comparison's ``(name, PCNConfig)`` variants that remember the page setting they come
    from (for the page's URL)."""

    setting: Any = None


def _with_setting(variants, setting) -> _Variants:
    out = _Variants(variants)
    out.setting = setting
    return out


def _conditions(dataset: str, quick: bool):
    setting = comparison_setting(dataset, quick)
    return _with_setting(setting.variants(), setting)


def _setting_query(variants) -> dict[str, str]:
    return setting_query(variants.setting)


def _learning_rate(dataset: str, quick: bool):
    """The comparison paper's §2.1: pc_rc23 trained at the rate that trains standard PC (1e-3) and
    at the paper's 1e-5, beside standard PC and pc_rc2 (without the alignment diagnostic). (The
    page trains one rate for the relaxed models at a time: its link opens it at 1e-5.)"""
    condition_config = runners.comparison_settings()[2]
    setting = comparison_setting(dataset, quick)
    plain = dict(setting.variants(track_alignment=False))
    pc, rc2 = (
        plain[f"pc_{setting.width}_{setting.depth}"],
        plain[f"pc_{setting.width}_{setting.depth}_rc2"],
    )
    base = replace(pc, precision="none")
    rc23 = {
        lr: condition_config("pc_rc23", base, relaxed_every=setting.relaxed_every, relaxed_lr=lr)
        for lr in (1e-3, 1e-5)
    }
    variants = (("pc", pc), ("rc2", rc2), ("rc23_lr1e-3", rc23[1e-3]), ("rc23_lr1e-5", rc23[1e-5]))
    return _with_setting(
        variants, replace(setting, conditions=("pc", "pc_rc2", "pc_rc23"), relaxed_lr=1e-5)
    )


CONDITIONS = Experiment(
    "comparison-conditions",
    "comparison",
    _conditions,
    "pc_vs_bp",
    _setting_query,
    ("digits",),
    ("fashion_mnist", "mnist"),
    slim=_rounded_comparison,
)
LEARNING_RATE = Experiment(
    "comparison-lr",
    "comparison",
    _learning_rate,
    "pc_vs_bp",
    _setting_query,
    ("digits",),
    ("fashion_mnist", "mnist"),
    slim=_no_runs,
    link_note="The PC vs BP page trains one learning rate for the relaxed models at a time: "
    "the link opens it with pc_rc23 at the paper's 1e-5 beside standard PC and "
    "pc_rc2, not precomputed (press Train there); the run at 1e-3 is on this "
    "page only.",
)


# --------------------------------------------------------------------------- PCX generative


def _autoencoder(dataset: str, quick: bool):
    config = runners.part_config("autoencoder", dataset)
    return (
        config
        if quick
        else replace(config, latent=64, hidden=128, depth=2, epochs=30, batch_size=200)
    )


def _ae_query(c) -> dict[str, str]:
    return {
        "g_ae_data": c.dataset,
        "g_ae_latent": fmt(c.latent),
        "g_ae_hidden": fmt(c.hidden),
        "g_ae_state_lrs": fmt(c.state_lrs),
        "g_ae_epochs": fmt(c.epochs),
        "g_ae_T": fmt(c.inference_steps),
        "g_ae_seeds": fmt(c.seeds),
        "g_ae_batch": fmt(c.batch_size),
        "g_ae_m": fmt(c.state_momentum),
    }


def _mcpc(dataset: str, quick: bool):
    return runners.part_config("mcpc", dataset, "quick" if quick or dataset != "iris" else "paper")


def _mcpc_query(c) -> dict[str, str]:
    return {
        "g_mc_preset": "quick",
        "g_mc_data": c.dataset,
        "g_mc_epochs": fmt(c.epochs),
        "g_mc_temp": fmt(c.temperature),
        "g_mc_state_lr": fmt(c.state_lr),
        "g_mc_steps": fmt(c.sample_steps),
        "g_mc_m": fmt(c.momentum),
        "g_mc_T": fmt(c.train_steps),
    }


def _memory(dataset: str, quick: bool):
    config = runners.part_config("memory", dataset)
    return config if quick else replace(config, seeds=5)


def _memory_query(c) -> dict[str, str]:
    return {
        "g_mem_ns": fmt(c.ns),
        "g_mem_widths": fmt(c.widths),
        "g_mem_steps": fmt(c.train_steps),
        "g_mem_recall": fmt(c.recall_steps),
        "g_mem_sigma": fmt(c.noise_std),
    }


def _ood(dataset: str, quick: bool):
    return runners.part_config("ood", dataset, "quick" if quick else "paper")


def _ood_query(c) -> dict[str, str]:
    return {
        "g_ood_preset": "quick",
        "g_ood_data": c.dataset,
        "g_ood_set": c.ood,
        "g_ood_epochs": fmt(c.epochs),
        "g_ood_T": fmt(c.test_steps),
    }


AUTOENCODER = Experiment(
    "pcx-autoencoder",
    "autoencoder",
    _autoencoder,
    "autoencoder",
    _ae_query,
    ("digits",),
    IMAGE_DOWNLOADS,
)
MCPC = Experiment(
    "pcx-mcpc",
    "mcpc",
    _mcpc,
    "mcpc",
    _mcpc_query,
    ("iris", "moons", "circles", "digits"),
    IMAGE_DOWNLOADS,
)
MEMORY = Experiment(
    "pcx-memory", "memory", _memory, "memory", _memory_query, ("digits",), IMAGE_DOWNLOADS
)
OOD = Experiment("pcx-ood", "ood", _ood, "ood", _ood_query, ("digits",), ("mnist",))

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        CRE,
        CRE_LATENT_DIM,
        INIT,
        ENERGY,
        STABILITY,
        TABLE1,
        CONDITIONS,
        LEARNING_RATE,
        AUTOENCODER,
        MCPC,
        MEMORY,
        OOD,
    )
}
