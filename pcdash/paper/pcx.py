"""The PCX benchmark paper's figures (Pinchetti et al.; ``references/pcx-benchmark-paper.md``):
Fig. 6(a–d) and Fig. 7 (§5.1, App. D), Table 1's MLP rows (§4.1), and the generative ones of
§4.2 and App. F (Table 2 / Fig. 3, Fig. 4, Table 3 / Fig. 5, Fig. 19–25), with the checks that
decide their claims from pcdash's results."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcdash.paper.catalogue import Claim, Figure, Verdict, decide, undecided
from pcdash.paper.experiments import (
    AUTOENCODER,
    ENERGY,
    INIT,
    INIT_STATE_LRS,
    INIT_STEPS,
    MCPC,
    MEMORY,
    OOD,
    STABILITY,
    TABLE1,
)

# PCX paper, Table 1, MLP rows: mean test accuracy (%) and std over 5 seeds.
PCX_TABLE1_MLP: dict[str, dict[str, tuple[float, float]]] = {
    "mnist": {
        "pc-ce": (98.11, 0.03),
        "pc-se": (98.26, 0.04),
        "pn": (98.36, 0.06),
        "nn": (98.26, 0.07),
        "cn": (98.23, 0.09),
        "ipc": (98.45, 0.09),
        "bp-ce": (98.07, 0.06),
        "bp-se": (98.29, 0.08),
    },
    "fashion_mnist": {
        "pc-ce": (89.16, 0.08),
        "pc-se": (89.58, 0.13),
        "pn": (89.57, 0.08),
        "nn": (89.46, 0.08),
        "cn": (89.56, 0.05),
        "ipc": (89.90, 0.06),
        "bp-ce": (89.04, 0.08),
        "bp-se": (89.48, 0.07),
    },
}
NUDGING = ("pn", "nn", "cn")
# Fig. 6(b): "the energy in the last layer is orders of magnitude larger than the one in the input
# layer".
ENERGY_ORDERS = 100.0


def _classes(result) -> int:
    from pcdash.pcn.stability import dataset_classes

    return dataset_classes(str(result.frame["dataset"].iloc[0]))


def _summary(result) -> pd.DataFrame:
    from pcdash.pcn.stability import member_summary

    return member_summary(result.frame, _classes(result))


# --------------------------------------------------------------------------- Fig. 6(a)


def check_forward_init(result) -> Verdict:
    """Forward initialisation trains best at the smallest T, and the gap to the other
    initialisations is smaller at the largest T."""
    from pcdash.figures.paper import best_accuracy_by_init

    best = best_accuracy_by_init(result.frame)
    if best.empty or "forward" not in set(best["state_init"]) or best["state_init"].nunique() < 2:
        return undecided("needs forward initialisation and at least one other")
    acc = best.set_index(["state_init", "inference_steps"])["accuracy"]
    steps = sorted(set(best["inference_steps"]))
    others = [i for i in best["state_init"].unique() if i != "forward"]
    gap = {
        t: float(acc[("forward", t)] - max(acc[(o, t)] for o in others))
        for t in (steps[0], steps[-1])
    }
    numbers = {f"{i}_T{t}": float(acc[(i, t)]) for i, t in acc.index}
    numbers |= {f"gap_T{t}": g for t, g in gap.items()}
    holds = gap[steps[0]] > 0 and gap[steps[-1]] < gap[steps[0]]
    return decide(
        holds,
        numbers,
        (
            f"highest test accuracy at T = {steps[0]}: forward {acc[('forward', steps[0])]:.3f}, "
            + ", ".join(f"{o} {acc[(o, steps[0])]:.3f}" for o in others)
            + f"; forward's lead {gap[steps[0]]:+.3f} at T = {steps[0]} and {gap[steps[-1]]:+.3f} "
            f"at T = {steps[-1]}"
        ),
    )


# --------------------------------------------------------------------------- Fig. 6(b–d)


def best_member(result, optimizer: str = "adamw") -> int | None:
    """The row (in ``result.members``/``energy_trace`` order) of the most accurate ``optimizer``
    member (Fig. 6b shows the best model of the grid)."""
    summary = _summary(result)
    mine = summary[(summary["optimizer"] == optimizer) & ~summary["diverged"]].dropna(
        subset=["accuracy"]
    )
    if mine.empty:
        return None
    member = int(mine.loc[mine["accuracy"].idxmax(), "member"])
    rows = np.flatnonzero(result.members["member"].to_numpy() == member)
    return int(rows[0]) if len(rows) else None


def check_energy_concentrated(result) -> Verdict:
    """After the T inference steps of the best AdamW model's last training batch, the output
    layer's energy is still orders of magnitude above the first hidden layer's."""
    row = best_member(result)
    if row is None or not np.isfinite(result.energy_trace[row]).all():
        return undecided("needs a trained AdamW model with an energy trace")
    last = result.energy_trace[row][-1]
    ratio = float(last[-1] / max(last[0], 1e-30))
    gamma = float(result.members.iloc[row]["state_lr"])
    return decide(
        ratio >= ENERGY_ORDERS,
        {
            "output_over_first_hidden": ratio,
            "gamma": gamma,
            "energy_first_hidden": float(last[0]),
            "energy_output": float(last[-1]),
        },
        f"best AdamW model (γ = {gamma:g}): after T steps the output energy is {ratio:.3g}× the "
        "first hidden "
        f"layer's (needs ≥ {ENERGY_ORDERS:g})",
    )


def check_gamma_one_worse(result) -> Verdict:
    """γ = 1 trains at least 10 points worse than the best γ, for each weight optimiser (mean over
    seeds; a diverged seed counts as chance)."""
    summary = _summary(result)
    chance = 1.0 / _classes(result)
    acc = summary.assign(
        accuracy=pd.to_numeric(summary["accuracy"], errors="coerce")
        .where(~summary["diverged"])
        .fillna(chance)
    )
    mean = acc.groupby(["optimizer", "state_lr"])["accuracy"].mean()
    if 1.0 not in set(summary["state_lr"]):
        return undecided("needs γ = 1 in the grid")
    numbers: dict[str, float] = {}
    parts, holds = [], True
    for opt in sorted(summary["optimizer"].unique()):
        best, at_one = float(mean[opt].max()), float(mean[(opt, 1.0)])
        numbers |= {
            f"{opt}_best": best,
            f"{opt}_best_gamma": float(mean[opt].idxmax()),
            f"{opt}_gamma1": at_one,
        }
        holds &= at_one <= best - 0.10
        parts.append(f"{opt}: {at_one:.2f} at γ = 1 vs {best:.2f} at γ = {mean[opt].idxmax():g}")
    return decide(holds, numbers, "; ".join(parts) + " (γ = 1 must be ≥ 0.10 below the best)")


def check_ratio_rises(result) -> Verdict:
    """The first-hidden ÷ output energy ratio rises with γ, from ≤ 1e-3 at γ = 0.01 to ≥ 0.1 at
    γ = 1 (geometric mean over the members that trained, both optimisers pooled)."""
    from pcdash.pcn.stability import energy_ratio_by_gamma

    pooled = energy_ratio_by_gamma(_summary(result).assign(optimizer="any")).set_index("state_lr")[
        "ratio"
    ]
    if not {0.01, 1.0} <= set(pooled.index) or pooled.isna().any():
        return undecided("needs trained members at every γ, including 0.01 and 1")
    rising = bool(np.all(np.diff(pooled.to_numpy()) > 0))
    holds = rising and pooled[0.01] <= 1e-3 and pooled[1.0] >= 0.1
    return decide(
        holds,
        {f"ratio_gamma{g:g}": float(v) for g, v in pooled.items()},
        "energy ratio (first hidden ÷ output) by γ: "
        + ", ".join(f"{g:g}: {v:.2g}" for g, v in pooled.items())
        + f" ({'rising' if rising else 'not rising'}; needs ≤ 1e-3 at 0.01 and ≥ 0.1 at 1)",
    )


# --------------------------------------------------------------------------- Fig. 7


def check_adamw_shrinks(result) -> Verdict:
    """With AdamW the largest γ that still trains is smaller at the widest width than at the
    narrowest; with SGD it is not smaller."""
    from pcdash.pcn.stability import largest_stable_state_lr

    table = largest_stable_state_lr(_summary(result), _classes(result))
    stable = table.set_index(["optimizer", "width"])["stable_state_lr"]
    widths = sorted(table["width"].unique())
    if len(widths) < 2 or not {"adamw", "sgd"} <= set(table["optimizer"]):
        return undecided("needs AdamW and SGD at two widths or more")
    lo, hi = widths[0], widths[-1]
    a_lo, a_hi, s_lo, s_hi = (float(stable[(o, w)]) for o in ("adamw", "sgd") for w in (lo, hi))
    holds = (
        np.isfinite(a_lo)
        and (not np.isfinite(a_hi) or a_hi < a_lo)
        and np.isfinite(s_hi)
        and s_hi >= s_lo
    )
    numbers = {f"{o}_width{int(w)}": float(v) for (o, w), v in stable.items()}
    return decide(
        holds,
        numbers,
        f"largest γ that trains, width {lo} → {hi}: AdamW {a_lo:g} → {a_hi:g}, SGD "
        f"{s_lo:g} → {s_hi:g} (AdamW's must shrink, SGD's must not)",
    )


# --------------------------------------------------------------------------- Table 1


def _table1(result) -> pd.Series:
    from pcdash.figures.pc_compare import algorithm_table

    return algorithm_table(result.frame).set_index("variant")["accuracy_mean"]


def check_ipc_best(result) -> Verdict:
    acc = _table1(result)
    if "ipc" not in acc or len(acc) < 2:
        return undecided("needs iPC and another rule")
    runner_up = acc.drop("ipc").idxmax()
    return decide(
        acc.idxmax() == "ipc",
        {f"accuracy_{k}": float(v) for k, v in acc.items()},
        f"best rule: {acc.idxmax()} ({acc.max():.2f}%); iPC {acc['ipc']:.2f}%, the best other rule "
        f"{runner_up} {acc[runner_up]:.2f}%",
    )


def check_se_beats_ce(result) -> Verdict:
    acc = _table1(result)
    if not {"pc-se", "pc-ce", "bp-se", "bp-ce"} <= set(acc.index):
        return undecided("needs PC-SE, PC-CE, BP-SE and BP-CE")
    holds = acc["pc-se"] > acc["pc-ce"] and acc["bp-se"] > acc["bp-ce"]
    return decide(
        holds,
        {k: float(acc[k]) for k in ("pc-se", "pc-ce", "bp-se", "bp-ce")},
        f"PC: SE {acc['pc-se']:.2f}% vs CE {acc['pc-ce']:.2f}%; BP: SE {acc['bp-se']:.2f}% vs CE "
        f"{acc['bp-ce']:.2f}%",
    )


def check_nudging_best(result) -> Verdict:
    acc = _table1(result)
    nudging = [a for a in NUDGING if a in acc]
    others = [a for a in acc.index if a not in NUDGING]
    if not nudging or not others:
        return undecided("needs a nudging rule and another rule")
    best_n, best_o = acc[nudging].idxmax(), acc[others].idxmax()
    return decide(
        acc[best_n] > acc[best_o],
        {f"accuracy_{k}": float(v) for k, v in acc.items()},
        f"best nudging rule {best_n} {acc[best_n]:.2f}% vs best other rule {best_o} "
        f"{acc[best_o]:.2f}%",
    )


# --------------------------------------------------------------------------- generative


def check_autoencoders_comparable(result) -> Verdict:
    """PC and BP autoencoders of the same decoder reach comparable test MSE: the PC model's (its
    best γ) within a factor 1.5 of BP's."""
    table = result.tables.get("mse")
    if table is None or not {"PC", "BP"} <= set(table["model"]):
        return undecided("needs the PC and the BP autoencoder")
    pc = table[table["model"] == "PC"].groupby("state_lr")["mse"].mean()
    bp = float(table[table["model"] == "BP"]["mse"].mean())
    ratio = float(pc.min()) / bp
    return decide(
        1 / 1.5 <= ratio <= 1.5,
        {
            "pc_mse": float(pc.min()),
            "pc_gamma": float(pc.idxmin()),
            "bp_mse": bp,
            "pc_over_bp": ratio,
        },
        f"test MSE per pixel: PC {pc.min():.4f} (γ = {pc.idxmin():g}) vs BP {bp:.4f}, ratio "
        f"{ratio:.2f} "
        "(comparable: within 1/1.5 … 1.5)",
    )


def check_mcpc_learns_density(result) -> Verdict:
    """After training, MCPC's samples are much closer to the data than before: the kernel MMD²
    falls to less than half, and the distance of the first two moments falls."""
    s = result.scalars
    if "mmd_after" not in s:
        return undecided("needs MCPC samples before and after training")
    holds = s["mmd_after"] < 0.5 * s["mmd_before"] and s["distance_after"] < s["distance_before"]
    return decide(
        holds,
        {k: s[k] for k in ("mmd_before", "mmd_after", "distance_before", "distance_after")},
        f"MMD² {s['mmd_before']:.4f} → {s['mmd_after']:.4f}; moment distance "
        f"{s['distance_before']:.3f} → "
        f"{s['distance_after']:.3f}",
    )


def _recall(result, kind: str) -> pd.DataFrame:
    from pcdash.paper.runners import recall_table

    return recall_table(result.tables.get("recall"), kind)


def check_capacity_n(result) -> Verdict:
    """Recall from half-masked images gets harder as more images are stored: the recall MSE
    with the most images stored is above the one with the fewest, at every width."""
    table = _recall(result, "mask")
    if table.empty or len(table.index) < 2:
        return undecided("needs at least two numbers of stored images")
    lo, hi = table.index.min(), table.index.max()
    numbers = {
        f"mask_n{n}_width{w}": float(table.loc[n, w]) for n in (lo, hi) for w in table.columns
    }
    holds = bool((table.loc[hi] > table.loc[lo]).all())
    return decide(
        holds,
        numbers,
        "mask recall MSE, fewest → most images stored: "
        + ", ".join(
            f"width {w}: {table.loc[lo, w]:.4f} → {table.loc[hi, w]:.4f}" for w in table.columns
        ),
    )


def check_capacity_width(result) -> Verdict:
    """Wider networks store more: with the most images stored, the widest network recalls masked
    images with a lower MSE than the narrowest."""
    table = _recall(result, "mask")
    if table.empty or len(table.columns) < 2:
        return undecided("needs at least two widths")
    n, lo, hi = table.index.max(), table.columns.min(), table.columns.max()
    return decide(
        table.loc[n, hi] < table.loc[n, lo],
        {
            f"mask_n{n}_width{lo}": float(table.loc[n, lo]),
            f"mask_n{n}_width{hi}": float(table.loc[n, hi]),
        },
        f"mask recall MSE with {n} images: width {lo} {table.loc[n, lo]:.4f}, width {hi} "
        f"{table.loc[n, hi]:.4f}",
    )


def check_energy_detects_ood(result) -> Verdict:
    """The PCN's energy after inference separates in- from out-of-distribution data at least as
    well as the max softmax, on all examples and on the least confident quarter (AUROC)."""
    s = result.scalars
    keys = (
        "auroc_energy_after",
        "auroc_max_softmax",
        "auroc_hard_energy_after",
        "auroc_hard_max_softmax",
    )
    if not all(k in s for k in keys[:2]):
        return undecided("needs the AUROCs of the energy and the max softmax")
    hard = [s.get(keys[2], np.nan), s.get(keys[3], np.nan)]
    holds = s[keys[0]] >= s[keys[1]] and (not np.all(np.isfinite(hard)) or hard[0] >= hard[1])
    quarter = (
        f"{hard[0]:.3f} vs {hard[1]:.3f}"
        if np.all(np.isfinite(hard))
        else "not decided (one set only among the least confident)"
    )
    return decide(
        holds,
        {k: s.get(k, np.nan) for k in (*keys, "auroc_energy_before", "test_accuracy")},
        f"AUROC, all examples: energy after inference {s[keys[0]]:.3f} vs max softmax "
        f"{s[keys[1]]:.3f}; "
        f"least confident quarter: {quarter}",
    )


# --------------------------------------------------------------------------- plots and tables


def _plot_init(result):
    from pcdash.figures.paper import accuracy_vs_steps_by_init

    return accuracy_vs_steps_by_init(result.frame)


def _plot_energy_step(result):
    from pcdash.figures.pcn import energy_vs_step
    from pcdash.figures.style import empty_figure

    row = best_member(result)
    if row is None:
        return empty_figure("No AdamW model trained")
    m = result.members.iloc[row]
    return energy_vs_step(
        result.energy_trace[row],
        title=f"Best AdamW model · γ = {m['state_lr']:g} · width {m['width']}",
    )


def _plot_accuracy_gamma(result):
    from pcdash.figures.pcn import accuracy_vs_gamma

    return accuracy_vs_gamma(result.frame)


def _plot_ratio(result):
    from pcdash.figures.pcn import energy_ratio_vs_gamma
    from pcdash.pcn.stability import trained_accuracy

    return energy_ratio_vs_gamma(result.frame, min_accuracy=trained_accuracy(_classes(result)))


def _plot_stability(result):
    from pcdash.figures.pcn import accuracy_vs_gamma_by_width

    return accuracy_vs_gamma_by_width(result.frame, _classes(result))


def _plot_table1(result):
    from pcdash.figures.paper import table1_bars
    from pcdash.figures.pc_compare import algorithm_table
    from pcdash.pcn.algorithms import ALGORITHM_LABELS

    return table1_bars(algorithm_table(result.frame), PCX_TABLE1_MLP, ALGORITHM_LABELS)


def _plot_autoencoder(result):
    from pcdash.figures.generative import mse_bars, reconstructions

    return [reconstructions(result.arrays), mse_bars(result.tables.get("mse"))]


def _plot_mcpc(result):
    from pcdash.figures.generative import density_2d, sample_grid

    a = result.arrays
    if "image_shape" in a:
        shape = tuple(int(i) for i in a["image_shape"])
        return [
            sample_grid(a["samples_before"], shape, title="Before training"),
            sample_grid(a["samples"], shape, title="After training"),
        ]
    return [
        density_2d(a["data"], a["samples_before"], title="Before training"),
        density_2d(a["data"], a["samples"], title="After training"),
    ]


def _mcpc_table(result) -> pd.DataFrame:
    a = result.arrays
    parts = [
        pd.DataFrame(a[k].reshape(len(a[k]), -1)).add_prefix("x").assign(kind=kind)
        for k, kind in (
            ("data", "data"),
            ("samples_before", "before training"),
            ("samples", "after training"),
        )
    ]
    return pd.concat(parts, ignore_index=True)


def _plot_memory(result):
    from pcdash.figures.generative import recall_heatmap

    return [
        recall_heatmap(_recall(result, k), title=f"Recall MSE · {name}")
        for k, name in (("noise", "Gaussian noise"), ("mask", "bottom half erased"))
    ]


def _plot_ood(result):
    from pcdash.figures.generative import ood_histograms, roc_curves
    from pcdash.paper.runners import ood_scores

    auroc = {
        k: result.scalars[f"auroc_{k}"] for k in ood_scores() if f"auroc_{k}" in result.scalars
    }
    return [
        ood_histograms(result.tables.get("scores")),
        roc_curves(result.tables.get("roc"), auroc),
    ]


ENERGY_SETTING = (
    "2 hidden layers, 8 epochs, T = 8, forward initialisation, states by plain SGD, PC-CE on a "
    "linear output, AdamW and SGD (momentum 0.9) at App. D.2's weight learning rate"
)
DIGITS = (
    "dataset: 8×8 digits (1,297 training images) instead of FashionMNIST (60,000), so it runs "
    "offline in seconds"
)

FIGURES = (
    Figure(
        "pcx-fig6a",
        "pcx",
        "Fig. 6a",
        "State initialisation against inference steps T",
        "Highest test accuracy for different initialisation methods and iteration steps T used "
        "during training "
        "(a three-layer model on FashionMNIST).",
        INIT,
        (
            Claim(
                "Forward initialisation is the better method, although the gap in performance "
                "shrinks the more "
                "iterations T are performed.",
                "qualitative (Fig. 6a)",
                check_forward_init,
                True,
            ),
        ),
        paper_setting="a 3-layer feed-forward PCN on FashionMNIST; states initialised to zero, "
        "from a Gaussian or by a "
        "forward pass; the highest accuracy over a hyperparameter search per cell (its grid and T "
        "values are not given).",
        offline_setting=f"the Energy page's setting ({ENERGY_SETTING}) with AdamW only, γ = "
        f"{', '.join(f'{g:g}' for g in INIT_STATE_LRS)} (each cell shows its best γ), T = "
        f"{', '.join(map(str, INIT_STEPS))}, on digits.",
        full_setting="the same on FashionMNIST, T = 2 … 64 (--dataset fashion_mnist, without "
        "--quick).",
        differences=(
            DIGITS,
            "the Gaussian start is h ~ N(0, I); the paper does not give its variance",
            "a small γ grid instead of the paper's search",
        ),
        plot=_plot_init,
        table=lambda r: r.frame,
        page_label="Energy dynamics (State initialisation)",
        shows="The highest test accuracy of each way to start the states (forward pass, zero, "
        "Gaussian) against the "
        "inference steps T used in training: the forward pass wins when T is small.",
    ),
    Figure(
        "pcx-fig6b",
        "pcx",
        "Fig. 6b; Fig. 14a (two moons)",
        "Energy of each layer during inference",
        "Energies per layer during inference of the best-performing model (γ = 0.003), a "
        "three-layer model on "
        "FashionMNIST.",
        ENERGY,
        (
            Claim(
                "The energy in the last layer is orders of magnitude larger than in the first "
                "layers, even after "
                "several inference steps.",
                "Fig. 6b: about 6 orders of magnitude at the best γ = 0.003",
                check_energy_concentrated,
                True,
            ),
        ),
        paper_setting="the best model of App. D.1's grid (AdamW, γ = 0.003, width 1024 on "
        "FashionMNIST); energies "
        "as the L2 norm over the batch.",
        offline_setting=f"the Energy page's default ({ENERGY_SETTING}; width 64, γ 0.01 … 1, 3 "
        "seeds) on digits; the "
        "most accurate AdamW model.",
        full_setting="FashionMNIST at width 1024 with γ 0.001 … 1 (without --quick).",
        differences=(
            DIGITS,
            "the model shown on the page is the one you pick (by default the best AdamW model of "
            "the "
            "run); width 64 and γ ≥ 0.01",
            "energies are batch means; PCX's plotting code draws the energy of "
            "the last inference step at the end of each of the 8 epochs on an axis labelled T, "
            "here the x "
            "axis is the inference step",
        ),
        plot=_plot_energy_step,
        table=lambda r: r.frame,
        page_label="Energy dynamics",
        shows="Energy of each layer over the inference steps of the last training batch: the error "
        "starts in the "
        "output layer and only a little of it reaches the first hidden layer.",
    ),
    Figure(
        "pcx-fig6c",
        "pcx",
        "Fig. 6c; Fig. 14b (two moons)",
        "Accuracy against the state learning rate γ",
        "Decay in accuracy when increasing the state learning rate γ, with SGD and Adam.",
        ENERGY,
        (
            Claim(
                "Models trained with a state learning rate γ = 1 achieve much worse performance "
                "than with smaller γ.",
                "Fig. 6c (FashionMNIST), Fig. 14b (two moons)",
                check_gamma_one_worse,
                True,
            ),
        ),
        paper_setting="HardTanh, width 1024, SGD (momentum 0.9) and AdamW, box plots over weight "
        "learning rates "
        "1e-5 … 1 and 3 seeds.",
        offline_setting=f"the Energy page's default ({ENERGY_SETTING}; width 64, γ 0.01 … 1, 3 "
        "seeds) on digits.",
        full_setting="FashionMNIST at width 1024 (without --quick).",
        differences=(
            DIGITS,
            "one weight learning rate per optimiser (App. D.2's: 0.01 for image sets, 0.03 for two "
            "moons) instead of a box over the rates 1e-5 … 1",
            "width 64; mean and 95% interval over 3 seeds",
        ),
        plot=_plot_accuracy_gamma,
        table=lambda r: r.frame,
        page_label="Energy dynamics",
        shows="Final test accuracy against the state learning rate γ for the two weight "
        "optimisers: small γ trains "
        "best, γ = 1 does not.",
    ),
    Figure(
        "pcx-fig6d",
        "pcx",
        "Fig. 6d; Fig. 14c (two moons)",
        "Energy imbalance between layers against γ",
        "Imbalance between the energies of the layers (ratios) against γ, over the AdamW models "
        "that trained.",
        ENERGY,
        (
            Claim(
                "The first hidden layer's energy is orders of magnitude below the output's for "
                "small γ and becomes "
                "similar as γ approaches 1.",
                "§5.1: about 6 orders of magnitude lower at γ = 0.01, similar at γ = 1",
                check_ratio_rises,
                True,
            ),
        ),
        paper_setting="every AdamW model of App. D.1's grid with accuracy > 0.5 (all widths, "
        "activations and "
        "learning rates); neighbouring-layer ratios.",
        offline_setting="the Energy page's default on digits; first hidden ÷ output of the members "
        "that trained "
        "(at least halfway from chance to 1), both optimisers pooled.",
        full_setting="FashionMNIST at width 1024 (without --quick).",
        differences=(
            DIGITS,
            "first hidden ÷ output, as the paper's text states it, at width 64 and one weight "
            "learning rate; the members that trained (accuracy at least halfway from chance to 1; "
            "PCX's cut "
            "of 0.5 keeps two-moons models at chance)",
            "the check pools both optimisers: on digits no AdamW "
            "model trains at γ = 1 with App. D.2's rate (PCX's pooled grid has AdamW models with "
            "small "
            "learning rates that do)",
        ),
        plot=_plot_ratio,
        table=lambda r: r.frame,
        page_label="Energy dynamics",
        shows="Energy of the first hidden layer ÷ energy of the output layer against γ: orders of "
        "magnitude below 1 "
        "at γ = 0.01, rising towards balance as γ grows.",
    ),
    Figure(
        "pcx-fig7",
        "pcx",
        "Fig. 7; Fig. 16 (two moons)",
        "Training stability: width × γ × weight optimiser",
        "Accuracy against γ for increasing widths, with AdamW and SGD (LeakyReLU, FashionMNIST).",
        STABILITY,
        (
            Claim(
                "With AdamW the accuracy plummets to chance for progressively smaller γ as the "
                "width grows; with SGD "
                "it does not.",
                "Fig. 7 (FashionMNIST), Fig. 16 (two moons)",
                check_adamw_shrinks,
                True,
            ),
        ),
        paper_setting="LeakyReLU, widths 32 … 4096, γ 1e-5 … 0.3, SGD and AdamW with momentum 0.9 "
        "at 0.01 "
        "(FashionMNIST) or 0.03 (two moons); 3 seeds (10 on two moons).",
        offline_setting="the Energy page's width sweep: LeakyReLU, widths 64, 256, 1024, γ 0.01 … "
        "1, 3 seeds, on "
        "digits; a γ trains when its seed-mean accuracy is at least halfway from chance to 1.",
        full_setting="FashionMNIST, widths 32 … 2048 (without --quick).",
        differences=(
            DIGITS,
            "widths 64, 256 and 1024 and γ 0.01 … 1 (wider layers take minutes on a CPU); 3 seeds",
            "a γ trains when the seed-mean test accuracy is at least halfway from chance to 1; the "
            "smallest "
            "γ can also fall short by training too little (1,294 training images on digits, 60,000 "
            "on "
            "FashionMNIST)",
        ),
        plot=_plot_stability,
        table=lambda r: r.frame,
        page_label="Energy dynamics (Training stability)",
        shows="Accuracy against γ for each width, per weight optimiser: with AdamW the largest γ "
        "that still trains "
        "shrinks as the layers widen; with SGD it does not.",
    ),
    Figure(
        "pcx-table1",
        "pcx",
        "Table 1 (MLP rows)",
        "Learning rules against backprop on an MLP",
        "Test accuracy (%) of PC-CE, PC-SE, PN, NN, CN, iPC, BP-CE and BP-SE; the MLP rows are "
        "MNIST and "
        "FashionMNIST with 3 hidden layers of 128, 5 seeds.",
        TABLE1,
        (
            Claim(
                "iPC performs well on small architectures: it is the best-performing rule on MNIST "
                "and FashionMNIST.",
                "Table 1, MLP: iPC 98.45% (MNIST), 89.90% (FashionMNIST), the best of the eight",
                check_ipc_best,
                True,
            ),
            Claim(
                "On the MLP the squared error beats the cross-entropy, for PC and for BP.",
                "Table 1, MLP, MNIST: PC-SE 98.26 > PC-CE 98.11, BP-SE 98.29 > BP-CE 98.07",
                check_se_beats_ce,
                True,
            ),
            Claim(
                "The best-performing algorithms are the nudging ones (PN, NN, CN).",
                "Table 1 (VGG and ResNet rows)",
                check_nudging_best,
                False,
                "the paper says this of its most complex tasks (VGG/ResNet); on the MLP its own "
                "numbers put iPC first, "
                "and so do ours",
            ),
        ),
        paper_setting="MLP 3 × 128 on MNIST and FashionMNIST, 25 epochs, batch 128, 5 seeds, every "
        "rule tuned "
        "(states: SGD with searched momentum; weights: AdamW with warm-up and cosine schedule).",
        offline_setting="the PC algorithms page's default: 3 × 128, 8 epochs, batch 32, 5 seeds, "
        "one shared setting "
        "(γ = 0.1, T = 8, AdamW 1e-3) for every rule, on digits.",
        full_setting="MNIST or FashionMNIST, 25 epochs, batch 128 (--dataset, without --quick).",
        differences=(
            "dataset: digits instead of MNIST/FashionMNIST",
            "8 epochs and batch 32 (digits has 1,294 training images)",
            "no per-rule hyperparameter search",
        ),
        plot=_plot_table1,
        table=lambda r: r.frame,
        page_label="PC algorithms",
    ),
    Figure(
        "pcx-table2",
        "pcx",
        "Table 2 and Fig. 3",
        "PC and BP autoencoders",
        "Reconstruction MSE of BP, PC and iPC autoencoders (Table 2) and CIFAR-10 reconstructions "
        "(Fig. 3).",
        AUTOENCODER,
        (
            Claim(
                "PC and BP autoencoders reach comparable reconstruction error.",
                "Table 2 (MSE ×10⁻³ per dataset)",
                check_autoencoders_comparable,
                True,
            ),
        ),
        paper_setting="3-layer decoders (PC: the latent inferred, then decoded) against 3+3-layer "
        "BP autoencoders; "
        "MNIST and FashionMNIST with MLPs, batch 200, 30 epochs, searched hyperparameters.",
        offline_setting="the Generative page's autoencoder tab: latent 8, one hidden layer of 64, "
        "HardTanh, T = 20, "
        "γ ∈ {0.1, 0.3}, 8 epochs, on digits.",
        full_setting="MNIST or FashionMNIST with the paper's sizes (latent 64, 2 × 128, 30 "
        "epochs).",
        differences=(
            "dataset: digits (64 pixels: a latent of 64 would be no bottleneck)",
            "smaller models, 8 epochs",
            "no iPC column",
        ),
        plot=_plot_autoencoder,
        table=lambda r: r.tables.get("mse", r.frame),
        page_label="Generative & memory",
    ),
    Figure(
        "pcx-fig4",
        "pcx",
        "Fig. 4 (left)",
        "MCPC samples of a learned density",
        "Contour plot of the generative distribution MCPC learned, against the iris data.",
        MCPC,
        (
            Claim(
                "MCPC learns a multimodal data distribution and samples from it.",
                "qualitative (contours over the iris data)",
                check_mcpc_learns_density,
                True,
            ),
        ),
        paper_setting="iris (sepal and petal length), '[2 × 64 × 2]', γ = 0.01, momentum 0.9, 500 "
        "inference steps per "
        "update and 10,000 for sampling, 10,200 weight updates.",
        offline_setting="the Generative page's MCPC tab on iris: latent 2, 50 inference steps per "
        "update, 1,000 "
        "sampling steps, 100 weight updates.",
        full_setting="the paper's iris setting exactly (without --quick; about half an hour on two "
        "CPU cores).",
        differences=(
            "fewer inference steps and weight updates (seconds instead of half an hour)",
            "a 2-d instead of a 64-d latent",
        ),
        plot=_plot_mcpc,
        table=_mcpc_table,
        page_label="Generative & memory",
    ),
    Figure(
        "pcx-table3",
        "pcx",
        "Table 3 and Fig. 5",
        "Associative memory",
        "Recall MSE from noisy (σ = 0.2) or half-masked keys, by images stored and width (Tiny "
        "ImageNet).",
        MEMORY,
        (
            Claim(
                "Recall from masked keys gets harder the more images are stored.",
                "Table 3, mask, width 512: 0.06, 1.15, 39.1 (×10⁻⁴) for 50, 100, 250 images",
                check_capacity_n,
                True,
            ),
            Claim(
                "Wider networks store more images: with many stored, the widest recalls masked "
                "keys best.",
                "Table 3, mask, 250 images: 39.1, 3.74, 0.22 (×10⁻⁴) at width 512, 1024, 2048",
                check_capacity_width,
                False,
                "on digits with the quick setting (widths 32 and 64, 300 full-batch steps) the "
                "wider network "
                "recalls 64 stored images no better: both are far from Table 3's widths, and the "
                "quick training "
                "does not fit either to the stored set",
            ),
        ),
        paper_setting="generative PCN [512, d, d, 12288], d ∈ {512, 1024, 2048}, n ∈ {50, 100, "
        "250} Tiny ImageNet "
        "images, 500 epochs, searched γ and lr, 5 seeds.",
        offline_setting="the Generative page's memory tab: [32, w, 64], w ∈ {32, 64}, n ∈ {4, 16, "
        "64} digits, "
        "300 full-batch steps, 400 recall steps.",
        full_setting="MNIST or FashionMNIST with 5 seeds (without --quick).",
        differences=(
            "data: 8×8 digits instead of 64×64×3 Tiny ImageNet",
            "one hidden layer; the numbers of images and widths scaled to 64 pixels",
        ),
        plot=_plot_memory,
        table=lambda r: r.tables.get("recall", r.frame),
        page_label="Generative & memory",
    ),
    Figure(
        "pcx-ood",
        "pcx",
        "App. F, Fig. 19–25",
        "Energy-based out-of-distribution detection",
        "Energy and max-softmax histograms of ID and OOD data, and ROC curves of OOD detection "
        "over all examples and "
        "the least confident 25%.",
        OOD,
        (
            Claim(
                "The ROC curves of energy-based detection are superior to those of softmax scores, "
                "more clearly on "
                "the least confident samples.",
                "Fig. 19c and Fig. 25 (MNIST vs FashionMNIST and others)",
                check_energy_detects_ood,
                True,
            ),
        ),
        paper_setting="3 × 512 GELU PC-CE classifier on MNIST, T = 10 (γ = 0.01, no momentum), SGD "
        "0.01, 75 epochs, "
        "T = 100 at test; OOD: FashionMNIST, KMNIST, EMNIST letters, notMNIST.",
        offline_setting="the Generative page's OOD tab: 2 × 128 GELU, T = 8, AdamW, 10 epochs on "
        "digits; OOD: the "
        "digits test set with Gaussian noise.",
        full_setting="MNIST against FashionMNIST with Appendix F's setting (--dataset mnist, "
        "without --quick).",
        differences=(
            "ID/OOD: digits against a noisy copy instead of MNIST against FashionMNIST",
            "a smaller network trained 10 epochs with the PC pages' state optimiser",
        ),
        plot=_plot_ood,
        table=lambda r: r.tables.get("scores", r.frame),
        page_label="Generative & memory",
    ),
)
