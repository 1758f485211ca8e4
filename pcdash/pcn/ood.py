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
FashionMNIST downloaded, ``fashion_mnist`` as well."""

from __future__ import annotations

from dataclasses import dataclass

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
from pcdash.pcn.network import MLP, forward_pass

SHIFTS = ("noise", "inverted", "rotated", "shuffled")
OOD_SETS = (*SHIFTS, "fashion_mnist")
SCORES = ("energy_before", "energy_after", "max_softmax")
HARD_QUANTILE = 0.25  # the least confident quarter of each score


@dataclass(frozen=True)
class OODConfig:
    dataset: str = "digits"
    ood: str = "noise"
    hidden: int = 128
    depth: int = 2
    epochs: int = 10
    batch_size: int = 64
    gamma: float = 0.05
    weight_lr: float = 1e-3
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
        check(min(self.epochs, self.batch_size, self.train_steps, self.test_steps, self.n_test) >= 1,
              "epochs, batch size, steps and test examples must be ≥ 1")
        check(0 < self.gamma <= 1 and self.weight_lr > 0, "γ must lie in (0, 1] and the weight learning rate be > 0")
        return limits.check(self)

    def key(self) -> str:
        return config_key("ood", self)


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


@jax.jit
def _scores(mlp: MLP, x, state_lr, steps_like):
    """Per example: energy before and after ``len(steps_like)`` inference steps with the output
    clamped to the prediction, and the max softmax."""
    steps = steps_like.shape[0]
    logits = forward_pass(mlp, x)[-1]
    target = jax.nn.one_hot(jnp.argmax(logits, axis=-1), logits.shape[-1])

    def one(xi, ti):
        hidden, trace = inference(mlp, xi[None], ti[None], steps=steps, state_lr=state_lr, loss="ce")
        final = jnp.sum(layer_energies(mlp, xi[None], hidden, ti[None], loss="ce"))
        return jnp.sum(trace[0]), final

    before, after = jax.vmap(one)(x, target)
    return before, after, jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1)


def score_frame(mlp: MLP, x_id: np.ndarray, x_ood: np.ndarray, *, steps: int, state_lr: float) -> pd.DataFrame:
    """One row per example: ``set`` (ID/OOD), ``energy_before``, ``energy_after``, ``max_softmax``."""
    frames = []
    for name, x in (("ID", x_id), ("OOD", x_ood)):
        b, a, s = _scores(mlp, jnp.asarray(x.reshape(len(x), -1)), np.float32(state_lr), np.zeros(steps, np.int8))
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


def run_ood(config: OODConfig, on_progress=None, should_stop=None) -> PartResult:
    config.validate()
    data = load_dataset(config.dataset)
    x_train = data.x_train.reshape(len(data.x_train), -1)
    sizes = (x_train.shape[1], *([config.hidden] * config.depth), data.num_classes)
    algo = PCNAlgorithm(sizes, algorithm="pc-ce", activation="gelu", inference_steps=config.train_steps)
    hp = {k: np.zeros(1, np.float32) for k in HYPERPARAMETERS}
    hp.update(state_lr=np.array([config.gamma]), weight_lr=np.array([config.weight_lr]), opt_id=np.array([0.0]))
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
    scores = score_frame(member_slice(res.carry, 0).mlp, x_id, x_ood, steps=config.test_steps, state_lr=config.gamma)
    roc, auroc = roc_table(scores)
    roc_hard, auroc_hard = roc_table(scores, least_confident=HARD_QUANTILE)
    out.tables = {"scores": scores, "roc": roc, "roc_hard": roc_hard, "nll": nll_table(scores)}
    out.scalars = {**{f"auroc_{k}": v for k, v in auroc.items()}, **{f"auroc_hard_{k}": v for k, v in auroc_hard.items()}}
    out.arrays = {"x_id": x_id[:8], "x_ood": x_ood[:8]}
    if res.history[-1].evals:
        out.scalars["test_accuracy"] = float(res.history[-1].evals["test"]["accuracy"][0])
    out.seconds = rep.elapsed()
    return out
