"""Which paper figure each panel of a page reproduces, in what setting, and how pcdash's setting
differs: plain data, so pages (and a catalogue of the papers' figures) read it from one place.

Each :class:`PaperFigure` names a panel by the ``key`` its page gives the figure. The texts are
Markdown. Pages show ``shows`` under the panel and ``paper_setting`` / ``differences`` in a
"Paper setting" expander; :data:`PAGE_NOTES` holds what applies to every panel of a page.
"""

from __future__ import annotations

from dataclasses import dataclass

PCX = "Pinchetti et al., *Benchmarking predictive coding networks — made simple* (PCX)"


@dataclass(frozen=True)
class PaperFigure:
    """One panel and the paper figure it reproduces."""

    key: str  # the panel's figure name on its page
    page: str  # the page's file under views/
    paper: str
    figures: str  # the paper's figure numbers, e.g. "Fig. 6b; Fig. 14a (two moons)"
    shows: str  # what the panel shows, in one sentence
    paper_setting: str  # the setting of the paper's figure
    differences: str  # pcdash's default setting, where it differs, and why


ENERGY_PAGE = "energy_dynamics.py"

ENERGY_DYNAMICS: tuple[PaperFigure, ...] = (
    PaperFigure(
        key="energy_vs_step", page=ENERGY_PAGE, paper=PCX, figures="Fig. 6b; Fig. 14a (two moons)",
        shows="Energy of each layer over the inference steps of the last training batch: the error starts "
              "in the output layer and only a little of it reaches the first hidden layer.",
        paper_setting="The best model of the App. D.1 grid (AdamW, γ = 0.003 on FashionMNIST); the energy is "
                      "the L2 norm over the batch of each example's energy.",
        differences="The model you pick (by default the best AdamW model of the run); energies are batch "
                    "means. PCX's plotting code draws the energy of the last inference step at the end of "
                    "each of the 8 epochs on an axis labelled T; here the x axis is the inference step.",
    ),  # fmt: skip
    PaperFigure(
        key="accuracy_vs_gamma", page=ENERGY_PAGE, paper=PCX, figures="Fig. 6c; Fig. 14b (two moons)",
        shows="Final test accuracy against the state learning rate γ for the two weight optimisers: small γ "
              "trains best, γ = 1 does not.",
        paper_setting="HardTanh, width 1024, SGD with momentum 0.9 against AdamW; box plots over the weight "
                      "learning rates 1e-5 … 1 and 3 seeds (10 on two moons).",
        differences="One weight learning rate per optimiser (App. D.2's: 0.01 for image sets, 0.03 for two "
                    "moons), width 64, mean and 95% interval over 3 seeds.",
    ),  # fmt: skip
    PaperFigure(
        key="energy_ratio_vs_gamma", page=ENERGY_PAGE, paper=PCX, figures="Fig. 6d; Fig. 14c (two moons)",
        shows="Energy of the first hidden layer ÷ energy of the output layer against γ: orders of magnitude "
              "below 1 at γ = 0.01, rising towards balance as γ grows.",
        paper_setting="Every AdamW model of the App. D.1 grid with accuracy > 0.5 (all widths, activations and "
                      "weight learning rates); ratios of neighbouring layers, ε₁²/ε₂² and ε₂²/ε₃².",
        differences="First hidden ÷ output, as the paper's text states it, per weight optimiser, at width 64 and "
                    "one weight learning rate; the members that trained (accuracy at least halfway from chance "
                    "to 1; PCX's cut of 0.5 keeps two-moons models at chance). On digits no AdamW model trains "
                    "at γ = 1 with App. D.2's rate, so only SGD has a point there; PCX's pooled grid has AdamW "
                    "models with small learning rates that do.",
    ),  # fmt: skip
    PaperFigure(
        key="stability", page=ENERGY_PAGE, paper=PCX, figures="Fig. 7; Fig. 16 (two moons)",
        shows="Accuracy against γ for each width, per weight optimiser: with AdamW the largest γ that still "
              "trains shrinks as the layers widen; with SGD it does not.",
        paper_setting="LeakyReLU, widths 32 … 4096, γ 1e-5 … 0.1, weight learning rate 0.01 (FashionMNIST) "
                      "or 0.03 (two moons) for SGD and AdamW, both with momentum 0.9; 3 seeds (10 on two moons).",
        differences="Widths 64, 256 and 1024 and γ 0.01 … 1 by default (wider layers take minutes on a CPU); "
                    "3 seeds. A γ trains when the seed-mean test accuracy is at least halfway from chance to 1. "
                    "What pcdash measured: on digits (3 seeds) AdamW's largest γ falls from 0.3 at width 64 to "
                    "0.1 at 1024, SGD's stays at 0.3; on two moons (5 seeds) AdamW's falls from 1 to 0.03 while "
                    "SGD's stays at 0.3, but AdamW at width 1024 trains again at γ = 0.3 (a band of failure "
                    "around γ = 0.1, not a clean threshold: the seeds vary from 0.2 to 0.8 there). The smallest "
                    "γ can also fall short by training too little (1,294 training images on digits, 60,000 on "
                    "FashionMNIST): SGD at width 64 reaches only 0.59 at γ = 0.01 on digits.",
    ),  # fmt: skip
)

PAGE_NOTES: dict[str, str] = {
    ENERGY_PAGE: (
        "Setting of PCX §5.1 and App. D: 2 hidden layers, 8 epochs, T = 8 inference steps, forward "
        "initialisation, states updated by plain SGD (no momentum, as in PCX's code; the PC pages' "
        "default of momentum 0.9 makes γ ≈ 10× larger in effect and drives the output energy to zero "
        "by γ = 0.1), the cross-entropy output energy of PCX's code (PC-CE) on a linear output layer. "
        "Differences: the dataset (8×8 digits instead of FashionMNIST; pcdash's two moons have noise "
        "0.1 and 2,000 points, PCX's noise 0.2), the widths, the seeds, the batch size (64; PCX's is "
        "not published) and SGD's weight decay (pcdash decays SGD's weights by lr · 1e-4 per step "
        "too; PCX's SGD has none)."
    ),
}


def figures_for(page: str) -> tuple[PaperFigure, ...]:
    """Every :class:`PaperFigure` of ``page`` (its file name under views/)."""
    return tuple(f for f in ENERGY_DYNAMICS if f.page == page)


def paper_figure(key: str, page: str = ENERGY_PAGE) -> PaperFigure:
    """The :class:`PaperFigure` of panel ``key`` on ``page``; KeyError if there is none."""
    for f in figures_for(page):
        if f.key == key:
            return f
    raise KeyError(f"no paper figure {key!r} on {page}")
