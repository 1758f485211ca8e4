"""The models of the BP-vs-PC comparison: PC with Whittington & Bogacz's conditions kept or
relaxed, and BP on the same MLP, named as in the paper.

The paper names a network ``algorithm_width_depth_relaxedConditions``: ``pc_256_8`` is standard
PC (inference converged before every weight update: condition 2; unit variances: condition 3),
``pc_256_8_rc2`` relaxes condition 2 (the weights are updated every 8 of the 256 inference steps),
``pc_256_8_rc3`` relaxes condition 3 (trainable variances), ``pc_256_8_rc23`` both, and
``bp_256_8`` is backprop. ``_wd`` adds the mild weight decay of its Fig. 6. A condition here is
the name without width and depth (``pc``, ``pc_rc2``, ``pc_rc3``, ``pc_rc23``, ``bp``, each
optionally ``_wd``); :func:`paper_name` adds them back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pcdash.errors import ConfigError
from pcdash.experiments.comparison import ComparisonConfig, ComparisonOutput
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.pcn.network import MLP

CONDITIONS = (
    "pc",
    "pc_rc2",
    "pc_rc3",
    "pc_rc23",
    "pc_rc23_wd",
    "bp",
)  # the paper's models (Figs. 2–6)
_NAME = re.compile(r"^(?P<algo>pc|bp)(?:_rc(?P<relaxed>23|2|3))?(?P<wd>_wd)?$")


def parse_conditions(text: str | Sequence[str]) -> tuple[str, ...]:
    """Comma-separated condition names, checked, in order, without repeats."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ConfigError("choose at least one condition")
    for n in names:
        m = _NAME.match(n)
        if m is None or (m["algo"] == "bp" and m["relaxed"]):
            raise ConfigError(
                f"unknown condition {n!r}; choose from {', '.join(CONDITIONS)} (any may end in _wd)"
            )
    return tuple(dict.fromkeys(names))


def paper_name(condition: str, width: int, depth: int) -> str:
    """``pc_rc2`` at width 256 and depth 8 → ``pc_256_8_rc2`` (the paper's naming)."""
    algo, _, rest = condition.partition("_")
    return "_".join(p for p in (algo, str(int(width)), str(int(depth)), rest) if p)


def condition_config(
    condition: str,
    base: PCNConfig,
    *,
    relaxed_every: int = 8,
    relaxed_lr: float | None = None,
    precision: str = "layer",
    weight_decay: float = 1e-6,
) -> PCNConfig:
    """The configuration of one model of the comparison.

    Args:
        condition: a name accepted by :func:`parse_conditions`.
        base: what every model shares (data, width, depth, ``inference_steps`` T, the
            convergence tolerance of standard inference, epochs, seeds, learning rates).
        relaxed_every: condition 2 relaxed: the weights are updated every ``k`` of the T steps
            (the paper: 8 of 256); such models always run all T steps.
        relaxed_lr: weight learning rate of the models with condition 2 relaxed (default:
            ``base.weight_lr``; the paper needed 1e-5 with conditions 2 and 3 relaxed).
        precision: condition 3 relaxed: ``"layer"`` (a variance per layer, the paper's Eq. 6)
            or ``"neuron"``.
        weight_decay: the ``_wd`` models' weight decay, as a Gaussian prior (L2 through Adam,
            ``l2_decay``); the others have none.
    """
    m = _NAME.match(parse_conditions([condition])[0])
    assert m is not None
    relaxed = m["relaxed"] or ""
    changes: dict = {
        "algorithm": "bp-se" if m["algo"] == "bp" else "pc-se",
        "precision": "none",
        "update_every": 0,
        "weight_decay": 0.0,
        "l2_decay": float(weight_decay) if m["wd"] else 0.0,
    }
    if "2" in relaxed:
        changes |= {"update_every": int(relaxed_every), "inference_tol": 0.0}
        if relaxed_lr is not None:
            changes["weight_lr"] = float(relaxed_lr)
    if "3" in relaxed:
        changes["precision"] = precision
    return replace(base, **changes).validate()


def comparison_variants(
    conditions: Sequence[str], base: PCNConfig, **options
) -> list[tuple[str, PCNConfig]]:
    """``(paper name, config)`` for every condition, in order (see :func:`condition_config`)."""
    width, depth = base.widths[0], base.depth
    return [
        (paper_name(c, width, depth), condition_config(c, base, **options))
        for c in parse_conditions(conditions)
    ]


@dataclass(frozen=True)
class ComparisonSetting:
    """Everything the PC-vs-BP page sets: the models (``conditions``) and what they share.

    :data:`QUICK` is the page's default (digits, seconds on two CPU cores); :data:`PAPER` the
    comparison paper's setting where it gives one (FashionMNIST, 256 × 8, 256 inference steps
    always run, weights every 8 steps, 1e-5 for the relaxed models); see
    :data:`pcdash.paper.pages.PC_VS_BP` for what differs and why.
    """

    dataset: str = "digits"
    conditions: tuple[str, ...] = CONDITIONS
    width: int = 64
    depth: int = 8
    inference_steps: int = 256  # T: at most this many steps (exactly this many for rc2 models)
    inference_tol: float = 1e-3  # standard inference stops when every layer's energy changes less
    relaxed_every: int = 8
    precision: str = "layer"
    weight_decay: float = 1e-6
    weight_lr: float = 1e-3
    relaxed_lr: float = 1e-4
    state_lr: float = 0.1
    epochs: int = 8  # BP (the reference) reaches 92% on digits by then; at 4 it is still at 65%
    seeds: int = 1
    batch_size: int = 32

    def comparison(self, *, track_alignment: bool = True) -> ComparisonConfig:
        """The models as one :class:`~pcdash.experiments.comparison.ComparisonConfig`."""
        return ComparisonConfig(tuple(self.variants(track_alignment=track_alignment)))

    def variants(self, *, track_alignment: bool = True) -> list[tuple[str, PCNConfig]]:
        """``(paper name, config)`` of every model."""
        base = PCNConfig(
            dataset=self.dataset,
            widths=(int(self.width),),
            depth=int(self.depth),
            epochs=int(self.epochs),
            seeds=int(self.seeds),
            batch_size=int(self.batch_size),
            inference_steps=int(self.inference_steps),
            inference_tol=float(self.inference_tol),
            state_lrs=(float(self.state_lr),),
            weight_lr=float(self.weight_lr),
            track_alignment=track_alignment,
        )
        return comparison_variants(
            self.conditions,
            base,
            relaxed_every=self.relaxed_every,
            relaxed_lr=self.relaxed_lr,
            precision=self.precision,
            weight_decay=self.weight_decay,
        )


QUICK = ComparisonSetting()
PAPER = replace(
    QUICK,
    dataset="fashion_mnist",
    width=256,
    inference_tol=0.0,
    relaxed_lr=1e-5,
    epochs=20,
    batch_size=64,
)


# ------------------------------------------------------------------------------ what the page draws


@dataclass
class Landscapes:
    """Each trained model's seed-0 member (``models``) and its loss over the plane spanned by two
    filter-normalised random directions (:func:`pcdash.pcn.landscape.loss_landscape`, the same
    directions for every model): ``surfaces[name][j, i]`` at ``(alphas[i], alphas[j])``."""

    models: dict[str, MLP]
    alphas: np.ndarray
    surfaces: dict[str, np.ndarray]

    def frame(self) -> pd.DataFrame:
        """One row per model and grid point: ``model, alpha, beta, loss``."""
        a = self.alphas
        return pd.DataFrame(
            [
                {"model": n, "alpha": float(a[i]), "beta": float(a[j]), "loss": float(z[j, i])}
                for n, z in self.surfaces.items()
                for j in range(len(a))
                for i in range(len(a))
            ]
        )

    def sharpness(self) -> dict[str, float]:
        """Per model: :func:`pcdash.pcn.landscape.sharpness` of its surface."""
        from pcdash.pcn.landscape import sharpness

        return {n: sharpness(self.alphas, self.alphas, z) for n, z in self.surfaces.items()}

    def weights(self, layers: Sequence[int], per_layer: int = 5000) -> pd.DataFrame:
        """``model, layer, weight``: up to ``per_layer`` weights of each chosen layer (1-based)."""
        return pd.DataFrame(
            [
                {"model": n, "layer": i, "weight": float(w)}
                for n, m in self.models.items()
                for i in layers
                for w in np.asarray(m.weights[i - 1]).ravel()[:per_layer]
            ]
        )


def landscapes(
    result: ComparisonOutput,
    dataset: str,
    *,
    span: float = 1.0,
    points: int = 21,
    examples: int = 256,
    val_fraction: float = 0.1,
) -> Landscapes:
    """The loss landscapes of a finished comparison's models on the first ``examples`` test
    examples of ``dataset``, within ``±span`` along each direction (seed 0)."""
    from pcdash.data import load_dataset
    from pcdash.engine import member_slice
    from pcdash.pcn.landscape import loss_landscape

    data = load_dataset(dataset, val_fraction=val_fraction)
    x, y = data.x_test[:examples], data.y_test[:examples]
    models = {n: member_slice(run.mlp, 0) for n, run in result.runs.items()}
    out = {n: loss_landscape(m, x, y, seed=0, span=span, points=points) for n, m in models.items()}
    alphas = next(iter(out.values()))[0] if out else np.zeros(0, np.float32)
    return Landscapes(models, alphas, {n: o[2] for n, o in out.items()})
