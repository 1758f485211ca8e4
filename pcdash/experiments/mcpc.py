"""Part 2 of the Generative page: Monte Carlo predictive coding (PCX paper, Appendix C.2).

The generative model is §3's hierarchy with a learned prior mean: ``h_0 ~ N(θ_0, I)``,
``h_l ~ N(μ_l(h_{l−1}), I)``, ``h_L ~ N(μ_L(h_{L−1}), σ²_{h_L} I)``; ``θ_0`` is trained with the
weights (in PCX it is the bias of a first layer fed a constant zero input).

Training relaxes the states with Langevin noise — first order (Eq. 4) or, with a state momentum
``m > 0``, second order (Eq. 5–6), both one optax chain
(:func:`~pcdash.pcn.optimizers.state_optimizer`) — with the data clamped at the sensory layer,
then takes one AdamW step on ``(θ, θ_0)`` from that single posterior sample. Sampling leaves
*every* state free, draws the latent from the learned prior ``N(θ_0, I)`` and runs the same
noisy dynamics, recording the sensory layer ``h_L``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.config import Config, choice, require
from pcdash.data import load_dataset
from pcdash.data.iris import load_iris_2d
from pcdash.engine import member_slice
from pcdash.experiments.result import (
    ExperimentResult,
    GenerativeKey,
    generative_experiment,
    generative_frame,
    train_experiment,
)
from pcdash.pcn.generative import GenerativePCN, generative_hyper, sample
from pcdash.pcn.network import ACTIVATIONS, FORMS
from pcdash.sweep import Group, SweepProgress

MCPC_DATASETS = ("iris", "moons", "circles", "digits", "mnist", "fashion_mnist")
MCPC_PRESETS = ("quick", "paper")


@dataclass(frozen=True)
class MCPCConfig(GenerativeKey, Config):
    dataset: str = "moons"
    latent: int = 2
    hidden: int = 64
    depth: int = 1
    activation: str = "tanh"
    form: str = (
        "pre"  # μ_l = W σ(h_{l−1}) + b, as in PCX's MCPC models (see network.layer_prediction)
    )
    state_lr: float = 0.01  # γ
    temperature: float = 1.0  # σ²_mcpc
    momentum: float = 0.0  # m: 0 = first-order Langevin (Eq. 4), > 0 = second order (Eq. 5–6)
    out_var: float = 0.01  # σ²_{h_L}
    train_steps: int = 50
    sample_steps: int = 1000
    n_samples: int = 1000
    epochs: int = 10
    batch_size: int = 150
    data_repeats: int = 1  # the training set is this many copies of the data (PCX's iris: 150)
    weight_lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0

    KEY_PREFIX = "mcpc-"
    KIND = "generative-mcpc"

    def check(self) -> None:
        require(self.dataset in MCPC_DATASETS, f"MCPC runs on {', '.join(MCPC_DATASETS)}")
        require(self.latent >= 1 and self.hidden >= 1 and self.depth >= 0, "sizes must be ≥ 1")
        choice("activation", self.activation, tuple(ACTIVATIONS))
        require(self.form in FORMS, f"the layer form is one of {', '.join(FORMS)}")
        require(0 < self.state_lr <= 1, "γ must lie in (0, 1]")
        require(self.temperature >= 0 and self.out_var > 0, "σ²_mcpc must be ≥ 0 and σ²_L > 0")
        require(0 <= self.momentum < 1, "the state momentum m must lie in [0, 1)")
        require(
            self.state_lr / self.out_var < 2,
            "γ / σ²_L must stay below 2, or the sensory layer diverges",
        )
        require(
            min(
                self.train_steps,
                self.sample_steps,
                self.n_samples,
                self.epochs,
                self.batch_size,
                self.data_repeats,
            )
            >= 1,
            "steps, samples, epochs, batch size and repeats must be ≥ 1",
        )
        require(
            self.weight_lr > 0 and self.weight_decay >= 0,
            "the weight learning rate must be > 0, the decay ≥ 0",
        )

    def sizes(self, d_x: int) -> tuple[int, ...]:
        return (self.latent, *([self.hidden] * self.depth), d_x)


def iris_paper() -> MCPCConfig:
    """The paper's iris setting (Appendix C.2 and PCX's ``mcpc_iris.py``): the model is PCX's
    "[2 × 64 × 2]" (a constant 2-D input whose first layer's bias is the prior mean θ_0 of a
    64-unit latent, a 64-unit hidden layer, a 2-D sensory layer), tanh, γ = 0.01, state momentum
    0.9, σ²_mcpc = 1, σ²_{h_L} = 0.01, Adam(W) 1e-3 with decay 1e-4, batch 150, 500 inference
    steps per weight update and 10,000 for generation; 68 epochs over 150 copies of the 150
    flowers (10,200 weight updates, PCX's ``10240 // 150``), 4,500 samples (30 per flower)."""
    return MCPCConfig(
        dataset="iris",
        latent=64,
        hidden=64,
        depth=1,
        activation="tanh",
        state_lr=0.01,
        temperature=1.0,
        momentum=0.9,
        out_var=0.01,
        train_steps=500,
        sample_steps=10_000,
        n_samples=4500,
        epochs=68,
        batch_size=150,
        data_repeats=150,
        weight_lr=1e-3,
        weight_decay=1e-4,
    )


def default_mcpc(dataset: str, preset: str = "quick") -> MCPCConfig:
    """``"paper"``: :func:`iris_paper` (the only MCPC setting the paper states in full).
    ``"quick"``: a few seconds on two CPU cores — the iris model with fewer steps for 2-D sets,
    a small decoder for images."""
    if preset == "paper":
        return iris_paper()
    require(
        preset == "quick", f"unknown MCPC preset {preset!r}; choose from {', '.join(MCPC_PRESETS)}"
    )
    if dataset in ("iris", "moons", "circles"):
        return MCPCConfig(
            dataset=dataset,
            momentum=0.9 if dataset == "iris" else 0.0,
            data_repeats=10 if dataset == "iris" else 1,
        )
    return MCPCConfig(
        dataset=dataset,
        latent=8,
        hidden=128,
        out_var=0.05,
        state_lr=0.02,
        train_steps=50,
        sample_steps=500,
        n_samples=40,
        epochs=10,
        batch_size=64,
    )


_sample = jax.jit(sample, static_argnames=("n", "steps", "momentum", "form"))


def moment_distance(samples: np.ndarray, data: np.ndarray) -> float:
    """``‖mean_s − mean_d‖ + ‖cov_s − cov_d‖_F``: how far the samples' first two moments are."""
    s, d = np.asarray(samples, np.float64), np.asarray(data, np.float64)
    s, d = s.reshape(len(s), -1), d.reshape(len(d), -1)
    return float(np.linalg.norm(s.mean(0) - d.mean(0)) + np.linalg.norm(np.cov(s.T) - np.cov(d.T)))


def mmd(
    samples: np.ndarray,
    data: np.ndarray,
    *,
    bandwidth: float = 0.5,
    max_points: int = 2000,
    seed: int = 0,
) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel ``k(a, b) = exp(−‖a − b‖² / 2s²)``,
    ``MMD² = E k(s, s') + E k(d, d') − 2 E k(s, d)`` (biased estimate; at most ``max_points`` of
    each set, drawn with ``seed``). Unlike the moment distance it sees modes, so a unimodal blob
    with the data's mean and covariance still scores badly against a multimodal set."""
    rng = np.random.default_rng(seed)

    def pick(a):
        a = np.asarray(a, np.float64).reshape(len(a), -1)
        return a if len(a) <= max_points else a[rng.choice(len(a), max_points, replace=False)]

    s, d = pick(samples), pick(data)

    def k(a, b):
        sq = np.sum(a**2, 1)[:, None] + np.sum(b**2, 1)[None, :] - 2 * a @ b.T
        return np.exp(-np.maximum(sq, 0) / (2 * bandwidth**2)).mean()

    return float(k(s, s) + k(d, d) - 2 * k(s, d))


def _training_data(config: MCPCConfig) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
    """``(x, y, image_shape)``; x flattened, ``image_shape`` None for 2-D sets."""
    if config.dataset == "iris":
        x, y = load_iris_2d()
        return x, y, None
    data = load_dataset(config.dataset)
    x = data.x_train.reshape(len(data.x_train), -1)
    return x, data.y_train, (tuple(data.input_shape) if data.is_image else None)


def run_mcpc(
    config: MCPCConfig,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    backend: Backend | None = None,
) -> ExperimentResult:
    """Train the MCPC model (one member), then draw samples from it and from its untrained
    initialisation. Returns the frame, ``arrays`` (``data``, ``samples``, ``samples_before``,
    ``prior_mean``, ``image_shape`` for images) and ``scalars`` (moment distance and MMD² to
    the data before and after training, ``‖θ_0‖``)."""
    t0 = time.perf_counter()
    config.validate()
    x, y, image_shape = _training_data(config)
    sizes = config.sizes(x.shape[1])
    algo = GenerativePCN(
        sizes,
        activation=config.activation,
        inference_steps=config.train_steps,
        eval_steps=1,
        prior=1.0,
        learn_prior_mean=True,
        out_var=config.out_var,
        temperature=config.temperature,
        state_momentum=config.momentum,
        weight_decay=config.weight_decay,
        form=config.form,
    )
    hp = generative_hyper([config.state_lr], [config.weight_lr])
    members = pd.DataFrame({"member": [0], "model": "MCPC", "seed": [config.seed]})
    x_rep, y_rep = np.tile(x, (config.data_repeats, 1)), np.tile(y, config.data_repeats)
    group = Group(
        algo,
        hp,
        np.array([config.seed]),
        members,
        generative_frame,
        label="MCPC",
        return_state=True,
    )
    run = train_experiment(
        [group],
        x_rep,
        y_rep,
        eval_sets={},
        epochs=config.epochs,
        batch_size=min(config.batch_size, len(x_rep)),
        on_progress=on_progress,
        should_stop=should_stop,
        backend=backend,
    )
    out = ExperimentResult(run.frame, stopped=run.stopped)
    key = jax.random.PRNGKey(config.seed + 1)
    kw = dict(
        n=config.n_samples,
        steps=config.sample_steps,
        state_lr=config.state_lr,
        temperature=config.temperature,
        out_var=config.out_var,
        momentum=config.momentum,
        form=config.form,
    )
    untrained = algo.init(
        jax.random.PRNGKey(config.seed), jax.tree_util.tree_map(lambda v: v[0], hp)
    )
    trained = member_slice(run.results[0].carry, 0)
    before = np.asarray(_sample(untrained.mlp, untrained.prior_mean, key, **kw))
    after = np.asarray(_sample(trained.mlp, trained.prior_mean, key, **kw))
    out.arrays = {
        "data": np.asarray(x),
        "samples": after,
        "samples_before": before,
        "prior_mean": np.asarray(trained.prior_mean),
    }
    if image_shape is not None:
        out.arrays["image_shape"] = np.asarray(image_shape)
    out.scalars = {
        "distance_before": moment_distance(before, x),
        "distance_after": moment_distance(after, x),
        "mmd_before": mmd(before, x),
        "mmd_after": mmd(after, x),
        "prior_mean_norm": float(np.linalg.norm(np.asarray(trained.prior_mean))),
    }
    out.seconds = time.perf_counter() - t0  # training and sampling
    return out


MCPC = generative_experiment("mcpc", run_mcpc, lambda config: f"MCPC · {config.dataset}")
