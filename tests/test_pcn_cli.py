"""``python -m pcdash pcn``: a CSV with per-layer energies, or one line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pcdash.cli import main


def test_pcn_command_writes_one_row_per_member_per_evaluation(tmp_path: Path, capsys) -> None:
    out = tmp_path / "results.csv"
    argv = [
        "pcn",
        "--dataset",
        "moons",
        "--state-lrs",
        "0.01,0.1",
        "--widths",
        "8",
        "--depth",
        "2",
        "--steps",
        "3",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]

    assert main(argv) == 0

    frame = pd.read_csv(out)
    required = ["dataset", "algorithm", "optimizer", "state_lr", "width", "seed", "epoch", "split"]
    required += ["accuracy", "diverged", "energy_1", "energy_2", "energy_3"]
    assert set(required) <= set(frame.columns)
    assert len(frame) == 2 * 1 * 3  # members × epochs × (train, val, test)
    assert sorted(frame["state_lr"].unique()) == [0.01, 0.1]
    assert "wrote 6 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    "bad",
    [
        ["--state-lrs", "0.1,-1"],
        ["--state-lrs", "fast"],
        ["--state-lrs", ""],
        ["--widths", "0"],
        ["--widths", "8.5"],
        ["--algorithm", "backprop"],
        ["--optimizer", "adagrad"],
        ["--steps", "0"],
        ["--dataset", "imagenet"],
        ["--weight-lrs", "sgd"],
        ["--weight-lrs", "rmsprop=0.1"],
        ["--state-momentum", "1.5"],
    ],
)
def test_bad_pcn_arguments_exit_non_zero_with_one_line(tmp_path: Path, capsys, bad) -> None:
    out = tmp_path / "results.csv"
    code = main(["pcn", "--dataset", "moons", *bad, "--out", str(out), "--quiet"])

    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("pcdash: error:") and "\n" not in err
    assert not out.exists()


def test_pcn_command_takes_pcx_s_energy_setting(tmp_path: Path) -> None:
    """PCX §5.1: HardTanh, states by plain SGD, each weight optimiser with its own rate."""
    out = tmp_path / "results.csv"
    argv = [
        "pcn",
        "--dataset",
        "moons",
        "--state-lrs",
        "0.1",
        "--widths",
        "8",
        "--steps",
        "2",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--optimizer",
        "adamw,sgd",
        "--weight-lrs",
        "adamw=0.01,sgd=0.03",
        "--activation",
        "hard_tanh",
        "--state-momentum",
        "0",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    frame = pd.read_csv(out)
    assert frame.groupby("optimizer")["weight_lr"].first().to_dict() == {"adamw": 0.01, "sgd": 0.03}
    assert set(frame["activation"]) == {"hard_tanh"}


def test_converged_inference_reports_the_steps_it_used(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    argv = [
        "pcn",
        "--dataset",
        "moons",
        "--state-lrs",
        "0.1",
        "--widths",
        "8",
        "--depth",
        "2",
        "--steps",
        "256",
        "--inference-tol",
        "1e-3",
        "--precision",
        "neuron",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    train = pd.read_csv(out).query("split == 'train'")
    assert 1 <= train["steps_used"].iloc[0] < 256  # it stopped before the cap
    assert train["precision"].iloc[0] == "neuron" and "log_var_3" in train.columns


@pytest.mark.parametrize(
    "bad",
    [
        ["--precision", "sometimes"],
        ["--cn-schedule", "weekly"],
        ["--inference-tol", "2"],
        ["--l2-decay", "-1"],
    ],
)
def test_bad_comparison_arguments_exit_non_zero_with_one_line(tmp_path: Path, capsys, bad) -> None:
    code = main(["pcn", "--dataset", "moons", *bad, "--out", str(tmp_path / "r.csv"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.startswith("pcdash: error:") and "\n" not in err
