"""Energy-based out-of-distribution scores of a PC classifier (PCX paper, Appendix F).

For a test input the output is clamped to the classifier's own prediction (one-hot of
``argmax μ_L``), so before inference ``F = −log max softmax``; inference then relaxes the hidden
states for ``T`` steps and lowers ``F``. Scores: the energy before and after inference (high =
OOD) and the maximum softmax probability (low = OOD), compared by ROC curves and AUROC
(``sklearn.metrics``), over all examples and over the least confident quarter (Fig. 19c, 25);
with ``F = −ln p(x, y; θ)`` (Eq. 7) the mean energy of a set is its negative log-likelihood.

OOD sets made from the ID test set: ``inverted`` (−x), ``rotated`` (90°), ``noise`` (uniform
pixels) and ``shuffled`` (pixels permuted) (:func:`shifted`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from pcdash.pcn.inference import clamped_energy, forward_init, relax
from pcdash.pcn.network import MLP, forward_pass
from pcdash.pcn.optimizers import state_optimizer

SHIFTS = ("noise", "inverted", "rotated", "shuffled")
SCORES = ("energy_before", "energy_after", "max_softmax")
HARD_QUANTILE = 0.25  # the least confident quarter of each score


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
    energy_fn = clamped_energy(mlp, x, target, loss="ce")
    start = forward_init(mlp, x)
    hidden, _, _ = relax(
        energy_fn, start, optimizer=state_optimizer(state_lr, momentum=momentum), steps=steps
    )
    return (
        energy_fn(start)[0],
        energy_fn(hidden)[0],
        jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1),
    )


def score_frame(
    mlp: MLP,
    x_id: np.ndarray,
    x_ood: np.ndarray,
    *,
    steps: int,
    state_lr: float,
    momentum: float = 0.9,
) -> pd.DataFrame:
    """One row per example: ``set`` (ID/OOD), ``energy_before``, ``energy_after`` and
    ``max_softmax``."""
    frames = []
    for name, x in (("ID", x_id), ("OOD", x_ood)):
        b, a, s = _scores(
            mlp,
            jnp.asarray(x.reshape(len(x), -1)),
            np.float32(state_lr),
            steps=steps,
            momentum=float(momentum),
        )
        frames.append(
            pd.DataFrame(
                {
                    "set": name,
                    "energy_before": np.asarray(b),
                    "energy_after": np.asarray(a),
                    "max_softmax": np.asarray(s),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def roc_table(
    scores: pd.DataFrame, least_confident: float | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
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
    return (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["score", "fpr", "tpr"])
    ), auroc


def nll_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per set: the negative log-likelihood ``mean F = −mean ln p(x, y; θ)`` (nats per example,
    Eq. 7) before and after inference, and the mean max softmax."""
    return (
        scores.groupby("set", sort=False)[list(SCORES)]
        .mean()
        .rename(columns={"energy_before": "nll_before", "energy_after": "nll_after"})
        .reset_index()
    )
