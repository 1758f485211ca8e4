"""What a PCN sweep trains: a validated, hashable description of the grid."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from pcdash.config import (
    Config,
    choice,
    in_range,
    int_at_least,
    int_in,
    non_empty,
    positive,
    require,
)
from pcdash.pcn.algorithms import ALGORITHMS, PRECISIONS, PCNAlgorithm
from pcdash.pcn.inference import STATE_INITS
from pcdash.pcn.network import ACTIVATIONS
from pcdash.pcn.optimizers import STATE_OPTIMIZERS, WEIGHT_OPTIMIZERS
from pcdash.pcn.rules import CN_SCHEDULES


@dataclass(frozen=True)
class PCNConfig(Config):
    """A grid of PCN members: every width × γ × weight optimiser × seed.

    Widths change shapes, so each width is its own compiled program; γ, optimiser and seed vary
    inside it. ``depth`` counts hidden layers; ``seeds = N`` means seeds ``0 … N−1``. Lists
    given for the grid fields are stored as tuples, so a config is hashable.

    ``weight_lr`` is the weight learning rate of every optimiser; ``weight_lrs`` (a mapping
    ``{"sgd": 0.03, …}`` or its items) gives an optimiser its own, since SGD and AdamW rarely
    share a best rate (PCX's App. D.1 sweeps the rate of each); see :meth:`lr_for`.
    """

    dataset: str = "digits"
    algorithm: str = "pc-se"
    widths: tuple[int, ...] = (64,)
    depth: int = 2
    activation: str = "leaky_relu"
    state_lrs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)
    optimizers: tuple[str, ...] = ("adamw",)
    inference_steps: int = 8
    state_optimizer: str = "sgd"
    state_momentum: float = 0.9
    weight_lr: float = 1e-3
    weight_lrs: tuple[tuple[str, float], ...] = ()  # per weight optimiser, overriding weight_lr
    weight_decay: float = 1e-4
    weight_momentum: float = 0.9
    batch_size: int = 64
    epochs: int = 5
    seeds: int = 1
    val_fraction: float = 0.1
    precision: str = "none"  # trainable log-variances: "none", "layer" or "neuron" (True: "layer")
    update_every: int = (
        0  # relaxed convergence: weights updated every k inference steps (0: after T)
    )
    inference_tol: float = (
        0.0  # converged inference: stop when |ΔF_l| ≤ tol·|F_l| (0: always T; not iPC/relaxed)
    )
    l2_decay: float = (
        0.0  # coupled weight decay (a Gaussian prior on θ and log-variances; PyTorch's Adam)
    )
    cn_schedule: str = (
        "random"  # centred nudging: PN or NN picked at random each epoch, or "alternate"
    )
    beta0: float = 0.1  # nudging: β in the first epoch
    beta_rate: float = 0.1  # nudging: β grows by this much per epoch, up to 1
    track_alignment: bool = (
        False  # record the per-layer cosine of the PC update with the BP gradient
    )
    state_init: str = (
        "forward"  # how the states start inference: forward, zero or gaussian (Fig. 6a)
    )

    KIND = "pcn"
    # fields added later keep older keys unchanged at these values
    KEY_DEFAULTS = {
        "precision": "none",
        "update_every": 0,
        "beta0": 0.1,
        "beta_rate": 0.1,
        "track_alignment": False,
        "inference_tol": 0.0,
        "cn_schedule": "random",
        "l2_decay": 0.0,
        "weight_lrs": (),
        "state_init": "forward",
    }

    def __post_init__(self) -> None:
        for name in ("widths", "state_lrs", "optimizers"):
            value = getattr(self, name)
            if isinstance(value, str | int | float):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        lrs = self.weight_lrs.items() if isinstance(self.weight_lrs, Mapping) else self.weight_lrs
        object.__setattr__(self, "weight_lrs", tuple(sorted((str(k), v) for k, v in lrs)))
        if isinstance(self.precision, bool):
            object.__setattr__(self, "precision", "layer" if self.precision else "none")

    def lr_for(self, optimizer: str) -> float:
        """The weight learning rate of ``optimizer``: its own from ``weight_lrs``, else
        ``weight_lr``."""
        return float(dict(self.weight_lrs).get(optimizer, self.weight_lr))

    def check(self) -> None:
        from pcdash.data import DATASETS

        choice("dataset", self.dataset, DATASETS)
        choice("algorithm", self.algorithm, ALGORITHMS)
        choice("activation", self.activation, tuple(ACTIVATIONS))
        choice("state optimizer", self.state_optimizer, STATE_OPTIMIZERS)
        for opt in non_empty("optimizers", self.optimizers):
            choice("weight optimizer", opt, WEIGHT_OPTIMIZERS)
        for width in non_empty("widths", self.widths):
            int_at_least("width", width, 1)
        for state_lr in non_empty("state learning rates γ", self.state_lrs):
            positive("state learning rate γ", state_lr)
        int_at_least("depth (hidden layers)", self.depth, 1)
        int_at_least("inference steps T", self.inference_steps, 1)
        int_at_least("batch size", self.batch_size, 1)
        int_at_least("epochs", self.epochs, 1)
        int_at_least("seeds", self.seeds, 1)
        positive("weight learning rate", self.weight_lr)
        for opt, lr in self.weight_lrs:
            choice("weight optimizer", opt, WEIGHT_OPTIMIZERS)
            positive(f"{opt} weight learning rate", lr)
        in_range("state momentum", self.state_momentum, 0.0, 1.0)
        in_range("weight momentum", self.weight_momentum, 0.0, 1.0)
        in_range("weight decay", self.weight_decay, 0.0, math.inf)
        in_range("validation fraction", self.val_fraction, 0.0, 1.0)
        int_in("update every k inference steps", self.update_every, 0, self.inference_steps)
        require(
            not self.update_every or self.inference_steps % self.update_every == 0,
            f"update every k = {self.update_every} must divide the inference steps T = "
            f"{self.inference_steps}",
        )
        choice("precision", self.precision, PRECISIONS)
        choice("CN schedule", self.cn_schedule, CN_SCHEDULES)
        choice("state initialisation", self.state_init, STATE_INITS)
        in_range("inference tolerance", self.inference_tol, 0.0, 1.0)
        in_range("L2 weight decay", self.l2_decay, 0.0, math.inf)
        in_range("β_0 (initial nudging)", self.beta0, 1e-6, 1.0 + 1e-9)
        in_range("β growth per epoch", self.beta_rate, 0.0, 1.0 + 1e-9)

    @property
    def is_pc(self) -> bool:
        return not self.algorithm.startswith("bp")

    @property
    def swept_state_lrs(self) -> tuple[float, ...]:
        """The γ values actually swept: BP has no inference, so it trains one member per
        optimiser × seed (its ``state_lr`` is reported as NaN)."""
        return tuple(float(g) for g in self.state_lrs) if self.is_pc else (math.nan,)

    def layer_sizes(self, width: int, *, input_dim: int, num_classes: int) -> tuple[int, ...]:
        return (input_dim, *([int(width)] * self.depth), num_classes)

    def algorithm_for(
        self, width: int, *, input_dim: int, num_classes: int, steps_per_epoch: int = 0
    ) -> PCNAlgorithm:
        """The static algorithm (one compiled program) of one width; ``steps_per_epoch`` sets
        nudging's per-epoch β schedule."""
        return PCNAlgorithm(
            self.layer_sizes(width, input_dim=input_dim, num_classes=num_classes),
            algorithm=self.algorithm,
            activation=self.activation,
            inference_steps=int(self.inference_steps),
            state_optimizer=self.state_optimizer,
            state_momentum=float(self.state_momentum),
            weight_decay=float(self.weight_decay),
            weight_momentum=float(self.weight_momentum),
            precision=self.precision,
            update_every=int(self.update_every),
            inference_tol=float(self.inference_tol),
            l2_decay=float(self.l2_decay),
            beta0=float(self.beta0),
            beta_rate=float(self.beta_rate),
            cn_schedule=self.cn_schedule,
            alignment=bool(self.track_alignment),
            state_init=self.state_init,
            steps_per_epoch=int(steps_per_epoch),
        )

    def members(self, width: int, *, first_member: int = 0) -> pd.DataFrame:
        """One row per member of ``width``'s program, in training order (optimiser, γ, seed)."""
        rows = [
            {
                "member": first_member + i,
                "dataset": self.dataset,
                "algorithm": self.algorithm,
                "optimizer": opt,
                "state_lr": state_lr,
                "width": int(width),
                "depth": int(self.depth),
                "activation": self.activation,
                "inference_steps": int(self.inference_steps),
                "weight_lr": self.lr_for(opt),
                "weight_decay": float(self.weight_decay),
                "precision": self.precision,
                "update_every": int(self.update_every),
                "inference_tol": float(self.inference_tol),
                "l2_decay": float(self.l2_decay),
                "state_init": self.state_init,
                "seed": seed,
            }
            for i, (opt, state_lr, seed) in enumerate(
                itertools.product(self.optimizers, self.swept_state_lrs, range(self.seeds))
            )
        ]
        return pd.DataFrame(rows)
