"""Part 1 of the Generative page: a decoder-only PC autoencoder (latent inferred with the image
clamped, PCX paper Appendix C.1) against a backprop autoencoder with the same decoder.

Both reconstruct through the bottleneck: the PC model infers ``h_0`` with the image clamped at
``h_L`` (every other state relaxed), then decodes ``h_0`` top-down with nothing clamped (§4); the
BP model encodes, then decodes. The training curve, the test MSE and the pictures all use that
reconstruction. Test-time inference uses the training ``T`` and starts where training does
(``h_0 = 0``, hidden states by a forward pass), as PCX's ``pc_decoder.py`` does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.config import Config, choice, require
from pcdash.data import load_dataset
from pcdash.engine import member_slice
from pcdash.experiments.result import (
    IMAGE_DATASETS,
    ExperimentResult,
    GenerativeKey,
    generative_experiment,
    generative_frame,
    train_experiment,
)
from pcdash.pcn.generative import BPAutoencoder, GenerativePCN, generative_hyper, reconstruct
from pcdash.pcn.network import ACTIVATIONS
from pcdash.sweep import Group, SweepProgress


@dataclass(frozen=True)
class AEConfig(GenerativeKey, Config):
    dataset: str = "digits"
    latent: int = 8
    hidden: int = 64
    depth: int = 1  # hidden layers of the decoder (and of the encoder)
    state_lrs: tuple[float, ...] = (0.1, 0.3)
    seeds: int = 1
    epochs: int = 8
    batch_size: int = 64
    inference_steps: int = 20
    state_momentum: float = 0.5
    weight_lr: float = 3e-3
    activation: str = "hard_tanh"
    n_show: int = 8

    KEY_PREFIX = "ae-"
    KIND = "generative-ae"

    def check(self) -> None:
        require(self.dataset in IMAGE_DATASETS, "the autoencoder needs an image dataset")
        require(self.latent >= 1 and self.hidden >= 1 and self.depth >= 0, "sizes must be ≥ 1")
        require(
            len(self.state_lrs) > 0 and all(g > 0 for g in self.state_lrs), "each γ must be > 0"
        )
        require(
            self.seeds >= 1 and self.epochs >= 1 and self.batch_size >= 1,
            "seeds, epochs and batch size must be ≥ 1",
        )
        require(
            self.inference_steps >= 1 and self.weight_lr > 0,
            "T must be ≥ 1 and the weight learning rate > 0",
        )
        require(0 <= self.state_momentum < 1, "the state momentum must lie in [0, 1)")
        choice("activation", self.activation, tuple(ACTIVATIONS))

    def sizes(self, d_x: int) -> tuple[int, ...]:
        return (self.latent, *([self.hidden] * self.depth), d_x)


def run_autoencoder(
    config: AEConfig,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    backend: Backend | None = None,
) -> ExperimentResult:
    """Train the PC autoencoder at every γ and seed and the BP autoencoder at every seed (two
    shape groups of one sweep). Returns the tidy frame (``model`` PC or BP; train rows with the
    reconstruction ``loss``, test rows with ``mse``), the test images and their reconstructions
    by the best PC member and the first BP member (``arrays``: ``x``, ``pc``, ``bp``) and the
    final test MSE of every member (``tables["mse"]``)."""
    config.validate()
    data = load_dataset(config.dataset)
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    sizes = config.sizes(x_train.shape[1])
    state_lrs = np.repeat(np.asarray(config.state_lrs, np.float32), config.seeds)
    seeds = np.tile(np.arange(config.seeds), len(config.state_lrs))
    n_pc = len(state_lrs)
    pc_members = pd.DataFrame(
        {"member": np.arange(n_pc), "model": "PC", "state_lr": state_lrs, "seed": seeds}
    )
    bp_members = pd.DataFrame(
        {
            "member": n_pc + np.arange(config.seeds),
            "model": "BP",
            "state_lr": np.nan,
            "seed": np.arange(config.seeds),
        }
    )
    pc_algo = GenerativePCN(
        sizes,
        activation=config.activation,
        inference_steps=config.inference_steps,
        eval_steps=config.inference_steps,
        state_momentum=config.state_momentum,
    )
    bp_algo = BPAutoencoder(sizes, activation=config.activation)
    groups = [
        Group(
            pc_algo,
            generative_hyper(state_lrs, config.weight_lr),
            seeds,
            pc_members,
            generative_frame,
            label="PC autoencoder",
            return_state=True,
        ),
        Group(
            bp_algo,
            generative_hyper(np.zeros(config.seeds), config.weight_lr),
            np.arange(config.seeds),
            bp_members,
            generative_frame,
            label="BP autoencoder",
            return_state=True,
        ),
    ]
    run = train_experiment(
        groups,
        x_train,
        data.y_train,
        eval_sets={"test": (x_test, data.y_test)},
        epochs=config.epochs,
        batch_size=config.batch_size,
        on_progress=on_progress,
        should_stop=should_stop,
        backend=backend,
    )
    result = ExperimentResult(run.frame, stopped=run.stopped, seconds=run.seconds)
    if not run.results or not run.results[0].history:
        return result
    frame = run.frame
    test = frame[frame["split"] == "test"]
    last = test[test["epoch"] == test.groupby("model")["epoch"].transform("max")]
    pc_last = last[last["model"] == "PC"].reset_index(drop=True)
    best = int(np.nanargmin(pc_last["mse"].to_numpy())) if pc_last["mse"].notna().any() else 0
    mlp = member_slice(run.results[0].carry, best).mlp
    rec = jax.jit(
        lambda m, x, g: reconstruct(
            m, x, steps=config.inference_steps, state_lr=g, momentum=config.state_momentum
        )
    )
    shown = x_test[: config.n_show]
    result.arrays["x"] = shown.reshape(-1, *data.input_shape)
    result.arrays["pc"] = np.asarray(rec(mlp, shown, float(state_lrs[best]))).reshape(
        -1, *data.input_shape
    )
    result.scalars["pc_state_lr"] = float(state_lrs[best])
    if len(run.results) > 1 and run.results[1].history:
        bp = bp_algo.reconstruct(member_slice(run.results[1].carry, 0), shown)
        result.arrays["bp"] = np.asarray(bp).reshape(-1, *data.input_shape)
    result.tables["mse"] = last[["model", "state_lr", "seed", "epoch", "mse"]].reset_index(
        drop=True
    )
    return result


AUTOENCODER = generative_experiment(
    "autoencoder", run_autoencoder, lambda config: f"PC vs BP autoencoder · {config.dataset}"
)
