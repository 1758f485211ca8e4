"""What each page shows of its paper, as data the pages print: the paper figure behind every
panel, the paper's settings next to the page's defaults and why they differ. The claims of those
figures, with checks that decide them from the page's own result, are in the figure catalogue
(:mod:`pcdash.paper`); this module holds the text around them.

Papers: "comparison" is *Backpropagation and Predictive Coding: an experimental comparison*
(``references/bp-vs-pc-comparison.md``); "PCX" is Pinchetti et al.'s benchmark paper
(``references/pcx-benchmark-paper.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

PCX = "Pinchetti et al., Benchmarking predictive coding networks — made simple (PCX)"
ENERGY_PAGE = "energy"

# What applies to every panel of the Energy dynamics page (PCX §5.1 and App. D).
ENERGY_SETTING = (
    "Setting of PCX §5.1 and App. D: 2 hidden layers, 8 epochs, T = 8 inference steps, forward "
    "initialisation, states updated by plain SGD (no momentum, as in PCX's code; the PC pages' "
    "default of momentum 0.9 makes γ ≈ 10× larger in effect and drives the output energy to zero "
    "by γ = 0.1), the cross-entropy output energy of PCX's code (PC-CE) on a linear output layer. "
    "Differences: the dataset (8×8 digits instead of FashionMNIST; pcdash's two moons have noise "
    "0.1 and 2,000 points, PCX's noise 0.2), the widths, the seeds, the batch size (64; PCX's is "
    "not published) and SGD's weight decay (pcdash decays SGD's weights by lr · 1e-4 per step "
    "too; PCX's SGD has none)."
)


# --------------------------------------------------------------------------- PC vs BP, PC
# algorithms


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
class PageNotes:
    paper: str
    panels: dict[str, Panel]
    settings: tuple[Setting, ...]
    preset: str = (
        ""  # what the page's "paper's setting" preset loads, where the paper gives no value
    )

    def settings_frame(self) -> pd.DataFrame:
        """One row per setting: the paper's value, ours, and why ours differs (empty if equal)."""
        return pd.DataFrame(
            [
                {
                    "setting": s.name,
                    "paper": s.paper,
                    "pcdash default": s.here,
                    "why it differs": s.why,
                }
                for s in self.settings
            ]
        )


COMPARISON = "Backpropagation and Predictive Coding: an experimental comparison"

PC_VS_BP = PageNotes(
    paper=COMPARISON,
    preset="The paper's setting: FashionMNIST, 256 × 8, always 256 inference steps, weights every "
    "8 steps in the rc2 "
    "models at a learning rate of 1e-5. The paper gives no epochs or batch size: 20 and 64 are our "
    "guesses. "
    "On two CPU cores it takes hours; FashionMNIST must be downloaded.",
    panels={
        "benchmark": Panel(
            "Accuracy and time to convergence per model",
            "Comparison paper, Fig. 2",
            "Time to convergence: time to reach 90% of the final accuracy (the paper's "
            "definition), "
            "from the median training seconds per epoch.",
        ),
        "curves": Panel(
            "Accuracy and loss over epochs, one panel per model",
            "Comparison paper, Fig. 3 (and Fig. 6 for the model with weight decay)",
            "Accuracy in red; train loss dotted and test loss solid, in blue, as in the paper.",
        ),
        "landscape": Panel(
            "Loss landscape around each trained model",
            "Comparison paper, Fig. 4 (span 1) and Fig. 7 (zoomed: a smaller span)",
            "Li et al. (2018): two filter-normalised random directions, the same for every model.",
        ),
        "weights": Panel(
            "Weight distributions of the first two and the last two layers",
            "Comparison paper, Fig. 5",
        ),
        "steps": Panel(
            "Inference steps used per batch",
            "— (the paper ran 256 steps; it reports no count)",
            "Standard PC stops when every layer's energy changes by less than the tolerance; "
            "relaxed "
            "models always run all T steps.",
        ),
        "alignment": Panel(
            "Cosine between the PC update and the BP gradient",
            "— (not in the paper)",
            "pcdash's own diagnostic of the PC ≈ BP conditions (Whittington & Bogacz, 2017).",
        ),
    },
    settings=(
        Setting(
            "dataset",
            "FashionMNIST (MNIST gave the same results)",
            "digits (8×8, 1,797 images)",
            "the paper's sets are 60k images of 28×28: too slow for 2 CPU cores in a browser",
        ),
        Setting(
            "width × hidden layers",
            "256 … 1024 × 8 (figures: 256 × 8)",
            "64 × 8",
            "a narrow net, as the paper's claim about narrow nets needs, small enough to train in "
            "seconds",
        ),
        Setting(
            "inference (condition 2 kept)",
            "256 steps per batch",
            "up to 256 steps; stop when every layer's relative energy change ≤ 1e-3",
            "the paper observed 256 steps to be enough to converge; stopping "
            "at convergence gives the same weight update (cosine ≥ 0.99 to 1,024 steps) in fewer "
            "steps",
        ),
        Setting(
            "relaxed (condition 2 relaxed)",
            "weights updated every 8 of the 256 steps",
            "every 8 of 256 steps",
        ),
        Setting(
            "trainable precision (condition 3 relaxed)",
            "a variance Σ_l per layer (Eq. 6)",
            "a log-variance per layer (per neuron: a choice)",
            "",
        ),
        Setting(
            "weight decay (Fig. 6)",
            "1e-6, both conditions relaxed",
            "1e-6 (L2, as in PyTorch's Adam) on pc_rc23_wd",
            "",
        ),
        Setting(
            "weight learning rate",
            "not given; 1e-5 needed when conditions 2 and 3 are relaxed",
            "1e-3 (standard PC, pc_rc3, BP); 1e-4 for the relaxed models",
            "1e-5 trains too slowly for a few epochs on digits; 1e-4 shows the same instability",
        ),
        Setting(
            "epochs, seeds, batch",
            "not given (curves over epochs)",
            "8 epochs, 1 seed, batch 32",
            "time: each relaxed model runs 256 inference steps per batch; the six models take "
            "about 25 s of "
            "CPU once compiled (the first run compiles for about 20 s more). 8 epochs, not fewer: "
            "BP, the "
            "reference every PC model is compared with, is at 65% test accuracy after 4 epochs on "
            "digits "
            "and at 92% after 8",
        ),
        Setting(
            "optimisers",
            "PyTorch (not named); states by gradient descent (Eq. 7)",
            "weights: Adam (AdamW with no decoupled decay); states: SGD with momentum 0.9, γ = 0.1",
            "the PCX paper's state optimiser",
        ),
    ),
)

PC_ALGORITHMS = PageNotes(
    paper=PCX,
    panels={
        "table": Panel(
            "Final test accuracy per learning rule",
            "PCX paper, Table 1 (MLP rows: MNIST, FashionMNIST)",
            "The paper's MNIST and FashionMNIST numbers (5 seeds) are shown beside ours.",
        ),
        "curves": Panel("Test accuracy over epochs", "— (the paper reports final accuracies only)"),
        "time": Panel(
            "Time per epoch relative to BP",
            "PCX paper, Table 4 (MLP row)",
            "The paper: MLP on FashionMNIST, 1.94 s per epoch for PC against 1.82 s for BP (1.07×, "
            "A100 GPU). "
            "On a CPU each of the T inference steps costs about as much as BP's whole step, so PC "
            "is "
            "several times slower here.",
        ),
    },
    settings=(
        Setting(
            "dataset",
            "MNIST and FashionMNIST (28×28, 60k)",
            "digits (8×8, 1,797 images)",
            "runs in seconds on 2 CPU cores; MNIST/FashionMNIST are a choice when their files are "
            "present",
        ),
        Setting(
            "network",
            "MLP, 3 hidden layers × 128 (§4.1 and the PCX code; Table 5 lists [128, 128])",
            "3 hidden layers × 128",
        ),
        Setting(
            "epochs, seeds",
            "25 epochs, 5 seeds",
            "8 epochs, 5 seeds",
            "time; digits is learnt in a few epochs",
        ),
        Setting(
            "batch size",
            "128",
            "32",
            "digits has 1,294 training images: 128 would give 10 updates per epoch",
        ),
        Setting("inference steps T", "searched; 5–8 in the released MLP configs", "8", ""),
        Setting(
            "state optimiser",
            "SGD, momentum searched (0.1–0.25 in the MLP configs)",
            "SGD, momentum 0.9",
            "one setting for every rule; the paper tuned it per rule",
        ),
        Setting(
            "weight optimiser",
            "AdamW with weight decay, warm-up + cosine schedule, tuned per rule",
            "AdamW 1e-3, weight decay 1e-4, constant",
            "one setting for every rule (no per-rule search)",
        ),
        Setting(
            "nudging β",
            "β₀ and β growth searched per rule (e.g. NN: β₀ = 0.9, +0.02/epoch)",
            "β₀ = 0.1, +0.1 per epoch",
            "one schedule for PN, NN and CN",
        ),
        Setting(
            "centred nudging",
            "PN or NN at random each epoch",
            "PN or NN at random each epoch, seeded per member (alternation is an option)",
        ),
        Setting("iPC", "states and weights updated at every step from the same (h, θ)", "the same"),
    ),
)

PAGES: dict[str, PageNotes] = {"pc_vs_bp": PC_VS_BP, "pc_algorithms": PC_ALGORITHMS}


# --------------------------------------------------------------------------- Generative & memory
# (tabs)


@dataclass(frozen=True)
class TabSetting:
    """A setting of the paper next to pcdash's quick default (and the paper preset, if any)."""

    name: str
    paper: str
    here: str  # the tab's quick default
    why: str = ""  # why the default differs ("" = it does not)
    preset: str = ""  # how the paper preset differs ("" = as in the paper)


@dataclass(frozen=True)
class TabNotes:
    shows: str  # one line: which figure/table of the paper this tab reproduces
    panels: tuple[Panel, ...]
    settings: tuple[TabSetting, ...]
    has_preset: bool = False

    def settings_frame(self) -> pd.DataFrame:
        """One row per setting: the paper's value, the default's, why it differs (and the
        preset's)."""
        rows = []
        for s in self.settings:
            row = {
                "setting": s.name,
                "paper": s.paper,
                "pcdash default": s.here,
                "why the default differs": s.why,
            }
            if self.has_preset:
                row["paper preset"] = s.preset or "as in the paper"
            rows.append(row)
        return pd.DataFrame(rows)

    def panels_markdown(self) -> str:
        return "\n".join(
            f"- **{p.title}**: {p.figure}" + (f" — {p.note}" if p.note else "") for p in self.panels
        )


AUTOENCODER = TabNotes(
    shows="PCX §4.2 (generation from a posterior): Table 2 (reconstruction MSE of PC and BP "
    "autoencoders) "
    "and Fig. 3 (originals above their PC and BP reconstructions).",
    panels=(
        Panel(
            "Test images and their reconstructions",
            "PCX Fig. 3",
            "the paper's figure is CIFAR-10 with (de)convolutional models; here the MLP "
            "autoencoders of Table 2",
        ),
        Panel(
            "Test MSE per model",
            "PCX Table 2 (MNIST and FashionMNIST rows)",
            "PC: infer h₀ with the image clamped at h_L, then a top-down pass from h₀ alone (§4)",
        ),
        Panel("Test MSE over training", "— (the paper reports the final MSE only)"),
    ),
    settings=(
        TabSetting(
            "dataset",
            "MNIST, FashionMNIST (28×28)",
            "digits (8×8, 1,797 images)",
            "runs in seconds offline; MNIST and FashionMNIST are a choice once downloaded",
        ),
        TabSetting("reconstruction", "forward pass from the inferred h₀ (§4)", "the same", ""),
        TabSetting(
            "PC decoder",
            "3 layers: [64, 128, 128, 784] in PCX's MNIST config (latent 64)",
            "[latent 8, 64, 64]: 2 layers",
            "digits have only 64 pixels: a 64-d latent would be no bottleneck",
        ),
        TabSetting(
            "BP autoencoder",
            "3-layer encoder + 3-layer decoder (PCX's code applies no activation "
            "between its layers)",
            "the PC decoder's mirror image + the same decoder, same activation",
            "one decoder for both models, so only the way the latent is found differs",
        ),
        TabSetting(
            "activation",
            "searched over ReLU, LeakyReLU, GELU, tanh, HardTanh (HardTanh in PCX's config)",
            "HardTanh",
            "PCX's configured choice, without the search",
        ),
        TabSetting(
            "batch size, epochs",
            "200, 30",
            "64, 8",
            "digits has 1,293 training images: batch 200 gives 6 "
            "updates per epoch; 8 epochs take seconds",
        ),
        TabSetting("inference T", "20 (training and test)", "20 (training and test)", ""),
        TabSetting(
            "state optimiser",
            "SGD + momentum, γ ∈ (0.01, 0.5), momentum ∈ [0, 0.95] (config: 0.02, 0.15)",
            "SGD, γ ∈ {0.1, 0.3}, momentum 0.5",
            "chosen on digits: with momentum 0.9 the heavy-ball "
            "inference has not settled after 20 steps and the test MSE doubles",
        ),
        TabSetting(
            "state initialisation",
            "every state 0 (PCX's Vode init), image clamped",
            "h₀ = 0, hidden states by a forward pass",
            "the same MSE on digits (0.097 both, γ = 0.5)",
        ),
        TabSetting(
            "weight optimiser",
            "AdamW, lr ∈ (3e-5, 1e-3), decay ∈ (1e-5, 1e-2)",
            "AdamW 3e-3, decay 1e-4",
            "8 epochs on a small set need a larger step",
        ),
        TabSetting(
            "iPC",
            "a third column of Table 2",
            "not on this tab",
            "the PC algorithms page compares iPC",
        ),
    ),
)

MCPC = TabNotes(
    shows="PCX §4.2 (sampling the learned joint): Fig. 4 left (density of MCPC samples over the "
    "iris data); "
    "on digits, image samples as in Fig. 4 right and Fig. 12.",
    panels=(
        Panel(
            "Samples before / after training (2-D sets)",
            "PCX Fig. 4, left",
            "contours: samples of the free-running model; points: the data",
        ),
        Panel(
            "Samples before / after training (images)",
            "PCX Fig. 4, right, and Fig. 12 (MNIST)",
            "unconditional samples only; the paper's conditional (odd/even) samples are not "
            "offered",
        ),
        Panel(
            "Distance to the data",
            "— (PCX's code monitors an earth mover's distance; the paper shows plots)",
            "first two moments and a Gaussian-kernel MMD², before and after training",
        ),
        Panel("Reconstruction MSE during training", "— (not in the paper)"),
    ),
    settings=(
        TabSetting(
            "data",
            "iris: sepal length and petal length, standardised (PCX's mcpc_iris.py)",
            "the same",
            "",
        ),
        TabSetting(
            "model",
            "'[2 × 64 × 2]': a 64-d latent whose prior mean θ₀ is learned (the bias of a first "
            "layer "
            "fed zeros), a 64-unit hidden layer, 2-D data; tanh",
            "latent 2 with a learned prior mean, 64 hidden, tanh; PCX's layers μ_l = W "
            "tanh(h_{l−1}) + b",
            "a smaller latent trains in fewer steps",
        ),
        TabSetting("prior P(h₀)", "N(θ₀, I), θ₀ learned with the weights (§3)", "the same", ""),
        TabSetting(
            "state dynamics",
            "γ = 0.01, momentum 0.9 (Eq. 5–6), σ²_mcpc = 1, σ²_h_L = 0.01",
            "γ = 0.01, momentum 0 on moons and circles (Eq. 4), 0.9 on iris; σ²_mcpc = 1, σ²_h_L = "
            "0.01",
            "first-order Langevin mixes in fewer steps on two moons",
            "the velocity restarts at each batch; "
            "PCX's script carries it over from the previous batch",
        ),
        TabSetting(
            "inference steps",
            "500 per weight update, 10,000 for generation",
            "50 and 1,000",
            "seconds instead of tens of minutes",
        ),
        TabSetting(
            "weight optimiser",
            "Adam(W), lr 1e-3, decay 1e-4",
            "AdamW 3e-3, decay 1e-4",
            "fewer weight updates need a larger step",
        ),
        TabSetting(
            "batch, weight updates",
            "150; 68 epochs over 150 copies of the 150 flowers (10,200 updates)",
            "150; 10 epochs over 10 copies (100 updates; two moons: 90)",
            "time",
        ),
        TabSetting(
            "sampling start",
            "h₀ = θ₀ and a forward pass",
            "h₀ ~ N(θ₀, I) and a forward pass",
            "a draw from the learned prior; the chain forgets its start either way",
            "h₀ ~ N(θ₀, I)",
        ),
        TabSetting(
            "samples",
            "4,500 (30 per flower)",
            "1,000",
            "enough for the contours, in a quarter of the time",
        ),
    ),
    has_preset=True,
)

MEMORY = TabNotes(
    shows="PCX §4.2 (associative memory): Table 3 (recall MSE by number of stored images and "
    "width) and "
    "Fig. 5 (stored, corrupted and recalled images).",
    panels=(
        Panel(
            "Recall MSE heatmaps",
            "PCX Table 3 (noise left, mask right)",
            "rows: images stored; columns: width",
        ),
        Panel("Stored / corrupted / recalled images", "PCX Fig. 5"),
        Panel("Reconstruction MSE while memorising", "— (not in the paper)"),
    ),
    settings=(
        TabSetting("data", "Tiny ImageNet (64×64×3)", "digits (8×8)", "offline, seconds"),
        TabSetting(
            "model",
            "[512, d, d, 12288], d ∈ {512, 1024, 2048}, tanh",
            "[32, w, 64], w ∈ {32, 64}, tanh",
            "digits have 64 pixels; one hidden layer is enough to memorise 64 of them",
        ),
        TabSetting("images stored n", "50, 100, 250", "4, 16, 64", "digits' scale"),
        TabSetting(
            "corruption",
            "Gaussian noise σ = 0.2; bottom half masked (top half kept fixed)",
            "the same",
            "",
        ),
        TabSetting(
            "training",
            "500 epochs, batch 50, T_train ∈ {20, 50, 100}, searched γ and lr",
            "300 full-batch steps, T = 20, γ = 0.1, AdamW 3e-3",
            "time",
        ),
        TabSetting(
            "recall steps",
            "50,000–100,000",
            "400 (noise: 400 more with the image clamped first)",
            "time",
        ),
    ),
)

OOD = TabNotes(
    shows="PCX Appendix F: Fig. 19–25 (energy and max-softmax histograms, energy against softmax, "
    "ROC curves "
    "over all and over the least confident 25%, negative log-likelihood per set).",
    panels=(
        Panel("Score histograms", "PCX Fig. 20–22"),
        Panel("ROC, all examples", "PCX Fig. 19c and Fig. 25 (100th percentile)"),
        Panel("ROC, least confident 25%", "PCX Fig. 19c and Fig. 25 (25th percentile)"),
        Panel("Energy against max softmax", "PCX Fig. 19b and Fig. 23"),
        Panel(
            "Negative log-likelihood table", "PCX Fig. 19a and Fig. 24 (F = −ln p(x, y; θ), Eq. 7)"
        ),
    ),
    settings=(
        TabSetting(
            "ID vs OOD data",
            "MNIST vs FashionMNIST (also KMNIST, EMNIST letters, notMNIST)",
            "digits vs a shifted copy of its test set (noise, inverted, rotated, shuffled)",
            "works offline; MNIST vs FashionMNIST once both are downloaded",
            "MNIST vs FashionMNIST when downloaded, else digits vs a shift",
        ),
        TabSetting(
            "network",
            "3 hidden layers of 512, GELU, cross-entropy output",
            "2 hidden layers of 128, GELU, cross-entropy output",
            "seconds instead of minutes",
        ),
        TabSetting(
            "training inference",
            "T = 10, γ = 0.01, SGD without momentum",
            "T = 8, γ = 0.05, SGD momentum 0.9",
            "the PC pages' default state optimiser; trains in 10 epochs",
        ),
        TabSetting(
            "weight optimiser",
            "SGD, lr 0.01, momentum 0.9",
            "AdamW 1e-3, decay 1e-4",
            "SGD at lr 0.01 needs many more epochs on digits (test accuracy 0.79 after 10)",
        ),
        TabSetting(
            "epochs, batch",
            "until the test error converges (early stopping at 75 on MNIST); batch not given "
            "(128 in PCX's code)",
            "10, 64",
            "time",
            "75 (a control), 128: on digits 75 epochs are only 750 "
            "updates and leave the classifier unconverged (test accuracy 0.87, max softmax ≤ "
            "0.55); 300 epochs "
            "converge it (0.92)",
        ),
        TabSetting("test inference", "T = 100, same state optimiser", "T = 50", "time"),
        TabSetting(
            "test examples scored",
            "the whole test sets",
            "300 per set",
            "time",
            "1,000 per set (all 360 on digits)",
        ),
    ),
    has_preset=True,
)

TABS: dict[str, TabNotes] = {"autoencoder": AUTOENCODER, "mcpc": MCPC, "memory": MEMORY, "ood": OOD}
