"""Part 3 of the Generative page: associative memory (PCX paper, Appendix C.3, Table 3).

A generative PCN is trained on ``n`` images until it has memorised them; recall presents a
corrupted image at the sensory layer and relaxes *every* state, the sensory layer included: the
memories are attractors of the energy. Corruptions: Gaussian noise (σ = 0.2) with the whole
image free, or the bottom half erased (set to 0) with the visible top half kept fixed.

One compiled program per width trains every ``n`` and seed together: the training set holds the
``max(n)`` images labelled by their index, and a member with ``n_images = n`` counts only the
first ``n`` (see :class:`~pcdash.pcn.generative.GenerativePCN`); recall is
:func:`~pcdash.pcn.generative.recall`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.config import Config, require
from pcdash.data import load_dataset
from pcdash.experiments.result import (
    IMAGE_DATASETS,
    ExperimentResult,
    GenerativeKey,
    generative_experiment,
    generative_frame,
    train_experiment,
)
from pcdash.pcn.generative import GenerativePCN, generative_hyper, recall
from pcdash.pcn.network import MLP
from pcdash.sweep import Group, SweepProgress

CORRUPTIONS = ("noise", "mask")


@dataclass(frozen=True)
class MemoryConfig(GenerativeKey, Config):
    dataset: str = "digits"
    ns: tuple[int, ...] = (4, 16, 64)
    widths: tuple[int, ...] = (32, 64)
    latent: int = 32
    seeds: int = 1
    train_steps: int = 300
    inference_steps: int = 20
    recall_steps: int = 400
    state_lr: float = 0.1  # γ
    weight_lr: float = 3e-3
    noise_std: float = 0.2
    n_show: int = 6

    KEY_PREFIX = "mem-"
    KIND = "generative-mem"

    def check(self) -> None:
        require(self.dataset in IMAGE_DATASETS, "associative memory needs an image dataset")
        require(len(self.ns) > 0 and min(self.ns) >= 1, "each n must be ≥ 1")
        require(max(self.ns) <= 1000, "at most 1000 images to memorise")
        require(len(self.widths) > 0 and min(self.widths) >= 1, "each width must be ≥ 1")
        require(self.latent >= 1 and self.seeds >= 1, "latent size and seeds must be ≥ 1")
        require(
            min(self.train_steps, self.inference_steps, self.recall_steps) >= 1, "steps must be ≥ 1"
        )
        require(
            0 < self.state_lr <= 1 and self.weight_lr > 0,
            "γ must lie in (0, 1] and the weight learning rate be > 0",
        )
        require(self.noise_std >= 0, "the noise σ must be ≥ 0")


def corrupt(
    x: np.ndarray,
    kind: str,
    *,
    noise_std: float = 0.2,
    seed: int = 0,
    image_shape: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(corrupted, fixed)``: ``x`` (n, d) with Gaussian noise (nothing fixed) or with its bottom
    half set to 0 (the top half fixed). ``fixed`` is a boolean (n, d) mask."""
    x = np.asarray(x, np.float32)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        return x + noise_std * rng.standard_normal(x.shape).astype(np.float32), np.zeros(
            x.shape, bool
        )
    if kind == "mask":
        h = image_shape[0] if image_shape else int(round(np.sqrt(x.shape[1])))
        rows = np.arange(x.shape[1]) // (x.shape[1] // h)
        top = np.broadcast_to(rows < h // 2, x.shape)
        return np.where(top, x, 0.0).astype(np.float32), top.copy()
    raise ValueError(f"unknown corruption {kind!r}; choose from {', '.join(CORRUPTIONS)}")


@jax.jit
def _recall_members(mlps: MLP, x_corrupt, fixed, state_lr, steps_like, settle_like):
    """:func:`recall` for every member of stacked weights; the lengths of ``steps_like`` and
    ``settle_like`` are the numbers of steps (static)."""
    steps, settle = steps_like.shape[0], settle_like.shape[0]
    return jax.vmap(
        lambda m: recall(m, x_corrupt, fixed, steps=steps, state_lr=state_lr, settle=settle)
    )(mlps)


def run_memory(
    config: MemoryConfig,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    backend: Backend | None = None,
) -> ExperimentResult:
    """Memorise ``n`` images at every width (a shape group each), then recall every
    corruption. Returns the frame, ``tables["recall"]`` (per corruption, width, n and seed:
    the MSE of the corrupted and of the recalled images) and, per corruption and width, the
    pictures of the smallest n (stored, corrupted, recalled)."""
    config.validate()
    data = load_dataset(config.dataset)
    n_max = max(config.ns)
    require(
        n_max <= len(data.x_train), f"{config.dataset} has only {len(data.x_train)} training images"
    )
    x = data.x_train[:n_max].reshape(n_max, -1).astype(np.float32)
    idx = np.arange(n_max, dtype=np.int32)
    ns = np.repeat(np.asarray(config.ns), config.seeds)
    seeds = np.tile(np.arange(config.seeds), len(config.ns))
    hp = generative_hyper(config.state_lr, config.weight_lr, ns)
    groups = []
    for i, width in enumerate(config.widths):
        algo = GenerativePCN(
            (config.latent, width, x.shape[1]),
            activation="tanh",
            inference_steps=config.inference_steps,
            eval_steps=1,
            count_examples=True,
        )
        members = pd.DataFrame(
            {
                "member": i * len(ns) + np.arange(len(ns)),
                "model": f"width {width}",
                "n": ns,
                "seed": seeds,
                "width": width,
            }
        )
        groups.append(
            Group(
                algo,
                hp,
                seeds,
                members,
                generative_frame,
                label=f"width {width}",
                return_state=True,
            )
        )
    run = train_experiment(
        groups,
        x,
        idx,
        eval_sets={},
        epochs=config.train_steps,
        batch_size=n_max,
        on_progress=on_progress,
        should_stop=should_stop,
        backend=backend,
    )
    corrupted = {
        k: corrupt(x, k, noise_std=config.noise_std, seed=1, image_shape=data.input_shape)
        for k in CORRUPTIONS
    }
    rows, pictures = [], {}
    for width, res in zip(config.widths, run.results, strict=False):
        if res.stopped:
            break
        for kind, (xc, fixed) in corrupted.items():
            out = np.asarray(
                _recall_members(
                    res.carry.mlp,
                    jnp.asarray(xc),
                    jnp.asarray(fixed),
                    np.float32(config.state_lr),
                    np.zeros(config.recall_steps, np.int8),
                    np.zeros(config.recall_steps if kind == "noise" else 0, np.int8),
                )
            )
            for m, (n, seed) in enumerate(zip(ns, seeds, strict=True)):
                err_after = np.mean(np.square(out[m, :n] - x[:n]))
                err_before = np.mean(np.square(xc[:n] - x[:n]))
                rows.append(
                    {
                        "corruption": kind,
                        "width": width,
                        "n": int(n),
                        "seed": int(seed),
                        "mse_corrupted": float(err_before),
                        "mse_recalled": float(err_after),
                    }
                )
                if seed == 0 and n == min(config.ns):
                    show = min(config.n_show, n)
                    pictures[f"{kind}_{width}"] = np.stack(
                        [x[:show], xc[:show], out[m, :show]]
                    ).reshape(3, show, *data.input_shape)
    result = ExperimentResult(run.frame, arrays=pictures, stopped=run.stopped, seconds=run.seconds)
    result.tables["recall"] = pd.DataFrame(rows)
    return result


def recall_table(rows: pd.DataFrame, corruption: str) -> pd.DataFrame:
    """Table 3's layout: recall MSE (mean over seeds), one row per n and one column per width."""
    if rows is None or rows.empty:
        return pd.DataFrame()
    sel = rows[rows["corruption"] == corruption]
    return sel.pivot_table(index="n", columns="width", values="mse_recalled", aggfunc="mean")


MEMORY = generative_experiment(
    "memory", run_memory, lambda config: f"Associative memory · {len(config.widths)} widths"
)
