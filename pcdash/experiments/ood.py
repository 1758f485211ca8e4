"""Part 4 of the Generative page: energy-based out-of-distribution detection with a PC
classifier (PCX paper, Appendix F).

A PC-CE classifier is trained on the in-distribution (ID) set; its energy with the output
clamped to its own prediction, before and after inference, and its max softmax score the ID
test set against an OOD set (:mod:`pcdash.pcn.ood`). Offline OOD sets are shifted copies of the
ID test set; with MNIST as ID and FashionMNIST downloaded, ``fashion_mnist`` as well (the
paper's pairing).

Two settings: :func:`ood_paper` is Appendix F's (3 hidden layers of 512, GELU, CE output, T = 10
with γ = 0.01 and no state momentum, SGD on the weights with lr 0.01 and momentum 0.9, T = 100
at test); the quick default is a smaller, shorter version that trains in seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.config import Config, choice, require
from pcdash.data import dataset_available, load_dataset
from pcdash.engine import member_slice
from pcdash.experiments.pcn_sweep import to_frame
from pcdash.experiments.result import (
    IMAGE_DATASETS,
    ExperimentResult,
    GenerativeKey,
    generative_experiment,
    train_experiment,
)
from pcdash.pcn.algorithms import PCNAlgorithm, PCNHyper, pcn_hyper
from pcdash.pcn.network import ACTIVATIONS
from pcdash.pcn.ood import HARD_QUANTILE, SHIFTS, nll_table, roc_table, score_frame, shifted
from pcdash.pcn.optimizers import WEIGHT_OPTIMIZERS
from pcdash.sweep import Group, SweepProgress

OOD_SETS = (*SHIFTS, "fashion_mnist")
OOD_PRESETS = ("quick", "paper")


@dataclass(frozen=True)
class OODConfig(GenerativeKey, Config):
    dataset: str = "digits"
    ood: str = "noise"
    hidden: int = 128
    depth: int = 2
    activation: str = "gelu"
    epochs: int = 10
    batch_size: int = 64
    state_lr: float = 0.05  # γ
    state_momentum: float = 0.9  # of the state optimiser, in training and at test
    weight_optimizer: str = "adamw"
    weight_lr: float = 1e-3
    weight_momentum: float = 0.9  # SGD only
    weight_decay: float = 1e-4
    train_steps: int = 8
    test_steps: int = 50
    n_test: int = 300
    seed: int = 0

    KEY_PREFIX = "ood-"
    KIND = "generative-ood"

    def check(self) -> None:
        require(self.dataset in IMAGE_DATASETS, "OOD detection needs an image dataset")
        require(
            self.ood in OOD_SETS, f"unknown OOD set {self.ood!r}; choose from {', '.join(OOD_SETS)}"
        )
        if self.ood == "fashion_mnist":
            require(self.dataset == "mnist", "FashionMNIST is the OOD set of MNIST only")
            require(
                dataset_available("fashion_mnist"),
                "FashionMNIST is not downloaded: put its files into the data folder (see README, "
                "Data)",
            )
        require(self.hidden >= 1 and self.depth >= 1, "width and depth must be ≥ 1")
        choice("activation", self.activation, tuple(ACTIVATIONS))
        require(
            min(self.epochs, self.batch_size, self.train_steps, self.test_steps, self.n_test) >= 1,
            "epochs, batch size, steps and test examples must be ≥ 1",
        )
        require(
            0 < self.state_lr <= 1 and self.weight_lr > 0,
            "γ must lie in (0, 1] and the weight learning rate be > 0",
        )
        require(
            self.weight_optimizer in WEIGHT_OPTIMIZERS,
            f"weight optimiser: one of {', '.join(WEIGHT_OPTIMIZERS)}",
        )
        require(
            0 <= self.state_momentum < 1 and 0 <= self.weight_momentum < 1,
            "momenta must lie in [0, 1)",
        )
        require(self.weight_decay >= 0, "the weight decay must be ≥ 0")


def ood_paper(dataset: str = "digits", ood: str = "noise") -> OODConfig:
    """Appendix F's setting: 3 hidden layers of 512 with GELU and a cross-entropy output;
    training inference T = 10 with γ = 0.01 and no momentum; SGD on the weights, lr 0.01,
    momentum 0.9, no decay; 75 epochs (the paper's early-stopping epoch); T = 100 at test. The
    paper gives no batch size: 128, from PCX's ``OOD_energy.py``. ID MNIST vs OOD FashionMNIST
    in the paper; scored on the first 1,000 test images of each set (all of them on digits)."""
    return OODConfig(
        dataset=dataset,
        ood=ood,
        hidden=512,
        depth=3,
        activation="gelu",
        epochs=75,
        batch_size=128,
        state_lr=0.01,
        state_momentum=0.0,
        weight_optimizer="sgd",
        weight_lr=0.01,
        weight_momentum=0.9,
        weight_decay=0.0,
        train_steps=10,
        test_steps=100,
        n_test=1000,
    )


def default_ood(dataset: str = "digits", ood: str = "noise", preset: str = "quick") -> OODConfig:
    """``"paper"``: :func:`ood_paper`; ``"quick"``: a 2 × 128 network for 10 epochs."""
    if preset == "paper":
        return ood_paper(dataset, ood)
    require(
        preset == "quick", f"unknown OOD preset {preset!r}; choose from {', '.join(OOD_PRESETS)}"
    )
    return OODConfig(dataset=dataset, ood=ood)


def ood_algorithm(
    config: OODConfig, d_in: int, num_classes: int, steps_per_epoch: int = 0
) -> tuple[PCNAlgorithm, PCNHyper]:
    """The PC-CE classifier of ``config`` and its one member's hyperparameters."""
    sizes = (d_in, *([config.hidden] * config.depth), num_classes)
    algo = PCNAlgorithm(
        sizes,
        algorithm="pc-ce",
        activation=config.activation,
        inference_steps=config.train_steps,
        state_momentum=config.state_momentum,
        weight_decay=config.weight_decay,
        weight_momentum=config.weight_momentum,
        steps_per_epoch=steps_per_epoch,
    )
    return algo, pcn_hyper([config.state_lr], [config.weight_lr], [config.weight_optimizer])


def run_ood(
    config: OODConfig,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    backend: Backend | None = None,
) -> ExperimentResult:
    """Train the classifier, then score the ID test set against the OOD set. Returns the frame
    (``model`` "PC classifier"), ``tables`` (``scores`` per example, ``roc`` and ``roc_hard``
    curves, ``nll`` per set), ``scalars`` (AUROC per score, over all and over the least
    confident quarter; the final test accuracy) and a few images of each set."""
    t0 = time.perf_counter()
    config.validate()
    data = load_dataset(config.dataset)
    x_train = data.x_train.reshape(len(data.x_train), -1)
    algo, hp = ood_algorithm(
        config, x_train.shape[1], data.num_classes, len(x_train) // config.batch_size
    )
    members = pd.DataFrame({"member": [0], "model": "PC classifier", "seed": [config.seed]})
    group = Group(
        algo,
        hp,
        np.array([config.seed]),
        members,
        to_frame,
        label="PC-CE classifier",
        return_state=True,
    )
    run = train_experiment(
        [group],
        x_train,
        data.y_train,
        eval_sets={"test": (data.x_test.reshape(len(data.x_test), -1), data.y_test)},
        epochs=config.epochs,
        batch_size=config.batch_size,
        on_progress=on_progress,
        should_stop=should_stop,
        backend=backend,
    )
    out = ExperimentResult(run.frame, stopped=run.stopped)
    res = run.results[0]
    if not res.history:
        return out
    x_id = data.x_test[: config.n_test]
    if config.ood == "fashion_mnist":
        x_ood = load_dataset("fashion_mnist").x_test[: config.n_test]
    else:
        x_ood = shifted(x_id, config.ood, seed=config.seed + 1)
    scores = score_frame(
        member_slice(res.carry, 0).mlp,
        x_id,
        x_ood,
        steps=config.test_steps,
        state_lr=config.state_lr,
        momentum=config.state_momentum,
    )
    roc, auroc = roc_table(scores)
    roc_hard, auroc_hard = roc_table(scores, least_confident=HARD_QUANTILE)
    out.tables = {"scores": scores, "roc": roc, "roc_hard": roc_hard, "nll": nll_table(scores)}
    out.scalars = {
        **{f"auroc_{k}": v for k, v in auroc.items()},
        **{f"auroc_hard_{k}": v for k, v in auroc_hard.items()},
    }
    out.arrays = {"x_id": x_id[:8], "x_ood": x_ood[:8]}
    if res.history[-1].evals:
        out.scalars["test_accuracy"] = float(res.history[-1].evals["test"]["accuracy"][0])
    out.seconds = time.perf_counter() - t0  # training and scoring
    return out


OOD = generative_experiment(
    "ood", run_ood, lambda config: f"OOD · {config.dataset} vs {config.ood}"
)
