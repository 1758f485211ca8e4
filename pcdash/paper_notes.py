"""What each page shows of its paper: the figure or table behind every panel, the settings that
differ from the paper's (and why), the paper's own numbers, and which of its claims our setting
reproduces. Pages print this text; it is data, kept here in one place, never in page code.

Papers: "comparison" is *Backpropagation and Predictive Coding: an experimental comparison*
(``references/bp-vs-pc-comparison.md``); "PCX" is Pinchetti et al.'s benchmark paper
(``references/pcx-benchmark-paper.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Panel:
    """One panel of a page and the paper figure (or table) it reproduces."""

    title: str
    figure: str  # e.g. "Comparison paper, Fig. 3"; "—" when the paper has no such figure
    note: str = ""


@dataclass(frozen=True)
class Setting:
    """A setting of the page's default next to the paper's, and why they differ (if they do)."""

    name: str
    paper: str
    here: str
    why: str = ""

    @property
    def differs(self) -> bool:
        return bool(self.why)


@dataclass(frozen=True)
class Claim:
    """A statement of the paper, and whether our default reproduces it (tested where it does)."""

    quote: str
    reproduced: bool
    evidence: str  # what we measured, or the test that holds it


@dataclass(frozen=True)
class PageNotes:
    paper: str
    panels: dict[str, Panel]
    settings: tuple[Setting, ...]
    claims: tuple[Claim, ...] = ()
    preset: str = ""  # what the page's "paper's setting" preset loads, where the paper gives no value

    def settings_frame(self) -> pd.DataFrame:
        """One row per setting: the paper's value, ours, and why ours differs (empty if equal)."""
        return pd.DataFrame([{"setting": s.name, "paper": s.paper, "pcdash default": s.here, "why it differs": s.why}
                             for s in self.settings])  # fmt: skip


COMPARISON = "Backpropagation and Predictive Coding: an experimental comparison"
PCX = "Pinchetti et al., Benchmarking predictive coding networks (PCX)"

PC_VS_BP = PageNotes(
    paper=COMPARISON,
    preset="The paper's setting: FashionMNIST, 256 × 8, always 256 inference steps, weights every 8 steps in the rc2 "
           "models at a learning rate of 1e-5. The paper gives no epochs or batch size: 20 and 64 are our guesses. "
           "On two CPU cores it takes hours; FashionMNIST must be downloaded.",
    panels={
        "benchmark": Panel("Accuracy and time to convergence per model", "Comparison paper, Fig. 2",
                           "Time to convergence: time to reach 90% of the final accuracy (the paper's definition), "
                           "from the median training seconds per epoch."),
        "curves": Panel("Accuracy and loss over epochs, one panel per model", "Comparison paper, Fig. 3 (and Fig. 6 "
                        "for the model with weight decay)",
                        "Accuracy in red; train loss dotted and test loss solid, in blue, as in the paper."),
        "landscape": Panel("Loss landscape around each trained model", "Comparison paper, Fig. 4 (span 1) and "
                           "Fig. 7 (zoomed: a smaller span)",
                           "Li et al. (2018): two filter-normalised random directions, the same for every model."),
        "weights": Panel("Weight distributions of the first two and the last two layers", "Comparison paper, Fig. 5"),
        "steps": Panel("Inference steps used per batch", "— (the paper ran 256 steps; it reports no count)",
                       "Standard PC stops when every layer's energy changes by less than the tolerance; relaxed "
                       "models always run all T steps."),
        "alignment": Panel("Cosine between the PC update and the BP gradient", "— (not in the paper)",
                           "pcdash's own diagnostic of the PC ≈ BP conditions (Whittington & Bogacz, 2017)."),
    },
    settings=(
        Setting("dataset", "FashionMNIST (MNIST gave the same results)", "digits (8×8, 1,797 images)",
                "the paper's sets are 60k images of 28×28: too slow for 2 CPU cores in a browser"),
        Setting("width × hidden layers", "256 … 1024 × 8 (figures: 256 × 8)", "64 × 8",
                "a narrow net, as the paper's claim about narrow nets needs, small enough to train in seconds"),
        Setting("inference (condition 2 kept)", "256 steps per batch", "up to 256 steps; stop when every layer's "
                "relative energy change ≤ 1e-3", "the paper observed 256 steps to be enough to converge; stopping "
                "at convergence gives the same weight update (cosine ≥ 0.99 to 1,024 steps) in fewer steps"),
        Setting("relaxed (condition 2 relaxed)", "weights updated every 8 of the 256 steps", "every 8 of 256 steps"),
        Setting("trainable precision (condition 3 relaxed)", "a variance Σ_l per layer (Eq. 6)",
                "a log-variance per layer (per neuron: a choice)", ""),
        Setting("weight decay (Fig. 6)", "1e-6, both conditions relaxed", "1e-6 (L2, as in PyTorch's Adam) on "
                "pc_rc23_wd", ""),
        Setting("weight learning rate", "not given; 1e-5 needed when conditions 2 and 3 are relaxed",
                "1e-3 (standard PC, pc_rc3, BP); 1e-4 for the relaxed models",
                "1e-5 trains too slowly for a few epochs on digits; 1e-4 shows the same instability"),
        Setting("epochs, seeds, batch", "not given (curves over epochs)", "4 epochs, 1 seed, batch 32",
                "time: each relaxed model runs 256 inference steps per batch; the six models take about 12 s of "
                "CPU once compiled (the first run compiles for about 20 s more)"),
        Setting("optimisers", "PyTorch (not named); states by gradient descent (Eq. 7)",
                "weights: Adam (AdamW with no decoupled decay); states: SGD with momentum 0.9, γ = 0.1",
                "the PCX paper's state optimiser"),
    ),
    claims=(
        Claim("relaxing condition 2 ... [the loss] rapidly grows to excessive values (Fig. 4c)", True,
              "within span 1 the loss rises 2.7 decades on average around pc_64_8_rc2, 1.1 around pc_64_8 and 0.25 "
              "around bp_64_8 (test_relaxing_condition_2_makes_the_loss_landscape_sharper)."),
        Claim("updating the weights every 8 of those 256 steps ... allowed for significantly reduced training "
              "times (Fig. 2)", True,
              "pc_64_8_rc2 reaches 90% of its final accuracy in epoch 1, pc_64_8 in epoch 3. In seconds it is not "
              "faster here, because standard inference stops at convergence (about 120 of the 256 steps) while the "
              "relaxed model always runs all 256; BP is 20–100× faster than either."),
        Claim("it was necessary to use a learning rate as low as 1e-5 in order to perform any training at all "
              "(conditions 2 and 3 relaxed)", True,
              "at 1e-3, which trains pc_64_8 to 91%, pc_64_8_rc23 stays at chance (10%); at 1e-5 it trains (73% in "
              "4 epochs). On digits 1e-4 trains too (84%), but unsteadily (the default for the relaxed models)."),
        Claim("the standard predictive coding model is not able to ... reach condition 1 (especially in narrow "
              "networks) ... Relaxing condition 3 ... the network performance always reaching the backpropagation "
              "one (Fig. 3b, c)", False,
              "after 4 epochs pc_64_8 has 91%, pc_64_8_rc3 88% and bp_64_8 65%: BP learns slowest in this deep "
              "narrow net, and standard PC needs no precision to beat it (at width 16 and 10 epochs: 78%, 82% "
              "with a variance per layer, 83% per neuron, BP 63%)."),
        Claim("the landscape defined by the predictive coding training is similar to what is obtained through "
              "backpropagation when relaxing condition 3 (Fig. 4)", False,
              "the loss rises 1.04 decades around pc_64_8_rc3, as around pc_64_8 (1.07), against 0.25 around BP."),
        Claim("By applying a mild weight decay (i.e. 1e-6), ... the resulting loss landscape is smoother and the "
              "training process more stable (Fig. 6)", False,
              "around pc_64_8_rc23_wd the loss rises 3.0 decades, around pc_64_8_rc23 2.7: not smoother. The test "
              "accuracy of both swings by several points from epoch to epoch; with one seed we cannot tell one "
              "swing from the other (even a decay of 1e-10 per step changes the trajectory as much)."),
    ),
)

PC_ALGORITHMS = PageNotes(
    paper=PCX,
    panels={
        "table": Panel("Final test accuracy per learning rule", "PCX paper, Table 1 (MLP rows: MNIST, FashionMNIST)",
                       "The paper's MNIST and FashionMNIST numbers (5 seeds) are shown beside ours."),
        "curves": Panel("Test accuracy over epochs", "— (the paper reports final accuracies only)"),
        "time": Panel("Time per epoch relative to BP", "PCX paper, Table 4 (MLP row)",
                      "The paper: MLP on FashionMNIST, 1.94 s per epoch for PC against 1.82 s for BP (1.07×, A100 GPU). "
                      "On a CPU each of the T inference steps costs about as much as BP's whole step, so PC is "
                      "several times slower here."),
    },
    settings=(
        Setting("dataset", "MNIST and FashionMNIST (28×28, 60k)", "digits (8×8, 1,797 images)",
                "runs in seconds on 2 CPU cores; MNIST/FashionMNIST are a choice when their files are present"),
        Setting("network", "MLP, 3 hidden layers × 128 (§4.1 and the PCX code; Table 5 lists [128, 128])",
                "3 hidden layers × 128"),
        Setting("epochs, seeds", "25 epochs, 5 seeds", "8 epochs, 5 seeds", "time; digits is learnt in a few epochs"),
        Setting("batch size", "128", "32", "digits has 1,294 training images: 128 would give 10 updates per epoch"),
        Setting("inference steps T", "searched; 5–8 in the released MLP configs", "8", ""),
        Setting("state optimiser", "SGD, momentum searched (0.1–0.25 in the MLP configs)", "SGD, momentum 0.9",
                "one setting for every rule; the paper tuned it per rule"),
        Setting("weight optimiser", "AdamW with weight decay, warm-up + cosine schedule, tuned per rule",
                "AdamW 1e-3, weight decay 1e-4, constant", "one setting for every rule (no per-rule search)"),
        Setting("nudging β", "β₀ and β growth searched per rule (e.g. NN: β₀ = 0.9, +0.02/epoch)",
                "β₀ = 0.1, +0.1 per epoch", "one schedule for PN, NN and CN"),
        Setting("centred nudging", "PN or NN at random each epoch", "PN or NN at random each epoch, seeded per "
                "member (alternation is an option)"),
        Setting("iPC", "states and weights updated at every step from the same (h, θ)", "the same"),
    ),
    claims=(
        Claim("iPC ... performs well on small architectures, as it is the best performing one on MNIST and "
              "FashionMNIST (Table 1: 98.45%, 89.90%)", True,
              "on digits (3 × 128, 5 seeds) iPC has the best mean test accuracy, 97.8% against 97.5% for the next "
              "rule (test_ipc_is_the_best_rule_on_the_small_mlp)."),
        Claim("Table 1, MLP: squared error beats cross-entropy for PC (98.26 vs 98.11) and BP (98.29 vs 98.07)",
              True, "on digits PC-SE 97.2% vs PC-CE 95.4%, BP-SE 97.2% vs BP-CE 95.2%."),
        Claim("the best performing algorithms, at least on the most complex tasks, are the nudging ones (PN, NN, "
              "and CN). Among them, CN is almost always the best performing one", False,
              "a claim about the VGG/ResNet rows; on the MLP the paper's own numbers put iPC first, and so do ours."),
    ),
)

# PCX paper, Table 1, MLP rows: mean test accuracy (%) and std over 5 seeds.
PCX_TABLE1_MLP: dict[str, dict[str, tuple[float, float]]] = {
    "mnist": {"pc-ce": (98.11, 0.03), "pc-se": (98.26, 0.04), "pn": (98.36, 0.06), "nn": (98.26, 0.07),
              "cn": (98.23, 0.09), "ipc": (98.45, 0.09), "bp-ce": (98.07, 0.06), "bp-se": (98.29, 0.08)},
    "fashion_mnist": {"pc-ce": (89.16, 0.08), "pc-se": (89.58, 0.13), "pn": (89.57, 0.08), "nn": (89.46, 0.08),
                      "cn": (89.56, 0.05), "ipc": (89.90, 0.06), "bp-ce": (89.04, 0.08), "bp-se": (89.48, 0.07)},
}  # fmt: skip

PAGES: dict[str, PageNotes] = {"pc_vs_bp": PC_VS_BP, "pc_algorithms": PC_ALGORITHMS}
