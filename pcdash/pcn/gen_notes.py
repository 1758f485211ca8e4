"""What each tab of the Generative & memory page shows of the PCX paper (Pinchetti et al.,
``references/pcx-benchmark-paper.md``): the figure or table behind every panel, and the settings
that differ from the paper's, with the reason. Plain data: the page prints it, nothing else
decides it. Where a tab offers the paper's own setting as a preset, ``preset`` says how the
preset itself still differs ("" = as in the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

PCX = "Pinchetti et al., Benchmarking predictive coding networks — made simple (PCX)"


@dataclass(frozen=True)
class Panel:
    """One panel of a tab and the paper figure (or table) it reproduces."""

    title: str
    figure: str  # e.g. "PCX Table 2"; "—" when the paper has no such panel
    note: str = ""


@dataclass(frozen=True)
class Setting:
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
    settings: tuple[Setting, ...]
    has_preset: bool = False

    def settings_frame(self) -> pd.DataFrame:
        """One row per setting: the paper's value, the default's, why it differs (and the preset's)."""
        rows = []
        for s in self.settings:
            row = {"setting": s.name, "paper": s.paper, "pcdash default": s.here, "why the default differs": s.why}
            if self.has_preset:
                row["paper preset"] = s.preset or "as in the paper"
            rows.append(row)
        return pd.DataFrame(rows)

    def panels_markdown(self) -> str:
        return "\n".join(f"- **{p.title}**: {p.figure}" + (f" — {p.note}" if p.note else "") for p in self.panels)


AUTOENCODER = TabNotes(
    shows="PCX §4.2 (generation from a posterior): Table 2 (reconstruction MSE of PC and BP autoencoders) "
          "and Fig. 3 (originals above their PC and BP reconstructions).",
    panels=(
        Panel("Test images and their reconstructions", "PCX Fig. 3",
              "the paper's figure is CIFAR-10 with (de)convolutional models; here the MLP autoencoders of Table 2"),
        Panel("Test MSE per model", "PCX Table 2 (MNIST and FashionMNIST rows)",
              "PC: infer h₀ with the image clamped at h_L, then a top-down pass from h₀ alone (§4)"),
        Panel("Test MSE over training", "— (the paper reports the final MSE only)"),
    ),
    settings=(
        Setting("dataset", "MNIST, FashionMNIST (28×28)", "digits (8×8, 1,797 images)",
                "runs in seconds offline; MNIST and FashionMNIST are a choice once downloaded"),
        Setting("reconstruction", "forward pass from the inferred h₀ (§4)", "the same", ""),
        Setting("PC decoder", "3 layers: [64, 128, 128, 784] in PCX's MNIST config (latent 64)",
                "[latent 8, 64, 64]: 2 layers", "digits have only 64 pixels: a 64-d latent would be no bottleneck"),
        Setting("BP autoencoder", "3-layer encoder + 3-layer decoder (PCX's code applies no activation "
                "between its layers)", "the PC decoder's mirror image + the same decoder, same activation",
                "one decoder for both models, so only the way the latent is found differs"),
        Setting("activation", "searched over ReLU, LeakyReLU, GELU, tanh, HardTanh (HardTanh in PCX's config)",
                "HardTanh", "PCX's configured choice, without the search"),
        Setting("batch size, epochs", "200, 30", "64, 8", "digits has 1,293 training images: batch 200 gives 6 "
                "updates per epoch; 8 epochs take seconds"),
        Setting("inference T", "20 (training and test)", "20 (training and test)", ""),
        Setting("state optimiser", "SGD + momentum, γ ∈ (0.01, 0.5), momentum ∈ [0, 0.95] (config: 0.02, 0.15)",
                "SGD, γ ∈ {0.1, 0.3}, momentum 0.5", "chosen on digits: with momentum 0.9 the heavy-ball "
                "inference has not settled after 20 steps and the test MSE doubles"),
        Setting("state initialisation", "every state 0 (PCX's Vode init), image clamped",
                "h₀ = 0, hidden states by a forward pass", "the same MSE on digits (0.097 both, γ = 0.5)"),
        Setting("weight optimiser", "AdamW, lr ∈ (3e-5, 1e-3), decay ∈ (1e-5, 1e-2)", "AdamW 3e-3, decay 1e-4",
                "8 epochs on a small set need a larger step"),
        Setting("iPC", "a third column of Table 2", "not on this tab", "the PC algorithms page compares iPC"),
    ),
)

MCPC = TabNotes(
    shows="PCX §4.2 (sampling the learned joint): Fig. 4 left (density of MCPC samples over the iris data); "
          "on digits, image samples as in Fig. 4 right and Fig. 12.",
    panels=(
        Panel("Samples before / after training (2-D sets)", "PCX Fig. 4, left",
              "contours: samples of the free-running model; points: the data"),
        Panel("Samples before / after training (images)", "PCX Fig. 4, right, and Fig. 12 (MNIST)",
              "unconditional samples only; the paper's conditional (odd/even) samples are not offered"),
        Panel("Distance to the data", "— (PCX's code monitors an earth mover's distance; the paper shows plots)",
              "first two moments and a Gaussian-kernel MMD², before and after training"),
        Panel("Reconstruction MSE during training", "— (not in the paper)"),
    ),
    settings=(
        Setting("data", "iris: sepal length and petal length, standardised (PCX's mcpc_iris.py)",
                "the same", ""),
        Setting("model", "'[2 × 64 × 2]': a 64-d latent whose prior mean θ₀ is learned (the bias of a first layer "
                "fed zeros), a 64-unit hidden layer, 2-D data; tanh",
                "latent 2 with a learned prior mean, 64 hidden, tanh; PCX's layers μ_l = W tanh(h_{l−1}) + b",
                "a smaller latent trains in fewer steps"),
        Setting("prior P(h₀)", "N(θ₀, I), θ₀ learned with the weights (§3)", "the same", ""),
        Setting("state dynamics", "γ = 0.01, momentum 0.9 (Eq. 5–6), σ²_mcpc = 1, σ²_h_L = 0.01",
                "γ = 0.01, momentum 0 on moons and circles (Eq. 4), 0.9 on iris; σ²_mcpc = 1, σ²_h_L = 0.01",
                "first-order Langevin mixes in fewer steps on two moons", "the velocity restarts at each batch; "
                "PCX's script carries it over from the previous batch"),
        Setting("inference steps", "500 per weight update, 10,000 for generation", "50 and 1,000",
                "seconds instead of tens of minutes"),
        Setting("weight optimiser", "Adam(W), lr 1e-3, decay 1e-4", "AdamW 3e-3, decay 1e-4",
                "fewer weight updates need a larger step"),
        Setting("batch, weight updates", "150; 68 epochs over 150 copies of the 150 flowers (10,200 updates)",
                "150; 10 epochs over 10 copies (100 updates; two moons: 90)", "time"),
        Setting("sampling start", "h₀ = θ₀ and a forward pass", "h₀ ~ N(θ₀, I) and a forward pass",
                "a draw from the learned prior; the chain forgets its start either way", "h₀ ~ N(θ₀, I)"),
        Setting("samples", "4,500 (30 per flower)", "1,000", "enough for the contours, in a quarter of the time"),
    ),
    has_preset=True,
)

MEMORY = TabNotes(
    shows="PCX §4.2 (associative memory): Table 3 (recall MSE by number of stored images and width) and "
          "Fig. 5 (stored, corrupted and recalled images).",
    panels=(
        Panel("Recall MSE heatmaps", "PCX Table 3 (noise left, mask right)", "rows: images stored; columns: width"),
        Panel("Stored / corrupted / recalled images", "PCX Fig. 5"),
        Panel("Reconstruction MSE while memorising", "— (not in the paper)"),
    ),
    settings=(
        Setting("data", "Tiny ImageNet (64×64×3)", "digits (8×8)", "offline, seconds"),
        Setting("model", "[512, d, d, 12288], d ∈ {512, 1024, 2048}, tanh", "[32, w, 64], w ∈ {32, 64}, tanh",
                "digits have 64 pixels; one hidden layer is enough to memorise 64 of them"),
        Setting("images stored n", "50, 100, 250", "4, 16, 64", "digits' scale"),
        Setting("corruption", "Gaussian noise σ = 0.2; bottom half masked (top half kept fixed)", "the same", ""),
        Setting("training", "500 epochs, batch 50, T_train ∈ {20, 50, 100}, searched γ and lr",
                "300 full-batch steps, T = 20, γ = 0.1, AdamW 3e-3", "time"),
        Setting("recall steps", "50,000–100,000", "400 (noise: 400 more with the image clamped first)", "time"),
    ),
)

OOD = TabNotes(
    shows="PCX Appendix F: Fig. 19–25 (energy and max-softmax histograms, energy against softmax, ROC curves "
          "over all and over the least confident 25%, negative log-likelihood per set).",
    panels=(
        Panel("Score histograms", "PCX Fig. 20–22"),
        Panel("ROC, all examples", "PCX Fig. 19c and Fig. 25 (100th percentile)"),
        Panel("ROC, least confident 25%", "PCX Fig. 19c and Fig. 25 (25th percentile)"),
        Panel("Energy against max softmax", "PCX Fig. 19b and Fig. 23"),
        Panel("Negative log-likelihood table", "PCX Fig. 19a and Fig. 24 (F = −ln p(x, y; θ), Eq. 7)"),
    ),
    settings=(
        Setting("ID vs OOD data", "MNIST vs FashionMNIST (also KMNIST, EMNIST letters, notMNIST)",
                "digits vs a shifted copy of its test set (noise, inverted, rotated, shuffled)",
                "works offline; MNIST vs FashionMNIST once both are downloaded",
                "MNIST vs FashionMNIST when downloaded, else digits vs a shift"),
        Setting("network", "3 hidden layers of 512, GELU, cross-entropy output", "2 hidden layers of 128, GELU, "
                "cross-entropy output", "seconds instead of minutes"),
        Setting("training inference", "T = 10, γ = 0.01, SGD without momentum", "T = 8, γ = 0.05, SGD momentum 0.9",
                "the PC pages' default state optimiser; trains in 10 epochs"),
        Setting("weight optimiser", "SGD, lr 0.01, momentum 0.9", "AdamW 1e-3, decay 1e-4",
                "SGD at lr 0.01 needs many more epochs on digits (test accuracy 0.79 after 10)"),
        Setting("epochs, batch", "until the test error converges (early stopping at 75 on MNIST); batch not given "
                "(128 in PCX's code)", "10, 64", "time", "75 (a control), 128: on digits 75 epochs are only 750 "
                "updates and leave the classifier unconverged (test accuracy 0.87, max softmax ≤ 0.55); 300 epochs "
                "converge it (0.92)"),
        Setting("test inference", "T = 100, same state optimiser", "T = 50", "time"),
        Setting("test examples scored", "the whole test sets", "300 per set", "time",
                "1,000 per set (all 360 on digits)"),
    ),
    has_preset=True,
)

TABS: dict[str, TabNotes] = {"autoencoder": AUTOENCODER, "mcpc": MCPC, "memory": MEMORY, "ood": OOD}
