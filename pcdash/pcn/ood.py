"""Part 4 of the Generative page: energy-based out-of-distribution detection with a PC
classifier (PCX paper, Appendix F).

A PC-CE classifier is trained on the in-distribution (ID) set. For a test input the output is
clamped to the classifier's own prediction (one-hot of ``argmax μ_L``), so before inference
``F = −log max softmax``; inference then relaxes the hidden states for ``T`` steps and lowers
``F``. Scores: the energy before and after inference (high = OOD) and the maximum softmax
probability (low = OOD), compared by ROC curves and AUROC (``sklearn.metrics``), over all
examples and over the least confident quarter (Fig. 19c, 25); with ``F = −ln p(x, y; θ)``
(Eq. 7) the mean energy of a set is its negative log-likelihood.

Offline OOD sets are shifted copies of the ID test set: ``inverted`` (−x), ``rotated`` (90°),
``noise`` (uniform pixels) and ``shuffled`` (pixels permuted); with MNIST as ID and
FashionMNIST downloaded, ``fashion_mnist`` as well (the paper's pairing).

Two settings: :func:`ood_paper` is Appendix F's (3 hidden layers of 512, GELU, CE output, T = 10
with γ = 0.01 and no state momentum, SGD on the weights with lr 0.01 and momentum 0.9, T = 100
at test); the quick default is a smaller, shorter version that trains in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from pcdash import limits
from pcdash.data import dataset_available, load_dataset
from pcdash.engine import member_slice, train_members
from pcdash.pcn.algorithms import HYPERPARAMETERS, PCNAlgorithm
from pcdash.pcn.energies import layer_energies
from pcdash.pcn.gen_common import PartResult, Reporter, check, config_key
from pcdash.pcn.inference import inference
from pcdash.pcn.network import ACTIVATIONS, MLP, forward_pass
from pcdash.pcn.optimizers import WEIGHT_OPTIMIZERS  # index = PCNAlgorithm's opt_id

SHIFTS = ("noise", "inverted", "rotated", "shuffled")
OOD_SETS = (*SHIFTS, "fashion_mnist")
SCORES = ("energy_before", "energy_after", "max_softmax")
HARD_QUANTILE = 0.25  # the least confident quarter of each score
OOD_PRESETS = ("quick", "paper")


@dataclass(frozen=True)
class OODConfig:
    dataset: str = "digits"
    ood: str = "noise"
    hidden: int = 128
    depth: int = 2
    activation: str = "gelu"
    epochs: int = 10
    batch_size: int = 64
    gamma: float = 0.05
    state_momentum: float = 0.9  # of the state optimiser, in training and at test
    weight_optimizer: str = "adamw"
    weight_lr: float = 1e-3
    weight_momentum: float = 0.9  # SGD only
    weight_decay: float = 1e-4
    train_steps: int = 8
    test_steps: int = 50
    n_test: int = 300
    seed: int = 0

    def validate(self) -> OODConfig:
        check(self.dataset in ("digits", "mnist", "fashion_mnist"), "OOD detection needs an image dataset")
        check(self.ood in OOD_SETS, f"unknown OOD set {self.ood!r}; choose from {', '.join(OOD_SETS)}")
        if self.ood == "fashion_mnist":
            check(self.dataset == "mnist", "FashionMNIST is the OOD set of MNIST only")
            check(dataset_available("fashion_mnist"), "FashionMNIST is not downloaded: run `pcdash data fetch fashion_mnist`")
        check(self.hidden >= 1 and self.depth >= 1, "width and depth must be ≥ 1")
        check(self.activation in ACTIVATIONS, f"unknown activation {self.activation!r}")
        check(min(self.epochs, self.batch_size, self.train_steps, self.test_steps, self.n_test) >= 1,
              "epochs, batch size, steps and test examples must be ≥ 1")
        check(0 < self.gamma <= 1 and self.weight_lr > 0, "γ must lie in (0, 1] and the weight learning rate be > 0")
        check(self.weight_optimizer in WEIGHT_OPTIMIZERS, f"weight optimiser: one of {', '.join(WEIGHT_OPTIMIZERS)}")
        check(0 <= self.state_momentum < 1 and 0 <= self.weight_momentum < 1, "momenta must lie in [0, 1)")
        check(self.weight_decay >= 0, "the weight decay must be ≥ 0")
        return limits.check(self)

    def key(self) -> str:
        return config_key("ood", self)


def ood_paper(dataset: str = "digits", ood: str = "noise") -> OODConfig:
    """Appendix F's setting: 3 hidden layers of 512 with GELU and a cross-entropy output;
    training inference T = 10 with γ = 0.01 and no momentum; SGD on the weights, lr 0.01,
    momentum 0.9, no decay; 75 epochs (the paper's early-stopping epoch); T = 100 at test. The
    paper gives no batch size: 128, from PCX's ``OOD_energy.py``. ID MNIST vs OOD FashionMNIST
    in the paper; scored on the first 1,000 test images of each set (all of them on digits)."""
    return OODConfig(dataset=dataset, ood=ood, hidden=512, depth=3, activation="gelu", epochs=75, batch_size=128,
                     gamma=0.01, state_momentum=0.0, weight_optimizer="sgd", weight_lr=0.01, weight_momentum=0.9,
                     weight_decay=0.0, train_steps=10, test_steps=100, n_test=1000)


def default_ood(dataset: str = "digits", ood: str = "noise", preset: str = "quick") -> OODConfig:
    """``"paper"``: :func:`ood_paper`; ``"quick"``: a 2 × 128 network for 10 epochs."""
    if preset == "paper":
        return ood_paper(dataset, ood)
    check(preset == "quick", f"unknown OOD preset {preset!r}; choose from {', '.join(OOD_PRESETS)}")
    return OODConfig(dataset=dataset, ood=ood)


def shifted(x: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """An OOD copy of images ``x`` (n, H, W, C) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.uniform(-1.0, 1.0, x.shape).astype(np.float32)
    if kind == "inverted":
        return (-x).astype(np.float32)
    if kind == "rotated":
        return np.rot90(x, k=1, axes=(1, 2)).astype(np.float32)
    if kind == "shuffled":
        flat = x.reshape(len(x), -1)
        return flat[:, rng.permutation(flat.shape[1])].reshape(x.shape).astype(np.float32)
    raise ValueError(f"unknown shift {kind!r}; choose from {', '.join(SHIFTS)}")


@partial(jax.jit, static_argnames=("steps", "momentum"))
def _scores(mlp: MLP, x, state_lr, *, steps: int, momentum: float):
    """Per example: energy before and after ``steps`` inference steps (SGD, ``momentum``) with
    the output clamped to the prediction, and the max softmax."""
    logits = forward_pass(mlp, x)[-1]
    target = jax.nn.one_hot(jnp.argmax(logits, axis=-1), logits.shape[-1])

    def one(xi, ti):
        hidden, trace = inference(mlp, xi[None], ti[None], steps=steps, state_lr=state_lr, momentum=momentum,
                                  loss="ce")
        final = jnp.sum(layer_energies(mlp, xi[None], hidden, ti[None], loss="ce"))
        return jnp.sum(trace[0]), final

    before, after = jax.vmap(one)(x, target)
    return before, after, jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1)


def score_frame(mlp: MLP, x_id: np.ndarray, x_ood: np.ndarray, *, steps: int, state_lr: float,
                momentum: float = 0.9) -> pd.DataFrame:
    """One row per example: ``set`` (ID/OOD), ``energy_before``, ``energy_after``, ``max_softmax``."""
    frames = []
    for name, x in (("ID", x_id), ("OOD", x_ood)):
        b, a, s = _scores(mlp, jnp.asarray(x.reshape(len(x), -1)), np.float32(state_lr), steps=steps,
                          momentum=float(momentum))
        frames.append(pd.DataFrame({"set": name, "energy_before": np.asarray(b), "energy_after": np.asarray(a),
                                    "max_softmax": np.asarray(s)}))
    return pd.concat(frames, ignore_index=True)


def roc_table(scores: pd.DataFrame, least_confident: float | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """ROC curves (``score``, ``fpr``, ``tpr``) and AUROC per score, OOD as the positive class
    (energies count high as OOD, the max softmax low).

    ``least_confident=q``: for each score only the examples (ID and OOD pooled) whose score
    says "least confident" — the lowest ``q`` of the max softmax, of ``p = e^{−F}``, i.e. the
    highest energies — the hard cases of the paper's Fig. 19c and 25. A score whose subset holds
    only one of the two sets gets no curve."""
    is_ood_all = (scores["set"] == "OOD").to_numpy()
    rows, auroc = [], {}
    for score in SCORES:
        s = scores[score].to_numpy(np.float64)
        s = -s if score == "max_softmax" else s  # higher = more OOD-like = less confident
        is_ood = is_ood_all
        if least_confident is not None:
            keep = np.isfinite(s) & (s >= np.nanquantile(s, 1.0 - least_confident))
            s, is_ood = s[keep], is_ood[keep]
        ok = np.isfinite(s)
        if ok.sum() < 2 or len(set(is_ood[ok])) < 2:
            continue
        fpr, tpr, _ = roc_curve(is_ood[ok], s[ok])
        auroc[score] = float(roc_auc_score(is_ood[ok], s[ok]))
        rows.append(pd.DataFrame({"score": score, "fpr": fpr, "tpr": tpr}))
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["score", "fpr", "tpr"])), auroc


def nll_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per set: the negative log-likelihood ``mean F = −mean ln p(x, y; θ)`` (nats per example,
    Eq. 7) before and after inference, and the mean max softmax."""
    return (scores.groupby("set", sort=False)[list(SCORES)].mean()
            .rename(columns={"energy_before": "nll_before", "energy_after": "nll_after"}).reset_index())


def ood_algorithm(config: OODConfig, d_in: int, num_classes: int) -> tuple[PCNAlgorithm, dict[str, np.ndarray]]:
    """The PC-CE classifier of ``config`` and its one member's hyperparameters."""
    sizes = (d_in, *([config.hidden] * config.depth), num_classes)
    algo = PCNAlgorithm(sizes, algorithm="pc-ce", activation=config.activation, inference_steps=config.train_steps,
                        state_momentum=config.state_momentum, weight_decay=config.weight_decay,
                        weight_momentum=config.weight_momentum)
    hp = {k: np.zeros(1, np.float32) for k in HYPERPARAMETERS}
    hp.update(state_lr=np.array([config.gamma], np.float32), weight_lr=np.array([config.weight_lr], np.float32),
              opt_id=np.array([float(WEIGHT_OPTIMIZERS.index(config.weight_optimizer))], np.float32))
    return algo, hp


def run_ood(config: OODConfig, on_progress=None, should_stop=None) -> PartResult:
    config.validate()
    data = load_dataset(config.dataset)
    x_train = data.x_train.reshape(len(data.x_train), -1)
    algo, hp = ood_algorithm(config, x_train.shape[1], data.num_classes)
    if "steps_per_epoch" in hp:
        hp["steps_per_epoch"] = np.array([len(x_train) // config.batch_size], np.float32)
    rep = Reporter(on_progress, [1.0])
    res = train_members(algo, hp, np.array([config.seed]), x_train, data.y_train, epochs=config.epochs,
                        batch_size=config.batch_size, eval_sets={"test": (data.x_test.reshape(len(data.x_test), -1),
                                                                          data.y_test)},
                        should_stop=should_stop, on_progress=rep.callback("PC classifier", "PC-CE classifier"))
    rep.finish(res.history, "PC classifier")
    out = PartResult(rep.frame, stopped=res.stopped, seconds=0.0)
    if not res.history:
        return out
    x_id = data.x_test[:config.n_test]
    if config.ood == "fashion_mnist":
        x_ood = load_dataset("fashion_mnist").x_test[:config.n_test]
    else:
        x_ood = shifted(x_id, config.ood, seed=config.seed + 1)
    scores = score_frame(member_slice(res.carry, 0).mlp, x_id, x_ood, steps=config.test_steps, state_lr=config.gamma,
                         momentum=config.state_momentum)
    roc, auroc = roc_table(scores)
    roc_hard, auroc_hard = roc_table(scores, least_confident=HARD_QUANTILE)
    out.tables = {"scores": scores, "roc": roc, "roc_hard": roc_hard, "nll": nll_table(scores)}
    out.scalars = {**{f"auroc_{k}": v for k, v in auroc.items()}, **{f"auroc_hard_{k}": v for k, v in auroc_hard.items()}}
    out.arrays = {"x_id": x_id[:8], "x_ood": x_ood[:8]}
    if res.history[-1].evals:
        out.scalars["test_accuracy"] = float(res.history[-1].evals["test"]["accuracy"][0])
    out.seconds = rep.elapsed()
    return out
