"""Part 2 of the Generative page: Monte Carlo predictive coding (PCX paper, Appendix C.2).

Training relaxes the states with Langevin noise — first order (``optax.sgd`` chained with
:func:`~pcdash.pcn.generative.add_langevin_noise`, Eq. 4) or, with a state momentum ``m > 0``,
second order (:func:`~pcdash.pcn.generative.langevin_momentum`, Eq. 5–6) — with the data
clamped at the sensory layer; sampling leaves *every* state free, starts the latent from its prior ``N(0, 1)`` and runs
the same noisy dynamics, recording the sensory layer ``h_L``."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from pcdash import limits
from pcdash.data import load_dataset
from pcdash.engine import member_slice, train_members
from pcdash.pcn.gen_common import PartResult, Reporter, check, config_key
from pcdash.pcn.generative import GenerativePCN, initial_states, relax, state_optimizer
from pcdash.pcn.network import ACTIVATIONS, MLP, init_mlp

MCPC_DATASETS = ("digits", "moons", "circles", "mnist", "fashion_mnist")


@dataclass(frozen=True)
class MCPCConfig:
    dataset: str = "moons"
    latent: int = 2
    hidden: int = 64
    depth: int = 1
    activation: str = "tanh"
    gamma: float = 0.01  # state learning rate γ
    temperature: float = 1.0  # σ²_mcpc
    momentum: float = 0.0  # m: 0 = first-order Langevin (Eq. 4), > 0 = second order (Eq. 5–6)
    out_var: float = 0.01  # σ²_{h_L}
    train_steps: int = 50
    sample_steps: int = 1000
    n_samples: int = 1000
    epochs: int = 10
    batch_size: int = 150
    weight_lr: float = 3e-3
    seed: int = 0

    def validate(self) -> MCPCConfig:
        check(self.dataset in MCPC_DATASETS, f"MCPC runs on {', '.join(MCPC_DATASETS)}")
        check(self.latent >= 1 and self.hidden >= 1 and self.depth >= 0, "sizes must be ≥ 1")
        check(self.activation in ACTIVATIONS, f"unknown activation {self.activation!r}")
        check(0 < self.gamma <= 1, "γ must lie in (0, 1]")
        check(self.temperature >= 0 and self.out_var > 0, "σ²_mcpc must be ≥ 0 and σ²_L > 0")
        check(0 <= self.momentum < 1, "the state momentum m must lie in [0, 1)")
        check(self.gamma / self.out_var < 2, "γ / σ²_L must stay below 2, or the sensory layer diverges")
        check(min(self.train_steps, self.sample_steps, self.n_samples, self.epochs, self.batch_size) >= 1,
              "steps, samples, epochs and batch size must be ≥ 1")
        check(self.weight_lr > 0, "the weight learning rate must be > 0")
        return limits.check(self)

    def key(self) -> str:
        return config_key("mcpc", self)

    def sizes(self, d_x: int) -> tuple[int, ...]:
        return (self.latent, *([self.hidden] * self.depth), d_x)


def default_mcpc(dataset: str) -> MCPCConfig:
    """Defaults that train in a few seconds: the paper's iris setting for 2-D sets, a small
    decoder for images."""
    if dataset in ("moons", "circles"):
        return MCPCConfig(dataset=dataset)
    return MCPCConfig(dataset=dataset, latent=8, hidden=128, out_var=0.05, gamma=0.02, train_steps=50,
                      sample_steps=500, n_samples=40, epochs=10, batch_size=64)


def sample(mlp: MLP, key, n: int, *, steps: int, state_lr, temperature, out_var, momentum: float = 0.0) -> jnp.ndarray:
    """Unconditional MCPC samples: every state free, ``h_0 ~ N(0, 1)``, ``steps`` Langevin steps."""
    k1, k2 = jax.random.split(key)
    states = initial_states(mlp, jax.random.normal(k1, (n, mlp.sizes[0])), None)
    opt = state_optimizer(state_lr, momentum=momentum, temperature=temperature, key=k2)
    states, _ = relax(mlp, states, steps=steps, optimizer=opt, fixed=False, prior=1.0, out_var=out_var)
    return states[-1]


_sample = jax.jit(sample, static_argnames=("n", "steps", "momentum"))


def moment_distance(samples: np.ndarray, data: np.ndarray) -> float:
    """``‖mean_s − mean_d‖ + ‖cov_s − cov_d‖_F``: how far the samples' first two moments are."""
    s, d = np.asarray(samples, np.float64), np.asarray(data, np.float64)
    s, d = s.reshape(len(s), -1), d.reshape(len(d), -1)
    return float(np.linalg.norm(s.mean(0) - d.mean(0)) + np.linalg.norm(np.cov(s.T) - np.cov(d.T)))


def run_mcpc(config: MCPCConfig, on_progress=None, should_stop=None) -> PartResult:
    config.validate()
    data = load_dataset(config.dataset)
    x = data.x_train.reshape(len(data.x_train), -1)
    sizes = config.sizes(x.shape[1])
    algo = GenerativePCN(sizes, activation=config.activation, inference_steps=config.train_steps, eval_steps=1,
                         prior=1.0, out_var=config.out_var, temperature=config.temperature,
                         state_momentum=config.momentum)
    hp = {"state_lr": np.array([config.gamma]), "weight_lr": np.array([config.weight_lr])}
    rep = Reporter(on_progress, [1.0])
    res = train_members(algo, hp, np.array([config.seed]), x, data.y_train, epochs=config.epochs,
                        batch_size=min(config.batch_size, len(x)), should_stop=should_stop,
                        on_progress=rep.callback("MCPC", "MCPC"))
    rep.finish(res.history, "MCPC")
    out = PartResult(rep.frame, stopped=res.stopped)
    key = jax.random.PRNGKey(config.seed + 1)
    kw = dict(n=config.n_samples, steps=config.sample_steps, state_lr=config.gamma, temperature=config.temperature,
              out_var=config.out_var, momentum=config.momentum)
    before = np.asarray(_sample(init_mlp(jax.random.PRNGKey(config.seed), sizes, activation=config.activation), key, **kw))
    after = np.asarray(_sample(member_slice(res.carry, 0).mlp, key, **kw))
    out.arrays = {"data": np.asarray(x), "samples": after, "samples_before": before}
    if data.is_image:
        out.arrays["image_shape"] = np.asarray(data.input_shape)
    out.scalars = {"distance_before": moment_distance(before, x), "distance_after": moment_distance(after, x)}
    out.seconds = rep.elapsed()
    return out

