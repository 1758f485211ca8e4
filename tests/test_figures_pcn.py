"""Structural and numerical checks of the PCN figure builders on synthetic results (no training)."""

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pcdash.figures.pcn import (
    accuracy_vs_gamma,
    accuracy_vs_gamma_by_width,
    energy_per_layer_over_epochs,
    energy_ratio_vs_gamma,
    energy_vs_step,
    energy_vs_step_grid,
    gamma_color,
    layer_label,
    pcn_training_curves,
    width_gamma_grid,
)
from pcdash.figures.style import figure_data

OPTIMIZERS = ("sgd", "adamw")
GAMMAS = (0.01, 0.1, 1.0)
WIDTHS = (64, 128)
SEEDS = 2
EPOCHS = 3
LAYERS = 3
DIVERGED = (
    "adamw",
    1.0,
    128,
    1,
)  # (optimizer, γ, width, seed) of the member that diverges at epoch 2
SEED_FACTOR = (2.0, 0.5)  # per-seed factor on the ratio: geometric mean 1, arithmetic mean 1.25


def true_ratio(gamma: float) -> float:
    """The synthetic energy_1 / energy_L at γ (geometric mean over the two seeds)."""
    return gamma**2


def accuracy_of(opt, gamma, width, seed, epoch, split):
    base = 0.9 - 0.2 * np.log10(gamma) * (0.1 if opt == "sgd" else -0.3) - 0.001 * width / 64
    return base + 0.01 * epoch + 0.013 * seed + {"train": 0.02, "val": 0.0, "test": -0.01}[split]


def make_frame(diverged=DIVERGED, widths=WIDTHS, epochs=EPOCHS):
    rows, member = [], 0
    for width in widths:
        for opt in OPTIMIZERS:
            for gamma in GAMMAS:
                for seed in range(SEEDS):
                    bad = diverged is not None and (opt, gamma, width, seed) == diverged
                    for epoch in range(1, epochs + 1):
                        gone = bad and epoch >= 2
                        out = 0.5 + 0.1 * epoch  # output-layer energy
                        energies = {
                            "energy_1": out * true_ratio(gamma) * SEED_FACTOR[seed],
                            "energy_2": out * np.sqrt(true_ratio(gamma)),
                            "energy_3": out,
                        }
                        for split in ("train", "val", "test"):
                            acc = accuracy_of(opt, gamma, width, seed, epoch, split)
                            rows.append(
                                dict(
                                    member=member,
                                    dataset="digits",
                                    algorithm="pc-se",
                                    optimizer=opt,
                                    state_lr=gamma,
                                    width=width,
                                    seed=seed,
                                    epoch=epoch,
                                    split=split,
                                    accuracy=np.nan if gone else acc,
                                    loss=np.nan if gone else 1.0 - acc,
                                    diverged=gone,
                                    **{k: np.nan if gone else v for k, v in energies.items()},
                                )
                            )
                    member += 1
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frame():
    return make_frame()


def role(fig, r, series=None):
    return [
        t
        for t in fig.data
        if isinstance(t.meta, dict)
        and t.meta.get("role") == r
        and (series is None or t.meta.get("series") == series)
    ]


def annotation(fig, name):
    hits = [a for a in fig.layout.annotations if a.name == name]
    return hits[0] if hits else None


def final_test(frame):
    rows = frame[
        (frame["split"] == "test") & (frame["epoch"] == frame["epoch"].max()) & ~frame["diverged"]
    ]
    return rows


def make_trace(steps=8):
    """(T + 1, L) energies: hidden layers exactly 0 at t = 0 (forward initialisation)."""
    t = np.arange(steps + 1, dtype=float)
    out = 10.0 * np.exp(-0.2 * t)
    return np.stack([1e-6 * t, 1e-3 * t, out], axis=-1)


# --------------------------------------------------------------------------- energy vs step


def test_energy_vs_step_one_log_line_per_layer_and_clipped_zeros():
    trace = make_trace()
    fig = energy_vs_step(trace, title="member 3")
    assert fig.layout.yaxis.type == "log"
    assert len(fig.data) == LAYERS
    assert [t.name for t in fig.data] == ["layer 1 (first hidden)", "layer 2", "layer 3 (output)"]
    assert len({t.line.color for t in fig.data}) == LAYERS
    for layer, t in enumerate(fig.data):
        assert list(t.x) == list(range(trace.shape[0]))
        y = np.asarray(t.y, float)
        assert np.all(y > 0), "nothing non-positive may reach a log axis"
        np.testing.assert_allclose(y[1:], trace[1:, layer])
    # Step 0 of the hidden layers is 0: drawn at a floor below the smallest positive value, hover
    # says so.
    first = fig.data[0]
    assert first.y[0] < 1e-6
    assert first.customdata[0][0] == 0.0 and "log scale" in first.customdata[0][1]
    assert first.customdata[1][1] == ""
    fig.to_json()


def test_energy_vs_step_empty_and_diverged():
    for arr in (np.empty((0, 3)), np.full((5, 3), np.nan), None):
        fig = energy_vs_step(arr)
        assert annotation(fig, "no-data") is not None
        assert not fig.data


def test_layer_label_single_layer():
    assert layer_label(1, 1) == "layer 1 (output)"


def test_energy_vs_step_grid_panels_shared_log_y():
    members = pd.DataFrame(
        [
            (m, g, s, "sgd", 64)
            for m, (g, s) in enumerate((g, s) for g in GAMMAS for s in range(SEEDS))
        ],
        columns=["member", "state_lr", "seed", "optimizer", "width"],
    )
    traces = np.stack([make_trace() * (1 + m) for m in range(len(members))])
    traces[2] = np.nan  # γ = 0.1, seed 0 diverged: the panel shows seed 1
    traces[4:6] = np.nan  # both seeds of γ = 1 diverged: the panel says so
    fig = energy_vs_step_grid(traces, members)
    assert len(fig.data) == 2 * LAYERS  # two panels with lines, one "diverged" panel
    assert [t.meta["seed"] for t in fig.data[::LAYERS]] == [0, 1]
    assert [t.meta["state_lr"] for t in fig.data[::LAYERS]] == [0.01, 0.1]
    assert sum(t.showlegend is not False for t in fig.data) == LAYERS  # legend once per layer
    yaxes = [k for k in fig.layout.to_plotly_json() if k.startswith("yaxis")]
    assert len(yaxes) == 3
    assert all(fig.layout[k].type == "log" for k in yaxes)
    assert all(fig.layout[k].matches == "y" for k in yaxes if k != "yaxis")
    assert [a.text for a in fig.layout.annotations if a.name == "diverged-panel"] == ["diverged"]
    assert annotation(fig, "diverged").text.startswith("3 diverged")
    titles = [a.text for a in fig.layout.annotations if a.name is None]
    assert "γ = 0.1<br><sup>seed 1</sup>" in titles
    np.testing.assert_allclose(np.asarray(fig.data[LAYERS + 2].y, float)[1:], traces[3, 1:, 2])
    with pytest.raises(ValueError):
        energy_vs_step_grid(traces[:3], members)
    assert annotation(energy_vs_step_grid(traces[:0], members.iloc[:0]), "no-data") is not None


def test_energy_vs_step_grid_titles_fit_their_panels():
    """Issue 9: the per-γ panels' titles overlapped ("γ = 0.003 (seed 0)" over 4 panels a row in
    half the page). Each title line now fits in its panel: at most 12 characters per line, and
    the panel (1/5 of the figure at most, less the spacing) is wider than that line."""
    gammas = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    members = pd.DataFrame({"state_lr": gammas, "seed": [0] * len(gammas)})
    fig = energy_vs_step_grid(np.stack([make_trace() for _ in gammas]), members)
    titles = [a for a in fig.layout.annotations if a.name is None]
    assert len(titles) == len(gammas)
    for a in titles:
        lines = [re.sub("<[^>]+>", "", line) for line in a.text.split("<br>")]
        assert max(len(line) for line in lines) <= 12, a.text
    domains = [fig.layout[k].domain for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]
    widths = sorted(d[1] - d[0] for d in domains)
    # 12 characters of a 13 px font take about 85 px; the page draws the grid 1,000 px wide or more.
    assert widths[0] * 1000 >= 12 * 13 * 0.55, widths


# --------------------------------------------------------------------------- accuracy vs γ


def test_accuracy_vs_gamma_means_ci_and_diverged(frame):
    fig = accuracy_vs_gamma(frame[frame["width"] == 128])
    assert fig.layout.xaxis.type == "log"
    means = role(fig, "mean")
    assert [t.name for t in means] == ["AdamW", "SGD"]
    rows = final_test(frame[frame["width"] == 128])
    bad = make_frame().query("diverged")["member"].unique()
    assert len(bad) == 1 and bad[0] not in set(rows["member"])
    for t in means:
        opt = "sgd" if t.name == "SGD" else "adamw"
        expect = rows[rows["optimizer"] == opt].groupby("state_lr")["accuracy"].mean()
        np.testing.assert_allclose(t.x, expect.index.to_numpy())
        np.testing.assert_allclose(t.y, expect.to_numpy())
        assert list(t.customdata[:, 2]) == ([2, 2, 1] if opt == "adamw" else [2, 2, 2])
        lo, hi = role(fig, "ci_lower", t.name)[0], role(fig, "ci_upper", t.name)[0]
        assert np.all(np.asarray(lo.y) <= np.asarray(t.y) + 1e-12)
        assert np.all(np.asarray(t.y) <= np.asarray(hi.y) + 1e-12)
        assert np.all(np.asarray(hi.y) - np.asarray(lo.y) > 0) or opt == "adamw"
        assert hi.fill == "tonexty"
    note = annotation(fig, "diverged")
    assert note is not None and note.text.startswith("1 diverged") and "γ = 1 seed 1" in note.text
    assert len(figure_data(fig)) > 0
    fig.to_json()


def test_accuracy_vs_gamma_splits_widths_not_pooled(frame):
    fig = accuracy_vs_gamma(frame)
    names = [t.name for t in role(fig, "mean")]
    assert names == ["AdamW, width 64", "AdamW, width 128", "SGD, width 64", "SGD, width 128"]
    dashes = {t.name: t.line.dash for t in role(fig, "mean")}
    assert dashes["SGD, width 64"] == dashes["AdamW, width 64"] != dashes["SGD, width 128"]


def test_accuracy_vs_gamma_bp_reference(frame):
    bp = frame[frame["state_lr"] == 0.1].assign(
        algorithm="bp-se", state_lr=np.nan, member=lambda d: d["member"] + 1000
    )
    fig = accuracy_vs_gamma(pd.concat([frame[frame["width"] == 64], bp[bp["width"] == 64]]))
    refs = role(fig, "bp")
    assert sorted(t.name for t in refs) == ["BP-SE, AdamW", "BP-SE, SGD"]
    assert len(role(fig, "mean")) == 2  # BP members have no γ: not a point on the γ axis


# --------------------------------------------------------------------------- energy ratio vs γ


def test_energy_ratio_is_geometric_mean_of_member_ratios(frame):
    fig = energy_ratio_vs_gamma(frame[frame["width"] == 64])
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    means = role(fig, "mean")
    assert len(means) == 2
    for t in means:
        np.testing.assert_allclose(t.x, GAMMAS)
        np.testing.assert_allclose(t.y, [true_ratio(g) for g in GAMMAS], rtol=1e-9)
        lo, hi = role(fig, "ci_lower", t.name)[0], role(fig, "ci_upper", t.name)[0]
        assert np.all(np.asarray(lo.y) > 0)
        assert np.all(np.asarray(lo.y) < np.asarray(t.y)) and np.all(
            np.asarray(t.y) < np.asarray(hi.y)
        )
    members = role(fig, "members")[0]
    assert len(members.y) == len(GAMMAS) * SEEDS
    assert annotation(fig, "diverged") is None  # the diverged member is at width 128


def test_energy_ratio_excludes_diverged_and_counts_zero_ratios(frame):
    f = frame[frame["width"] == 128].copy()
    zero = (
        f["member"]
        == f.loc[
            (f["optimizer"] == "sgd") & (f["state_lr"] == 0.01) & (f["seed"] == 0), "member"
        ].iloc[0]
    )
    f.loc[zero, "energy_1"] = 0.0
    fig = energy_ratio_vs_gamma(f)
    adamw = role(fig, "mean", "AdamW")[0]
    np.testing.assert_allclose(adamw.y[:2], [true_ratio(g) for g in GAMMAS[:2]], rtol=1e-9)
    # γ = 1: only seed 0 is left, its ratio is 2 × true ratio.
    assert adamw.customdata[2][2] == 1
    np.testing.assert_allclose(adamw.y[2], SEED_FACTOR[0] * true_ratio(1.0))
    sgd = role(fig, "mean", "SGD")[0]
    np.testing.assert_allclose(sgd.y[0], SEED_FACTOR[1] * true_ratio(0.01))
    assert annotation(fig, "nonpositive").text.startswith("1 member")
    assert annotation(fig, "diverged").text.startswith("1 diverged")
    assert all(np.all(np.asarray(t.y, float) > 0) for t in fig.data)


def test_energy_ratio_leaves_out_members_that_did_not_train(frame):
    """PCX Fig. 6d plots only models that trained: members below ``min_accuracy`` are dropped and
    counted, the rest keep their geometric mean."""
    f = frame[frame["width"] == 64].copy()
    failed = (f["optimizer"] == "adamw") & (f["state_lr"] == 1.0)
    f.loc[failed, "accuracy"] = 0.1
    fig = energy_ratio_vs_gamma(f, min_accuracy=0.55)
    adamw = role(fig, "mean", "AdamW")[0]
    np.testing.assert_allclose(adamw.x, GAMMAS[:2])
    np.testing.assert_allclose(adamw.y, [true_ratio(g) for g in GAMMAS[:2]], rtol=1e-9)
    np.testing.assert_allclose(role(fig, "mean", "SGD")[0].x, GAMMAS)
    assert annotation(fig, "untrained").text.startswith(f"{SEEDS} member(s) below accuracy 0.55")
    assert annotation(energy_ratio_vs_gamma(f), "untrained") is None


def stability_frame() -> pd.DataFrame:
    """Final test accuracies of a width × γ × optimiser grid (10 classes, cut 0.55): AdamW at
    width 64 trains up to γ = 0.1, at width 128 only at 0.01 (and again, by luck, at γ = 1);
    SGD trains everywhere; one AdamW seed at width 128, γ = 0.01 diverged."""
    rows, member = [], 0
    fails = {("adamw", 64): {1.0}, ("adamw", 128): {0.1}}
    for width in WIDTHS:
        for opt in OPTIMIZERS:
            for gamma in GAMMAS:
                for seed in range(SEEDS):
                    acc = 0.1 if gamma in fails.get((opt, width), set()) else 0.9
                    gone = (opt, width, gamma, seed) == ("adamw", 128, 0.01, 1)
                    rows.append(
                        dict(
                            member=member,
                            dataset="digits",
                            algorithm="pc-ce",
                            optimizer=opt,
                            state_lr=gamma,
                            width=width,
                            seed=seed,
                            epoch=1,
                            split="test",
                            diverged=gone,
                            accuracy=np.nan if gone else acc + 0.01 * seed,
                        )
                    )
                    member += 1
    return pd.DataFrame(rows)


def test_stability_figure_rings_the_largest_gamma_that_still_trains():
    """PCX Fig. 7: one panel per optimiser (SGD first), one line per width of seed-mean accuracy
    (a diverged seed counts as chance), a ring at the largest γ up to which every γ trains."""
    f = stability_frame()
    fig = accuracy_vs_gamma_by_width(f, num_classes=10)
    lines = [t for t in fig.data if isinstance(t.meta, dict) and "role" not in t.meta]
    assert [(t.meta["optimizer"], t.meta["width"]) for t in lines] == [
        ("sgd", 64),
        ("sgd", 128),
        ("adamw", 64),
        ("adamw", 128),
    ]
    adamw_128 = lines[3]
    np.testing.assert_allclose(adamw_128.x, GAMMAS)
    np.testing.assert_allclose(adamw_128.y, [(0.9 + 0.1) / 2, 0.1 + 0.005, 0.9 + 0.005])
    rings = {(t.meta["optimizer"], t.meta["width"]): t.x[0] for t in role(fig, "stable")}
    assert rings == {
        ("sgd", 64): 1.0,
        ("sgd", 128): 1.0,
        ("adamw", 64): 0.1,
    }  # adamw 128: 0.5 < 0.55 at γ = 0.01
    cut = role(fig, "trained_cut")
    assert len(cut) == 2 and cut[0].y[0] == pytest.approx(0.55)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"
    assert annotation(fig, "diverged").text.startswith("1 diverged")


# --------------------------------------------------------------------------- width × γ grid


def test_width_gamma_grid_values_are_seed_means(frame):
    f = frame.copy()
    both = (
        (f["optimizer"] == "adamw")
        & (f["state_lr"] == 1.0)
        & (f["width"] == 64)
        & (f["epoch"] >= 3)
    )
    f.loc[both, "diverged"] = True  # every seed of this cell diverged
    f.loc[both, "accuracy"] = np.nan
    fig = width_gamma_grid(f, optimizer="adamw")
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 1
    z = np.asarray(heat[0].z, float)
    assert z.shape == (len(WIDTHS), len(GAMMAS))
    assert list(heat[0].x) == ["0.01", "0.1", "1"] and list(heat[0].y) == ["64", "128"]
    rows = final_test(f[f["optimizer"] == "adamw"])
    expect = rows.groupby(["width", "state_lr"])["accuracy"].mean().unstack()
    for i, w in enumerate(WIDTHS):
        for j, g in enumerate(GAMMAS):
            if (w, g) == (64, 1.0):
                assert np.isnan(z[i, j]) and heat[0].text[i][j] == "div"
            else:
                np.testing.assert_allclose(z[i, j], expect.loc[w, g])
    assert heat[0].text[1][2].endswith("*")  # width 128, γ = 1: one seed of two diverged
    assert list(heat[0].customdata[1][2]) == [1, 1]
    assert heat[0].text[0][0] == f"{expect.loc[64, 0.01]:.2f}"
    assert annotation(fig, "diverged").text.startswith("3 diverged")


def test_width_gamma_grid_one_panel_per_optimizer(frame):
    fig = width_gamma_grid(frame)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert [t.name for t in heat] == ["SGD", "AdamW"]
    assert all(np.asarray(t.z, float).shape == (2, 3) for t in heat)
    assert [t.showscale for t in heat] == [False, True]
    assert fig.layout.xaxis.type == "category"
    fig.to_json()
    assert annotation(width_gamma_grid(frame, optimizer="adam"), "no-data") is not None


# --------------------------------------------------------------------------- over epochs


def test_pcn_training_curves_groups_and_styles(frame):
    fig = pcn_training_curves(frame[frame["width"] == 64])
    lines = [
        t for t in fig.data if not (isinstance(t.meta, dict) and t.meta.get("role") == "legend")
    ]
    assert len(lines) == len(OPTIMIZERS) * len(GAMMAS) * SEEDS * 2
    groups = {t.legendgroup for t in lines}
    assert len(groups) == len(OPTIMIZERS) * len(GAMMAS)
    assert "AdamW, γ = 0.01" in groups
    assert sum(t.showlegend is not False for t in lines) == len(groups)
    assert {t.line.dash for t in lines if t.meta["split"] == "val"} == {"solid"}
    assert {t.line.dash for t in lines if t.meta["split"] == "train"} == {"dash"}
    colors = {t.meta["state_lr"]: t.line.color for t in lines}
    assert len(set(colors.values())) == len(GAMMAS)
    assert all(t.line.color == gamma_color(t.meta["state_lr"]) for t in lines)


def test_pcn_training_curves_diverged_curve_stops(frame):
    fig = pcn_training_curves(frame[frame["width"] == 128])
    bad = [
        t for t in fig.data if isinstance(t.meta, dict) and "(diverged)" in (t.hovertemplate or "")
    ]
    assert len(bad) == 2 and all(list(t.x) == [1] for t in bad)


def test_energy_per_layer_over_epochs(frame):
    sub = frame[(frame["optimizer"] == "sgd") & (frame["state_lr"] == 0.1) & (frame["width"] == 64)]
    fig = energy_per_layer_over_epochs(sub)
    assert fig.layout.yaxis.type == "log"
    means = role(fig, "mean")
    assert [t.name for t in means] == ["layer 1 (first hidden)", "layer 2", "layer 3 (output)"]
    out = 0.5 + 0.1 * np.arange(1, EPOCHS + 1)
    np.testing.assert_allclose(
        means[0].y, out * true_ratio(0.1), rtol=1e-9
    )  # geometric mean over seeds
    np.testing.assert_allclose(means[2].y, out, rtol=1e-9)
    for t in means:
        lo, hi = role(fig, "ci_lower", t.name)[0], role(fig, "ci_upper", t.name)[0]
        assert np.all(np.asarray(lo.y) <= np.asarray(t.y) * (1 + 1e-12))
        assert np.all(np.asarray(t.y) <= np.asarray(hi.y) * (1 + 1e-12))
    diverged = energy_per_layer_over_epochs(frame[frame["width"] == 128])
    assert annotation(diverged, "diverged") is not None


# --------------------------------------------------------------------------- empty and partial


def stability_digits(frame):
    return accuracy_vs_gamma_by_width(frame, num_classes=10)


BUILDERS = (
    accuracy_vs_gamma,
    energy_ratio_vs_gamma,
    width_gamma_grid,
    pcn_training_curves,
    energy_per_layer_over_epochs,
    stability_digits,
)


@pytest.mark.parametrize("builder", BUILDERS)
def test_empty_frames_give_no_data(builder, frame):
    for empty in (pd.DataFrame(), frame.iloc[0:0], None):
        fig = builder(empty)
        assert isinstance(fig, go.Figure)
        assert annotation(fig, "no-data") is not None


@pytest.mark.parametrize("builder", BUILDERS)
def test_partial_frames_do_not_crash(builder, frame):
    # A sweep still running: one epoch done for most members, later members not started.
    partial = frame[(frame["epoch"] == 1) & (frame["member"] < 10)]
    fig = builder(partial)
    assert isinstance(fig, go.Figure)
    fig.to_json()
    # Only training rows so far (no evaluation yet).
    fig = builder(partial[partial["split"] == "train"])
    assert isinstance(fig, go.Figure)
    fig.to_json()
    # Every member diverged.
    gone = frame.assign(
        diverged=True,
        accuracy=np.nan,
        loss=np.nan,
        energy_1=np.nan,
        energy_2=np.nan,
        energy_3=np.nan,
    )
    fig = builder(gone)
    assert isinstance(fig, go.Figure)
    fig.to_json()


def test_partial_accuracy_uses_each_members_last_epoch(frame):
    partial = frame[(frame["epoch"] <= 2) | (frame["member"] % 2 == 0)]
    fig = accuracy_vs_gamma(partial[partial["width"] == 64])
    sgd = role(fig, "mean", "SGD")[0]
    rows = partial[
        (partial["split"] == "test") & (partial["width"] == 64) & (partial["optimizer"] == "sgd")
    ]
    last = rows[rows["epoch"] == rows.groupby("member")["epoch"].transform("max")]
    np.testing.assert_allclose(sgd.y, last.groupby("state_lr")["accuracy"].mean().to_numpy())
