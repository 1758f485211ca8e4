"""Structural checks of the CRE figure builders on synthetic results (no training)."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pcdash.experiments.cre_sweep import Snapshot
from pcdash.figures.cre import (
    latent_dim_curves,
    pareto,
    tradeoff_boxes,
    tradeoff_means,
    training_curves,
)
from pcdash.figures.latent import (
    CAMERAS,
    image_grid,
    latent_2d,
    latent_animation,
    latent_scatter_3d,
    latent_small_multiples,
    reconstruction_grid,
)
from pcdash.figures.style import BLUE, ORANGE, figure_data

LAMS = (0.0, 0.5, 1.0)
SEEDS = 3
EPOCHS = 4
DIVERGED = (0.5, 1)  # (λ, seed) of the member that diverges at epoch 3
CLASSES = ("zero", "one", "two")


def make_frame(
    lams=LAMS, seeds=SEEDS, epochs=EPOCHS, dims=(3,), baselines=False, diverged=DIVERGED
):
    rng = np.random.default_rng(0)
    rows, member = [], 0
    specs = [("cre", d, lam) for d in dims for lam in lams]
    if baselines:
        specs += [(m, d, np.nan) for m in ("pca", "rp") for d in dims]
    for model, dim, lam in specs:
        for seed in range(seeds):
            bad = model == "cre" and diverged is not None and (lam, seed) == diverged
            for epoch in range(1, epochs + 1):
                for split in ("train", "val", "test"):
                    gone = bad and epoch >= 3
                    lam_eff = 0.5 if np.isnan(lam) else lam
                    acc = (
                        0.9
                        - 0.3 * lam_eff
                        + 0.01 * epoch
                        + 0.02 * rng.standard_normal()
                        + 0.01 * np.log(dim)
                    )
                    mse = (
                        0.5
                        - 0.3 * lam_eff
                        - 0.01 * epoch
                        + 0.02 * rng.standard_normal()
                        - 0.01 * np.log(dim)
                    )
                    rows.append(
                        dict(
                            member=member,
                            dataset="digits",
                            arch="fc-small",
                            model=model,
                            latent_dim=dim,
                            lam=lam,
                            seed=seed,
                            epoch=epoch,
                            split=split,
                            accuracy=np.nan if gone else acc,
                            mse=np.nan if gone else mse,
                            ce=np.nan if gone else 1 - acc,
                            loss=(np.nan if gone else 0.3) if split == "train" else np.nan,
                            diverged=gone,
                            epoch_seconds=0.1,
                        )
                    )
            member += 1
    frame = pd.DataFrame(rows)
    if baselines:
        analytic = [
            dict(
                member=member + i,
                dataset="digits",
                arch="fc-small",
                model="pca-analytic",
                latent_dim=d,
                lam=np.nan,
                seed=0,
                epoch=epochs,
                split=s,
                accuracy=np.nan,
                mse=0.3 / d,
                ce=np.nan,
                loss=np.nan,
                diverged=False,
                epoch_seconds=0.0,
            )
            for i, d in enumerate(dims)
            for s in ("val", "test")
        ]
        frame = pd.concat([frame, pd.DataFrame(analytic)], ignore_index=True)
    return frame


def members_of(frame):
    return frame.drop_duplicates("member")[
        ["member", "lam", "seed", "latent_dim", "model"]
    ].reset_index(drop=True)


def make_snapshot(frame, d=3, per_class=4, skip=()):
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(len(CLASSES)), per_class)
    x = rng.uniform(-1, 1, size=(len(y), 8, 8, 1)).astype(np.float32)
    snap = Snapshot(x, y)
    for m in members_of(frame).itertuples():
        if m.model != "cre" or m.member in skip:
            continue
        snap.z[m.member] = rng.random((len(y), d)) * (1 + m.lam)
        snap.x_hat[m.member] = np.clip(x * m.lam, -1, 1)
        snap.pred[m.member] = y
    return snap


def annotation(fig, name):
    found = [a for a in fig.layout.annotations if a.name == name]
    return found[0].text if found else None


def diverged_member(frame):
    lam, seed = DIVERGED
    return int(frame[(frame["lam"] == lam) & (frame["seed"] == seed)]["member"].iloc[0])


# ------------------------------------------------------------------ trade-off


def test_boxes_one_trace_per_lambda_per_metric_and_diverged_excluded():
    frame = make_frame()
    fig = tradeoff_boxes(frame)
    boxes = [t for t in fig.data if isinstance(t, go.Box)]
    assert len(boxes) == 2 * len(LAMS)
    for metric, color in (("accuracy", BLUE), ("mse", ORANGE)):
        mine = [t for t in boxes if t.meta["metric"] == metric]
        assert [t.meta["lam"] for t in mine] == list(LAMS)
        assert all(t.marker.color == color for t in mine)
        half = next(t for t in mine if t.meta["lam"] == 0.5)
        assert sorted(half.customdata) == [0, 2]  # seed 1 diverged
        assert not np.isnan(np.asarray(half.y, float)).any()
        final = frame[
            (frame["split"] == "test") & (frame["epoch"] == EPOCHS) & (frame["lam"] == 0.0)
        ]
        zero = next(t for t in mine if t.meta["lam"] == 0.0)
        np.testing.assert_allclose(sorted(zero.y), sorted(final[metric]))
    assert annotation(fig, "diverged").startswith("1 diverged")
    assert annotation(tradeoff_boxes(make_frame(diverged=None)), "diverged") is None


def test_diverged_rows_excluded_even_with_finite_values():
    frame = make_frame()
    other = int(frame[(frame["lam"] == 1.0) & (frame["seed"] == 2)]["member"].iloc[0])
    gone = frame["member"].isin([diverged_member(frame), other]) & (frame["epoch"] == EPOCHS)
    frame.loc[gone, ["accuracy", "mse"]] = 99.0  # flagged rows never count, whatever they hold
    frame.loc[gone, "diverged"] = True
    for build in (tradeoff_boxes, tradeoff_means, pareto):
        fig = build(frame)
        assert annotation(fig, "diverged").startswith("2 diverged")
        assert all(99.0 not in np.asarray(t.y, float) for t in fig.data)
    boxes = tradeoff_boxes(frame)
    assert sum(len(t.y) for t in boxes.data) == 2 * (len(LAMS) * SEEDS - 2)


def test_means_band_contains_mean():
    fig = tradeoff_means(make_frame())
    for metric in ("accuracy", "mse"):
        role = {
            t.meta["role"]: np.asarray(t.y, float) for t in fig.data if t.meta["metric"] == metric
        }
        assert set(role) == {"ci_lower", "ci_upper", "mean"}
        assert len(role["mean"]) == len(LAMS)
        assert np.all(role["ci_upper"] >= role["mean"]) and np.all(role["mean"] >= role["ci_lower"])
        assert np.any(role["ci_upper"] > role["ci_lower"])
    assert any(t.fill == "tonexty" for t in fig.data)
    assert annotation(fig, "diverged") is not None


def test_pareto_colours_are_lambdas():
    frame = make_frame()
    fig = pareto(frame)
    points = fig.data[0]
    final = frame[
        (frame["split"] == "test") & (frame["epoch"] == EPOCHS) & ~frame["diverged"]
    ].sort_values(["lam", "seed"])
    np.testing.assert_allclose(points.marker.color, final["lam"])
    np.testing.assert_allclose(points.x, final["mse"])
    assert diverged_member(frame) not in np.asarray(points.customdata)[:, 2]
    assert "λ" in points.hovertemplate and "seed" in points.hovertemplate
    assert fig.layout.coloraxis.colorbar.title.text == "λ"
    np.testing.assert_allclose(fig.data[1].marker.color, LAMS)


def test_training_curves_group_per_lambda():
    fig = training_curves(make_frame(), metric="accuracy")
    curves = [t for t in fig.data if (t.meta or {}).get("role") != "legend"]
    assert len(curves) == len(LAMS) * SEEDS * 2
    assert {t.legendgroup for t in curves} == {f"λ = {lam:g}" for lam in LAMS}
    assert sum(bool(t.showlegend) for t in curves) == len(LAMS)
    assert all((t.line.dash == "dash") == (t.meta["split"] == "train") for t in curves)
    bad = [t for t in curves if t.meta["member"] == diverged_member(make_frame())]
    assert all(len(t.x) == 2 for t in bad)  # stops where it diverged
    assert training_curves(make_frame(), metric="loss").data  # loss exists on train only


# ------------------------------------------------------------------ latent dimension


def test_latent_dim_curves_baselines_and_log_axis():
    frame = make_frame(dims=(2, 8, 32), baselines=True)
    fig = latent_dim_curves(frame)
    means = [t for t in fig.data if t.meta["role"] == "mean"]
    by_name = {}
    for t in means:
        by_name.setdefault(t.name, set()).add(t.meta["metric"])
    assert by_name["PCA"] == {"accuracy", "mse"} and by_name["RP"] == {"accuracy", "mse"}
    assert by_name["PCA (analytic)"] == {"mse"}
    assert {f"λ = {lam:g}" for lam in LAMS} <= set(by_name)
    assert fig.layout.xaxis.type == "log"
    for series in by_name:
        for metric in by_name[series]:
            role = {
                t.meta["role"]: np.asarray(t.y, float)
                for t in fig.data
                if t.meta["series"] == series and t.meta["metric"] == metric
            }
            if "ci_upper" in role:
                assert np.all(role["ci_upper"] >= role["mean"] - 1e-12)
                assert np.all(role["mean"] >= role["ci_lower"] - 1e-12)
    only = latent_dim_curves(frame, lambdas=[0.0])
    assert {t.name for t in only.data if t.meta["role"] == "mean"} == {
        "λ = 0",
        "PCA",
        "RP",
        "PCA (analytic)",
    }
    assert latent_dim_curves(make_frame(dims=(2, 4))).layout.xaxis.type != "log"


# ------------------------------------------------------------------ partial and empty frames


@pytest.mark.parametrize(
    "build", [tradeoff_boxes, tradeoff_means, pareto, training_curves, latent_dim_curves]
)
def test_partial_and_empty_frames(build):
    partial = make_frame(epochs=1, diverged=None)
    partial = partial[partial["member"] != partial["member"].max()]  # a member not reported yet
    fig = build(partial)
    assert fig.data and annotation(fig, "no-data") is None
    fig.to_json()
    for empty in (make_frame().iloc[0:0], pd.DataFrame()):
        fig = build(empty)
        assert "no data yet" in annotation(fig, "no-data").lower()
    if build is not training_curves:  # no test rows yet: nothing to show
        fig = build(make_frame()[lambda f: f["split"] == "train"])
        assert annotation(fig, "no-data") is not None


def test_figure_data_flattens_points():
    frame = make_frame()
    data = figure_data(tradeoff_boxes(frame))
    assert len(data) == 2 * (len(LAMS) * SEEDS - 1)
    assert set(data.columns) >= {"trace", "name", "x", "y", "subplot"}
    pts = figure_data(pareto(frame))
    first = pts[pts["trace"] == 0]
    np.testing.assert_allclose(first["color"].astype(float), first["customdata_0"].astype(float))
    assert figure_data(training_curves(frame))["y"].notna().all()  # legend placeholders dropped
    assert figure_data(go.Figure()).empty


# ------------------------------------------------------------------ latent space


def test_scatter_3d_uses_pca_above_three_dims():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(30, 5)), np.arange(30) % 3
    fig = latent_scatter_3d(z, y, CLASSES, camera="top")
    assert fig.layout.scene.xaxis.title.text.startswith("PC1")
    assert sum(len(t.x) for t in fig.data) == 30
    assert sorted(np.concatenate([t.customdata for t in fig.data])) == list(range(30))
    assert [t.name for t in fig.data] == list(CLASSES)
    assert fig.layout.scene.camera.eye.z == CAMERAS["top"]["eye"]["z"]
    flat = latent_scatter_3d(z[:, :2], y, CLASSES)
    assert flat.layout.scene.xaxis.title.text == "z1"
    assert all(np.all(np.asarray(t.z) == 0) for t in flat.data)
    assert set(CAMERAS) == {"iso", "top", "front", "side"}
    with pytest.raises(ValueError, match="camera"):
        latent_scatter_3d(z, y, CLASSES, camera="bogus")
    assert annotation(latent_scatter_3d(z[:0], y[:0], CLASSES), "no-data")


def test_small_multiples_share_ranges():
    frame = make_frame()
    snap = make_snapshot(frame, skip={diverged_member(frame)})
    fig = latent_small_multiples(snap, members_of(frame), seed=0, class_names=CLASSES)
    scenes = [k for k in fig.layout if k.startswith("scene")]
    assert len(scenes) == len(LAMS)
    ranges = {tuple(fig.layout[s].xaxis.range) for s in scenes}
    assert len(ranges) == 1
    assert sum(bool(t.showlegend) for t in fig.data) == len(CLASSES)
    # seed 1 lacks the diverged λ = 0.5 member: two scenes and a note
    fig = latent_small_multiples(snap, members_of(frame), seed=1, class_names=CLASSES)
    assert len([k for k in fig.layout if k.startswith("scene")]) == len(LAMS) - 1
    assert "λ = 0.5" in annotation(fig, "missing")
    assert annotation(latent_small_multiples(snap, members_of(frame), seed=7), "no-data")


def test_animation_one_frame_per_lambda():
    frame = make_frame()
    snap = make_snapshot(frame, d=4)
    fig = latent_animation(snap, members_of(frame), seed=0, class_names=CLASSES)
    assert [f.name for f in fig.frames] == [f"λ = {lam:g}" for lam in LAMS]
    assert all(len(f.data) == len(CLASSES) for f in fig.frames)
    assert len(fig.layout.sliders[0].steps) == len(LAMS)
    assert fig.layout.updatemenus[0].buttons[0].method == "animate"
    assert fig.layout.scene.xaxis.title.text.startswith("PC1")
    assert fig.layout.scene.xaxis.range is not None
    fig.to_json()
    data = figure_data(fig)
    assert list(data["frame"].unique()) == [f"λ = {lam:g}" for lam in LAMS]
    assert len(data) == len(LAMS) * len(snap.y)


def test_latent_2d_customdata_and_lasso():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(12, 4)), np.arange(12) % 3
    ids = np.arange(100, 112)
    fig = latent_2d(z, y, CLASSES, ids)
    assert fig.layout.dragmode == "lasso"
    assert sorted(np.concatenate([t.customdata for t in fig.data])) == list(ids)
    assert fig.layout.xaxis.title.text.startswith("PC1")
    assert latent_2d(z[:, :2], y, CLASSES).layout.xaxis.title.text == "z1"


# ------------------------------------------------------------------ images


def test_image_grid_pixels_and_size():
    grey = np.zeros((2, 3, 8, 8, 1))
    grey[0, 0] = -1.0
    grey[1, 2] = 1.0
    grey[0, 1] = np.nan
    fig = image_grid(grey, row_labels=["a", "b"], col_labels=["x", "y", "z"])
    img = np.asarray(fig.data[0].z)
    gap = fig.layout.meta["gap"]
    assert img.shape == (2 * 8 + gap, 3 * 8 + 2 * gap, 3)
    assert img[0, 0].tolist() == [0, 0, 0]
    assert img[-1, -1].tolist() == [255, 255, 255]
    assert img[0, 8 + gap].tolist() == [235, 235, 235]  # NaN tile
    assert list(fig.layout.xaxis.ticktext) == ["x", "y", "z"]
    rgb = np.zeros((1, 1, 4, 4, 3))
    rgb[..., 0] = 1.0
    assert np.asarray(image_grid(rgb, row_labels=["r"], col_labels=["c"]).data[0].z)[
        0, 0
    ].tolist() == [255, 128, 128]
    with pytest.raises(ValueError, match="labels"):
        image_grid(grey, row_labels=["a"], col_labels=["x", "y", "z"])


def test_reconstruction_grid_tiles():
    frame = make_frame()
    snap = make_snapshot(frame, skip={diverged_member(frame)})
    fig = reconstruction_grid(snap, members_of(frame), seed=1, class_names=CLASSES)
    meta = fig.layout.meta
    assert meta["grid"] == [len(CLASSES), 1 + len(LAMS)]
    h, w = meta["tile"]
    g = meta["gap"]
    img = np.asarray(fig.data[0].z)
    assert img.shape == (len(CLASSES) * (h + g) - g, (1 + len(LAMS)) * (w + g) - g, 3)
    assert list(fig.layout.yaxis.ticktext) == list(CLASSES)
    assert list(fig.layout.xaxis.ticktext) == ["input", "λ = 0", "λ = 0.5 (n/a)", "λ = 1"]
    first = snap.x[np.flatnonzero(snap.y == 0)[0], ..., 0]
    np.testing.assert_array_equal(img[:h, :w, 0], np.round((first.astype(float) + 1) * 127.5))
    two = reconstruction_grid(snap, members_of(frame), seed=0, per_class=2)
    assert two.layout.meta["grid"] == [2 * len(CLASSES), 1 + len(LAMS)]
    toy = Snapshot(
        np.zeros((6, 2)), np.arange(6) % 3, z=snap.z, x_hat={k: np.zeros((6, 2)) for k in snap.z}
    )
    assert annotation(reconstruction_grid(toy, members_of(frame)), "no-data")


def test_titles_wrap_at_spaces_into_lines_that_fit_and_wrapping_twice_changes_nothing():
    from pcdash.figures.style import TITLE_CHARS, wrap_text, wrap_title

    title = "Pareto view: reconstruction error vs accuracy (test, dim(z) = 3)"
    wrapped = wrap_text(title)
    lines = wrapped.split("<br>")
    assert len(lines) == 3 and all(len(line) <= TITLE_CHARS for line in lines)
    assert " ".join(lines) == title  # only spaces became line breaks
    assert wrap_text(wrapped) == wrapped
    assert wrap_text("a<br>" + "b " * 40).startswith("a<br>")  # existing breaks kept
    assert wrap_text("x" * 50) == "x" * 50  # a word longer than a line stays whole

    short = wrap_title(go.Figure(layout=dict(title="Short title")))
    assert short.layout.title.text == "Short title" and short.layout.title.automargin is None
    long = wrap_title(go.Figure(layout=dict(title=title)))
    assert long.layout.title.text == wrapped
    assert long.layout.title.automargin and long.layout.title.yanchor == "top"
