"""Claims of the two predictive-coding papers that our default settings reproduce on digits, each
with the paper's words and numbers. Claims our setting does not reproduce are recorded, with what
we measured, in the catalogue (``pcdash.paper``, ``expected=False``) and shown as not holding on
the pages; tests/test_paper_reproductions.py checks that they still come out that way."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pcdash.data import load_dataset
from pcdash.engine import member_slice
from pcdash.experiments.comparison import TABLE1_DEFAULT
from pcdash.experiments.conditions import QUICK, condition_config
from pcdash.figures.pc_compare import algorithm_table
from pcdash.pcn import ALGORITHMS
from pcdash.pcn.landscape import loss_landscape, sharpness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def comparison(paper_run):
    """The PC-vs-BP page's default models pc and pc_rc2, and pc_rc23 at the learning rate that
    trains standard PC (1e-3) and at the paper's 1e-5: the catalogue's comparison-lr run, shared
    with the figure tests (test_paper_reproductions.py)."""
    variants = QUICK.variants(track_alignment=False)
    pc, rc2 = dict(variants)["pc_64_8"], dict(variants)["pc_64_8_rc2"]
    base = replace(pc, precision="none")
    rc23 = {
        lr: condition_config("pc_rc23", base, relaxed_every=QUICK.relaxed_every, relaxed_lr=lr)
        for lr in (1e-3, 1e-5)
    }
    config, out, _ = paper_run("comparison-lr")
    assert list(config) == [
        ("pc", pc),
        ("rc2", rc2),
        ("rc23_lr1e-3", rc23[1e-3]),
        ("rc23_lr1e-5", rc23[1e-5]),
    ]
    return out, algorithm_table(out.frame).set_index("variant")


def test_relaxing_condition_2_makes_the_loss_landscape_sharper(comparison):
    """Comparison paper, §2.1 (Fig. 4c): "the effect of relaxing condition 2 is incredibly
    impacting ... [the loss] rapidly grows to excessive values, showing that even a slight change
    in the network's weights would result in significant loss in the prediction accuracy".
    Measured (default, seed 0): the loss rises 2.8 decades on average within span 1 of pc_64_8_rc2,
    1.3 around pc_64_8."""
    out, _ = comparison
    data = load_dataset("digits")
    x, y = data.x_test[:256], data.y_test[:256]
    sharp = {}
    for name in ("pc", "rc2"):
        a, b, z = loss_landscape(member_slice(out.runs[name].mlp, 0), x, y, span=1.0, points=21)
        sharp[name] = sharpness(a, b, z)
    assert sharp["rc2"] > 2 * sharp["pc"], sharp


def test_relaxing_condition_2_reaches_90_percent_of_its_final_accuracy_in_fewer_epochs(comparison):
    """Comparison paper, §2 and Fig. 2: updating "the weights every 8 of those 256 steps ...
    allowed for significantly reduced training times" (time to convergence = time to reach 90% of
    the final accuracy). Measured: pc_64_8_rc2 in epoch 1 (87%), pc_64_8 in epoch 3."""
    _, table = comparison
    assert table.loc["rc2", "epochs_to_90"] < table.loc["pc", "epochs_to_90"], table
    assert table.loc["rc2", "steps_used"] == 256 and table.loc["pc", "steps_used"] < 256


def test_relaxing_conditions_2_and_3_needs_a_much_lower_learning_rate(comparison):
    """Comparison paper, §2.1: with conditions 2 and 3 relaxed "it was necessary to use a learning
    rate as low as 1e-5 in order to perform any training at all". Measured: at 1e-3, the rate that
    trains pc_64_8 to 95%, pc_64_8_rc23 stays at chance (10%); at 1e-5 it trains (89%)."""
    _, table = comparison
    assert table.loc["pc", "accuracy_mean"] > 85
    assert table.loc["rc23_lr1e-3", "accuracy_mean"] < 20
    assert table.loc["rc23_lr1e-5", "accuracy_mean"] > 50


def test_the_default_comparison_trains_its_backprop_reference(paper_run):
    """Comparison paper, §2.1: "the two techniques are actually equivalent, as they generally
    produce similar results" — every PC model is judged against BP, so the page's default must
    train BP properly. Measured (digits, 64 × 8, seed 0): BP 92.2% after the default 8 epochs;
    after 4 epochs, the old default, it was at 64.9% and the page showed every PC model far above
    BP, which no setting of the paper gives."""
    _, out, _ = paper_run("comparison-conditions")
    table = algorithm_table(out.frame).set_index("variant")
    assert table.loc["bp_64_8", "accuracy_mean"] >= 90, table["accuracy_mean"]
    assert table.loc["pc_64_8", "accuracy_mean"] >= 90, table["accuracy_mean"]


@pytest.fixture(scope="module")
def table1(paper_run):
    """The PC algorithms page's default (the catalogue's pcx-table1 run, shared)."""
    config, out, _ = paper_run("pcx-table1")
    assert list(config) == [
        (a, replace(TABLE1_DEFAULT, algorithm=a).validate()) for a in ALGORITHMS
    ]
    return algorithm_table(out.frame).set_index("variant")["accuracy_mean"]


def test_ipc_is_the_best_rule_on_the_small_mlp(table1):
    """PCX paper, §4.1: "iPC ... performs well on small architectures, as it is the best performing
    one on MNIST and FashionMNIST" (Table 1, MLP: 98.45% and 89.90%, the best of the eight rules).
    Measured on digits (3 × 128, 5 seeds): iPC 97.8%, the next best 97.5%."""
    assert table1.idxmax() == "ipc", table1.sort_values()
    assert table1["ipc"] > 97


def test_squared_error_beats_cross_entropy_on_the_mlp_for_pc_and_bp(table1):
    """PCX paper, Table 1 (MLP): PC-SE 98.26 > PC-CE 98.11 and BP-SE 98.29 > BP-CE 98.07 on MNIST;
    89.58 > 89.16 and 89.48 > 89.04 on FashionMNIST. Measured on digits: PC 97.2 > 95.4, BP 97.2
    > 95.2."""
    assert table1["pc-se"] > table1["pc-ce"] and table1["bp-se"] > table1["bp-ce"], table1
    assert np.isfinite(table1).all()
