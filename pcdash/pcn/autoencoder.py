"""Part 1 of the Generative page: a decoder-only PC autoencoder (latent inferred with the image
clamped, PCX paper Appendix C.1) against a backprop autoencoder with the same decoder.

Both reconstruct through the bottleneck: the PC model infers ``h_0`` with the image clamped at
``h_L`` (every other state relaxed), then decodes ``h_0`` top-down with nothing clamped (§4); the
BP model encodes, then decodes. The training curve, the test MSE and the pictures all use that
reconstruction. Test-time inference uses the training ``T`` and starts where training does
(``h_0 = 0``, hidden states by a forward pass), as PCX's ``pc_decoder.py`` does."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from pcdash import limits
from pcdash.data import load_dataset
from pcdash.engine import member_slice, train_members
from pcdash.pcn.gen_common import PartResult, Reporter, check, config_key
from pcdash.pcn.generative import BPAutoencoder, GenerativePCN, reconstruct
from pcdash.pcn.network import ACTIVATIONS


@dataclass(frozen=True)
class AEConfig:
    dataset: str = "digits"
    latent: int = 8
    hidden: int = 64
    depth: int = 1  # hidden layers of the decoder (and of the encoder)
    gammas: tuple[float, ...] = (0.1, 0.3)
    seeds: int = 1
    epochs: int = 8
    batch_size: int = 64
    inference_steps: int = 20
    state_momentum: float = 0.5
    weight_lr: float = 3e-3
    activation: str = "hard_tanh"
    n_show: int = 8

    def validate(self) -> AEConfig:
        check(self.dataset in ("digits", "mnist", "fashion_mnist"), "the autoencoder needs an image dataset")
        check(self.latent >= 1 and self.hidden >= 1 and self.depth >= 0, "sizes must be ≥ 1")
        check(len(self.gammas) > 0 and all(g > 0 for g in self.gammas), "each γ must be > 0")
        check(self.seeds >= 1 and self.epochs >= 1 and self.batch_size >= 1, "seeds, epochs and batch size must be ≥ 1")
        check(self.inference_steps >= 1 and self.weight_lr > 0, "T must be ≥ 1 and the weight learning rate > 0")
        check(0 <= self.state_momentum < 1, "the state momentum must lie in [0, 1)")
        check(self.activation in ACTIVATIONS, f"unknown activation {self.activation!r}")
        return limits.check(self)

    def key(self) -> str:
        return config_key("ae", self)

    def sizes(self, d_x: int) -> tuple[int, ...]:
        return (self.latent, *([self.hidden] * self.depth), d_x)


def run_autoencoder(config: AEConfig, on_progress=None, should_stop=None) -> PartResult:
    config.validate()
    data = load_dataset(config.dataset)
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    sizes = config.sizes(x_train.shape[1])
    evals = {"test": (x_test, data.y_test)}
    gammas = np.repeat(np.asarray(config.gammas, np.float32), config.seeds)
    seeds = np.tile(np.arange(config.seeds), len(config.gammas))
    pc_members = pd.DataFrame({"gamma": gammas, "seed": seeds})
    bp_members = pd.DataFrame({"gamma": np.full(config.seeds, np.nan), "seed": np.arange(config.seeds)})
    rep = Reporter(on_progress, [len(gammas) * 2.0, config.seeds])
    pc_algo = GenerativePCN(sizes, activation=config.activation, inference_steps=config.inference_steps,
                            eval_steps=config.inference_steps, state_momentum=config.state_momentum)
    pc_hp = {"state_lr": gammas, "weight_lr": np.full(len(gammas), config.weight_lr)}
    pc = train_members(pc_algo, pc_hp, seeds, x_train, data.y_train, epochs=config.epochs,
                       batch_size=config.batch_size, eval_sets=evals, should_stop=should_stop,
                       on_progress=rep.callback("PC", "PC autoencoder", pc_members))
    rep.finish(pc.history, "PC", pc_members)
    bp_algo = BPAutoencoder(sizes, activation=config.activation)
    bp_hp = {"state_lr": np.zeros(config.seeds), "weight_lr": np.full(config.seeds, config.weight_lr)}
    bp = None
    if not pc.stopped:
        bp = train_members(bp_algo, bp_hp, np.arange(config.seeds), x_train, data.y_train, epochs=config.epochs,
                           batch_size=config.batch_size, eval_sets=evals, should_stop=should_stop,
                           on_progress=rep.callback("BP", "BP autoencoder", bp_members))
        rep.finish(bp.history, "BP", bp_members)
    frame = rep.frame
    result = PartResult(frame, stopped=pc.stopped or (bp is not None and bp.stopped), seconds=rep.elapsed())
    if not pc.history:
        return result
    shown = x_test[:config.n_show]
    last = frame[frame["epoch"] == frame.groupby("model")["epoch"].transform("max")]
    pc_last = last[last["model"] == "PC"].reset_index(drop=True)
    best = int(np.nanargmin(pc_last["test_mse"].to_numpy())) if pc_last["test_mse"].notna().any() else 0
    mlp = member_slice(pc.carry, best).mlp
    rec = jax.jit(lambda m, x, g: reconstruct(m, x, steps=config.inference_steps, state_lr=g,
                                              momentum=config.state_momentum))
    result.arrays["x"] = shown.reshape(-1, *data.input_shape)
    result.arrays["pc"] = np.asarray(rec(mlp, shown, float(gammas[best]))).reshape(-1, *data.input_shape)
    result.scalars["pc_gamma"] = float(gammas[best])
    if bp is not None and bp.history:
        result.arrays["bp"] = np.asarray(bp_algo.reconstruct(member_slice(bp.carry, 0), shown)).reshape(
            -1, *data.input_shape)
    result.tables["mse"] = last[["model", "gamma", "seed", "epoch", "test_mse"]].reset_index(drop=True)
    return result
