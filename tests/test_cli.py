"""python -m pcdash sweep: CSV columns, and bad arguments exit non-zero with one line and no
file."""

import subprocess
import sys

import pandas as pd
import pytest

SPEC_COLUMNS = [
    "dataset",
    "arch",
    "latent_dim",
    "lam",
    "seed",
    "epoch",
    "split",
    "accuracy",
    "mse",
    "ce",
    "diverged",
]


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "pcdash", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_sweep_writes_one_row_per_member_per_evaluation(tmp_path):
    out = tmp_path / "r.csv"
    res = _run(
        "sweep",
        "--dataset",
        "digits",
        "--arch",
        "fc-small",
        "--latent-dims",
        "2,3",
        "--lambdas",
        "0,1",
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "128",
        "--out",
        str(out),
        "--quiet",
    )
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert set(SPEC_COLUMNS) <= set(frame.columns)
    assert len(frame) == 2 * 2 * 2 * 2 * 3  # dims × λ × seeds × epochs × splits
    assert sorted(frame["seed"].unique()) == [0, 1] and sorted(frame["latent_dim"].unique()) == [
        2,
        3,
    ]
    assert "wrote 48 rows" in res.stdout
    # every evaluated split carries the member's objective λ·MSE + (1−λ)·CE, so validation can pick
    # epochs
    val = frame[frame["split"] == "val"]
    assert val["loss"].notna().all()
    assert abs(val["loss"] - (val["lam"] * val["mse"] + (1 - val["lam"]) * val["ce"])).max() < 1e-4
    assert frame.loc[frame["split"] == "test", "dead_latent_units"].notna().all()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--lambdas", "0,1.5"], "λ must lie in [0, 1]"),
        (["--lambdas", ""], "empty"),
        (["--lambdas", "0,abc"], "comma-separated numbers"),
        (["--latent-dims", "0"], "≥ 1"),
        (["--latent-dims", ""], "empty"),
        (["--dataset", "imagenet"], "unknown dataset"),
        (["--arch", "resnet"], "unknown architecture"),
        (["--seeds", "0"], "seeds"),
        (["--epochs", "x"], "invalid int value"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "r.csv"
    res = _run("sweep", "--out", str(out), *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcdash: error:") and message in lines[0], (
        res.stderr
    )
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_missing_dataset_offline_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PCDASH_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "r.csv"
    # no network here (and none needed): the first mirror failing is enough for the message
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys, urllib.error; import pcdash.data.download as d\n"
                "def fail(*a, **k): raise urllib.error.URLError('offline')\n"
                "d.fetch_url = fail\n"
                "from pcdash.cli import main; sys.exit(main(sys.argv[1:]))"
            ),
            "sweep",
            "--dataset",
            "mnist",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "train-images-idx3-ubyte.gz" in res.stderr and str(tmp_path / "data") in res.stderr
    assert not out.exists()
