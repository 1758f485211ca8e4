"""Fault injection on inputs: crafted links and command lines. Every bad or oversized value gets
one clear line (never a traceback, never a job), user text in messages is shown as text, and the
caps and the memory/time budget are the same in the dashboard and the CLI, which says how to
raise them."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pcdash import limits
from pcdash.cli import main
from pcdash.errors import ConfigError
from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.parsing import parse_int_list

APP = Path(__file__).resolve().parents[1] / "app.py"
MANY_LAMBDAS = ",".join(
    f"{i / 2000:g}" for i in range(2001)
)  # with 20 seeds: the "40020 models" link
FIFTY_LAMBDAS = ",".join(f"{i / 49:.4f}" for i in range(50))
LINK = "[click me](http://evil.example/x)"
IMAGE = "![x](http://127.0.0.1:9/pixel.png)"

# (page, link values, what the message says); each must stop the page from offering Train
URL_CASES = [
    ("tradeoff", {"lams": MANY_LAMBDAS, "seeds": "20"}, "the λ grid has 2001 values; at most 64"),
    (
        "tradeoff",
        {"lams": ",".join(f"{i / 63:.4f}" for i in range(64)), "seeds": "20"},
        "trains 1280 models",
    ),
    (
        "tradeoff",
        {"lams": FIFTY_LAMBDAS, "seeds": "20", "epochs": "500", "arch": "fc-large"},
        "by estimate",
    ),
    (
        "tradeoff",
        {"lams": FIFTY_LAMBDAS, "seeds": "20", "dims": "4096", "arch": "fc-large"},
        "of memory by estimate",
    ),
    ("tradeoff", {"dims": "nan"}, "must be whole numbers"),
    ("tradeoff", {"dims": "inf"}, "must be whole numbers"),
    ("tradeoff", {"dims": "-inf,2"}, "must be whole numbers"),
    ("tradeoff", {"dims": "1e8"}, "latent dimension 100000000 is above the cap"),
    ("tradeoff", {"dims": "2.5"}, "must be whole numbers"),
    ("tradeoff", {"dims": ",".join(map(str, range(1, 80)))}, "latent dims has 79 values"),
    ("tradeoff", {"lams": "nan"}, "λ must lie in [0, 1]"),
    ("tradeoff", {"lams": "inf,0"}, "λ must lie in [0, 1]"),
    ("tradeoff", {"lams": "0,0,1"}, "repeats"),
    ("tradeoff", {"lams": LINK}, "comma-separated numbers"),
    ("tradeoff", {"lams": "a" * 100_000}, "(100000 characters)"),
    ("energy", {"widths": "1000000"}, "width"),
    ("energy", {"widths": "nan"}, "must be whole numbers"),
    ("energy", {"widths": "inf"}, "must be whole numbers"),
    ("energy", {"widths": "8192", "depth": "8", "T": "200"}, "of memory by estimate"),
    ("energy", {"gammas": "inf"}, "finite"),
    ("energy", {"state_lrs": "nan,0.1"}, "finite"),
    (
        "energy",
        {"state_lrs": ",".join(f"0.{i + 1:03d}" for i in range(70))},
        "state learning rates γ has 70 values",
    ),
]
# link values outside a control's range are replaced by the default, with a warning
URL_WARNINGS = [
    ("tradeoff", {"seeds": "100000"}, "seeds"),
    ("tradeoff", {"epochs": "1e9"}, "epochs"),
    ("tradeoff", {"batch": "0"}, "batch"),
    ("tradeoff", {"dataset": IMAGE}, "dataset"),
    ("energy", {"depth": "100"}, "depth"),
    ("energy", {"T": "-1"}, "T"),
]


def _page(page: str, params: dict) -> AppTest:
    """``page`` opened from a link with ``params``: the app starts on Home (which reads the CRE
    controls), then the page. ``at.seen_warnings`` holds the warnings of both runs."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    seen = [w.value for w in at.warning]
    at.switch_page(f"views/{'energy_dynamics' if page == 'energy' else page}.py")
    at.run()
    at.seen_warnings = seen + [w.value for w in at.warning]
    return at


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def _no_live_markup(markdown: str) -> bool:
    """No unescaped bracket or angle bracket, and no bare http://, www. or a@b that could autolink
    (an invisible word joiner breaks those; a real browser shows them as text:
    test_faults_browser)."""
    return not re.search(r"(?<!\\)[\[\]<]|https?://|(?<!\u2060)www\.|@(?!\u2060)", markdown)


@pytest.mark.parametrize(
    "page,params,message", URL_CASES, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(URL_CASES)]
)
def test_a_crafted_link_gets_one_clear_message_and_no_train_button(page, params, message):
    at = _page(page, params)
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error] + [e.value for e in at.error]
    assert any(message in _unescaped(e) for e in errors), errors
    assert all("\n" not in e and "Traceback" not in e and len(e) < 600 for e in errors)
    assert all(_no_live_markup(e) for e in errors), errors
    assert not [b for b in at.button if b.key in ("tradeoff_train", "energy_train")], (
        "an oversized job was offered"
    )


@pytest.mark.parametrize(
    "page,params,name", URL_WARNINGS, ids=[f"{p}-{n}" for p, _, n in URL_WARNINGS]
)
def test_a_link_value_outside_a_control_is_replaced_by_the_default_with_a_warning(
    page, params, name
):
    at = _page(page, params)
    assert not at.exception, at.exception
    warnings = at.seen_warnings
    assert any(f"{name}=" in _unescaped(w) for w in warnings), warnings
    assert all(_no_live_markup(w) for w in warnings), warnings


def test_plain_text_escapes_every_way_markdown_makes_a_link_or_a_request():
    from pcdash.ui.state import plain

    for text in (
        LINK,
        IMAGE,
        "http://evil.example/b",
        "www.evil.example",
        "me@evil.example",
        "<img src=x>",
        "<http://evil.example>",
        "[r][1] [1]: http://evil.example",
        ":red[x] :material/home:",
        r"$\href{http://evil.example}{d}$",
        "`x` *y* _z_ ~~s~~",
        "a\\[b](http://evil.example)",
    ):
        shown = plain(text)
        assert _no_live_markup(shown), shown
        assert _unescaped(shown) == " ".join(text.split())  # and it reads as it was typed
    assert (
        plain("fashion_mnist, σ²_L > 0") == "fashion_mnist, σ²_L > 0"
    )  # intra-word _ and > stay as they are


# ------------------------------------------------------------------------------ the command line

CLI_CASES = [
    (["sweep", "--latent-dims", "nan"], "--latent-dims must be whole numbers"),
    (["sweep", "--latent-dims", "inf"], "--latent-dims must be whole numbers"),
    (["sweep", "--latent-dims", "2,-inf"], "--latent-dims must be whole numbers"),
    (["sweep", "--latent-dims", "1e8"], "latent dimension 100000000 is above the cap"),
    (["sweep", "--latent-dims", "2.5"], "whole numbers"),
    (["sweep", "--lambdas", MANY_LAMBDAS, "--seeds", "20"], "the λ grid has 2001 values"),
    (["sweep", "--lambdas", "nan"], "λ must lie in [0, 1]"),
    (["sweep", "--lambdas", "inf"], "λ must lie in [0, 1]"),
    (["sweep", "--lambdas", LINK], "comma-separated numbers"),
    (
        [
            "sweep",
            "--lambdas",
            FIFTY_LAMBDAS,
            "--seeds",
            "20",
            "--epochs",
            "500",
            "--arch",
            "fc-large",
        ],
        "by estimate",
    ),
    (["sweep", "--batch-size", "0"], "batch size must be a whole number ≥ 1; got 0"),
    (["sweep", "--batch-size", "-5"], "batch size"),
    (["sweep", "--seeds", "0"], "seeds"),
    (["sweep", "--seeds", "1000"], "seeds"),
    (["sweep", "--epochs", "0"], "epochs"),
    (["sweep", "--epochs", "100000"], "epochs"),
    (["sweep", "--epochs", "nan"], "invalid int value"),
    (["sweep", "--lr", "nan"], "learning rate"),
    (["sweep", "--lr", "inf"], "learning rate"),
    (["sweep", "--lr", "0"], "learning rate"),
    (["sweep", "--val-fraction", "nan"], "validation fraction"),
    (["sweep", "--arch", "resnet"], "unknown architecture"),
    (["sweep", "--dataset", "../../etc/passwd"], "unknown dataset"),
    (["sweep", "--baselines", "svd"], "unknown baseline"),
    (["sweep", "--latent-activation", "gelu"], "unknown latent activation"),
    (["sweep", "--limits", "speed=9"], "limits"),
    (["sweep", "--limits", "hours=0"], "hours must be a positive number"),
    (["sweep", "--limits", "memory_gb=nan"], "memory_gb must be a positive number"),
    (["pcn", "--widths", "nan"], "--widths must be whole numbers"),
    (["pcn", "--widths", "inf"], "--widths must be whole numbers"),
    (["pcn", "--widths", "1000000"], "width"),
    (["pcn", "--widths", "0"], "width"),
    (["pcn", "--widths", "8192", "--depth", "8", "--steps", "200"], "of memory by estimate"),
    (["pcn", "--gammas", "nan"], "finite"),
    (["pcn", "--state-lrs", "inf"], "finite"),
    (["pcn", "--state-lrs", "0"], "> 0"),
    (["pcn", "--steps", "0"], "inference steps"),
    (["pcn", "--steps", "100000"], "inference steps"),
    (["pcn", "--depth", "0"], "depth"),
    (["pcn", "--batch-size", "0"], "batch size"),
    (["pcn", "--algorithm", "magic"], "unknown algorithm"),
    (["pcn", "--optimizer", "lbfgs"], "unknown weight optimizer"),
    (["pcn", "--update-every", "3"], "must divide"),
]


def _out_cases(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "a-file").write_text("x")
    (tmp / "a-folder").mkdir()
    return [
        (["sweep", "--out", ""], "--out is empty"),
        (["sweep", "--out", "   "], "--out is empty"),
        (["sweep", "--out", str(tmp / "a-folder")], "is a folder"),
        (["sweep", "--out", str(tmp / "a-folder") + "/"], "is a folder"),
        (["sweep", "--out", str(tmp / "missing" / "r.csv")], "does not exist"),
        (["sweep", "--out", str(tmp / "a-file" / "r.csv")], "is not a folder"),
        (["sweep", "--out", "/proc/r.csv"], "cannot write in"),
        (["sweep", "--out", "/dev/null"], "is not a regular file"),
        (["pcn", "--out", str(tmp / "a-folder")], "is a folder"),
    ]


def _cli(argv: list[str], out: Path, capsys) -> tuple[int, str]:
    if "--out" not in argv:
        argv = [*argv, "--out", str(out)]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    return code, capsys.readouterr().err


def test_cli_bad_inputs_exit_2_with_one_line_before_training(tmp_path, capsys):
    out = tmp_path / "r.csv"
    cases = CLI_CASES + _out_cases(tmp_path)
    for argv, message in cases:
        code, err = _cli(argv, out, capsys)
        lines = err.strip().splitlines()
        assert code == 2, (argv[:4], code, err[-300:])
        assert len(lines) == 1 and lines[0].startswith("pcdash: error:"), (argv[:4], err[-300:])
        assert message in lines[0] and "Traceback" not in err, (argv[:4], lines[0])
        assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    assert len(cases) >= 50


def test_the_cli_says_how_to_raise_a_limit_and_the_override_works(tmp_path, capsys):
    out = tmp_path / "missing-folder" / "r.csv"  # fails after the limits: nothing trains
    code, err = _cli(["sweep", "--latent-dims", "5000", "--out", str(out)], out, capsys)
    assert code == 2 and "pass --limits latent_dim=5000" in err
    code, err = _cli(
        ["sweep", "--latent-dims", "5000", "--limits", "latent_dim=5000", "--out", str(out)],
        out,
        capsys,
    )
    assert code == 2 and "does not exist" in err  # past the cap, stopped at --out
    with pytest.raises(
        ConfigError, match="PCDASH_LIMITS=latent_dim=5000"
    ):  # the override ended with the command
        CREConfig(latent_dims=(5000,)).validate()


def test_the_dashboard_caps_come_from_pcdash_limits(monkeypatch):
    big = CREConfig(latent_dims=(5000,))
    with pytest.raises(ConfigError, match="PCDASH_LIMITS=latent_dim=5000"):
        big.validate()
    monkeypatch.setenv("PCDASH_LIMITS", "latent_dim=5000")
    assert big.validate() is big
    monkeypatch.setenv("PCDASH_LIMITS", "bogus")
    with pytest.raises(ConfigError, match="limits"):
        big.validate()


# Every size control of the pages and the cap (a field of pcdash.limits.Limits) it offers up to
CONTROL_CAPS = {
    "tradeoff": {"Seeds": "seeds", "Epochs": "epochs", "Batch size": "batch"},
    "energy_dynamics": {
        "Seeds": "seeds",
        "Epochs": "epochs",
        "Hidden layers": "depth",
        "Inference steps T": "steps",
        "Batch size": "batch",
    },
    "pc_algorithms": {
        "Width": "width",
        "Hidden layers": "depth",
        "Seeds": "seeds",
        "Epochs": "epochs",
        "Inference steps T": "steps",
        "Batch size": "batch",
    },
    "pc_vs_bp": {
        "Width": "width",
        "Hidden layers": "depth",
        "Epochs": "epochs",
        "Seeds": "seeds",
        "Inference steps T (at most)": "steps",
        "rc2: update the weights every k steps": "steps",
        "Batch size": "batch",
    },
    "autoencoder": {
        "Latent size": "latent_dim",
        "Hidden width": "width",
        "Epochs": "epochs",
        "Inference steps T": "steps",
        "Seeds": "seeds",
        "Batch size": "batch",
    },
    "mcpc": {
        "Epochs": "epochs",
        "Sampling steps": "long_steps",
        "Training inference steps": "steps",
    },
    "memory": {"Training steps": "long_steps", "Recall steps": "long_steps"},
    "ood": {"Epochs": "epochs", "Test inference steps": "steps"},
}
ODD_CAPS = (
    "seeds=37,epochs=777,depth=13,steps=555,batch=3333,width=2222,latent_dim=444,long_steps=11111"
)


@pytest.mark.parametrize("page", sorted(CONTROL_CAPS))
def test_a_page_offers_each_size_up_to_the_cap_in_force(page, monkeypatch):
    """The controls' largest values are the caps of pcdash.limits, $PCDASH_LIMITS included: the
    dashboard neither refuses what the configuration and the CLI accept nor offers more."""
    monkeypatch.setenv("PCDASH_LIMITS", ODD_CAPS)
    caps = limits.current()
    at = _page(page, {})
    assert not at.exception, at.exception
    offered = {n.label: n.max for n in at.number_input}
    want = {label: getattr(caps, name) for label, name in CONTROL_CAPS[page].items()}
    assert {label: offered.get(label) for label in want} == want


def test_a_link_above_the_old_control_caps_but_within_the_limits_opens_as_sent():
    """Energy dynamics' controls stopped at 200 epochs and T = 200 while the configuration
    accepted 1000 of each: such a link lost its values to the defaults with a warning."""
    at = _page("energy", {"pepochs": "300", "T": "500"})
    assert not at.exception, at.exception
    assert not [w for w in at.seen_warnings if "pepochs=" in w or "T=" in w], at.seen_warnings
    values = {n.label: n.value for n in at.number_input}
    assert values["Epochs"] == 300 and values["Inference steps T"] == 500


def test_caps_lowered_below_a_default_refuse_it_in_words(monkeypatch):
    """A server started with caps under a page's defaults: the page still opens, and says which
    cap the default exceeds (a control whose default is above its largest value would raise)."""
    monkeypatch.setenv("PCDASH_LIMITS", "epochs=1,seeds=1")
    at = _page("tradeoff", {})
    assert not at.exception, at.exception
    errors = [_unescaped(e.value) for e in at.sidebar.error] + [
        _unescaped(e.value) for e in at.error
    ]
    assert any("PCDASH_LIMITS=" in e for e in errors), errors
    assert not [b for b in at.button if b.key == "tradeoff_train"]


@pytest.mark.parametrize(
    "config, setting",
    [
        (CREConfig(seeds=101), "seeds=101"),
        (CREConfig(epochs=1001), "epochs=1001"),
        (CREConfig(batch_size=65537), "batch=65537"),
        (PCNConfig(widths=(8193,)), "width=8193"),
        (PCNConfig(depth=17), "depth=17"),
        (PCNConfig(inference_steps=1001), "steps=1001"),
        (PCNConfig(seeds=101), "seeds=101"),
        (PCNConfig(widths=tuple(range(64, 64 + 33)), seeds=8), "members=1056"),
    ],
)
def test_every_cap_of_a_sweep_is_a_limit_that_an_override_raises(config, setting):
    # refused with the way to allow it, and allowed once that limit is raised (the configs'
    # own checks hold only lower bounds: a cap of their own would refuse it still)
    with pytest.raises(ConfigError, match=f"PCDASH_LIMITS={setting}"):
        config.validate()
    raised = limits.parse_limits(f"{setting},memory_gb=1e6,hours=1e6")
    with limits.using(raised, hint="{}"):
        assert config.validate() is config


def test_estimates_grow_with_the_work_and_refuse_what_exceeds_the_budget():
    base = CREConfig()
    cost = limits.estimate(base)
    assert 0 < cost.memory_bytes < 1e9 and 0 < cost.seconds() < 60  # the default sweep fits easily
    doubled = limits.estimate(CREConfig(seeds=2 * base.seeds))
    assert doubled.flops == pytest.approx(2 * cost.flops) and doubled.members == 2 * cost.members
    assert limits.estimate(CREConfig(epochs=2 * base.epochs)).flops == pytest.approx(2 * cost.flops)
    pcn = limits.estimate(PCNConfig())
    assert (
        limits.estimate(PCNConfig(inference_steps=16)).flops > 1.8 * pcn.flops
    )  # PC pays per inference step
    assert limits.estimate(PCNConfig(algorithm="bp-se")).flops < pcn.flops
    huge = PCNConfig(widths=(8192,), depth=8, inference_steps=200, seeds=10)
    with pytest.raises(ConfigError, match="memory by estimate"):
        huge.validate()
    assert limits.check(huge, limits.Limits(memory_gb=1e6, hours=1e6)) is huge


def test_the_time_estimate_is_within_a_factor_of_ten_of_a_measured_sweep():
    """The throughput behind the estimate is a calibration of this kind of machine: a small
    sweep, timed here, must not be off by an order of magnitude (a loose bracket: the machine
    is shared)."""
    import time

    from pcdash.experiments.cre_sweep import run_cre_sweep

    # the shapes of the pages' tiny sweeps (tests/test_pages.py): compiled once for all of them
    config = CREConfig(
        arch="fc-medium", lambdas=(0.0, 0.5, 1.0), seeds=2, epochs=20, batch_size=128
    )
    run_cre_sweep(replace(config, epochs=1))  # compile first: the estimate is of the training
    t0 = time.perf_counter()
    run_cre_sweep(config)
    measured = time.perf_counter() - t0
    estimated = limits.estimate(config).seconds()
    assert measured / 10 < estimated < measured * 10, (estimated, measured)


def test_nan_and_inf_in_integer_lists_are_one_clear_error():
    for text in ("nan", "inf", "-inf", "1,nan", "2,1e400"):
        with pytest.raises(ConfigError, match="whole numbers"):
            parse_int_list(text, "dims")
    assert parse_int_list("2, 3.0,8", "dims") == (2, 3, 8)
