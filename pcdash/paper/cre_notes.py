"""Which figure of the CRE paper each page shows, the paper's setting for it, and how a
configuration differs from that setting. The pages' notes are generated here from the
configuration they run, so they stay true when defaults change.

The paper: Rathjens & Wiskott, ESANN 2024 (``references/cre-paper-esann.md``); its arXiv version
(2401.09237) numbers the figures differently. The training setting is the authors' public code
(wiskott-lab/classification-reconstruction-encoder, ``train_cre.py``), since the paper text gives
none: Adam with learning rate 1e-3 (one per encoder, decoder and classifier), batch 512, 10 epochs,
PyTorch's default initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcdash.experiments.cre_config import CREConfig

MNIST_TRAIN = 60_000
PAPER_BATCH = 512
PAPER_EPOCHS = 10
PAPER_LR = 1e-3
PAPER_STEPS = PAPER_EPOCHS * (MNIST_TRAIN // PAPER_BATCH)  # 1,170 Adam steps
DATASET_NAMES = {
    "digits": "digits",
    "mnist": "MNIST",
    "fashion_mnist": "FashionMNIST",
    "cifar10": "CIFAR-10",
    "moons": "two moons",
    "circles": "circles",
}


@dataclass(frozen=True)
class PaperFigure:
    """One figure of the paper: its numbers in both versions, what it shows and its setting."""

    esann: str
    arxiv: str
    shows: str
    datasets: tuple[str, ...]
    archs: tuple[str, ...] | None = None  # None: every variant
    latent_dims: tuple[int, ...] | None = None  # None: not fixed by the figure
    lambdas: tuple[float, ...] | None = None  # None: not stated in the paper's text


FIGURES = {
    "tradeoff": PaperFigure(
        "Fig. 2",
        "Fig. 3",
        "box plots of accuracy (blue) and reconstruction error (orange) against λ for FC-, CNN- "
        "and ViT-based "
        "CREs on MNIST, FashionMNIST and CIFAR-10",
        ("mnist", "fashion_mnist", "cifar10"),
    ),
    "latent": PaperFigure(
        "Fig. 3, top row",
        "Fig. 4",
        "3-D latent spaces of an FC-based CRE with dim(z) = 3 at λ = 0, 0.2 and 1, fifty points "
        "per class, on "
        "FashionMNIST (the arXiv figure adds MNIST)",
        ("fashion_mnist", "mnist"),
        ("fc-small", "fc-medium", "fc-large"),
        (3,),
        (0.0, 0.2, 1.0),
    ),
    "reconstructions": PaperFigure(
        "Fig. 3, bottom row",
        "Fig. 5",
        "reconstructions by an FC-based CRE with dim(z) = 3 at λ = 0, 0.2 and 1 on FashionMNIST "
        "(the arXiv "
        "figure adds MNIST)",
        ("fashion_mnist", "mnist"),
        ("fc-small", "fc-medium", "fc-large"),
        (3,),
        (0.0, 0.2, 1.0),
    ),
    "latent_dimension": PaperFigure(
        "Fig. 4",
        "a later figure",
        "mean accuracy and MSE of FC-based CREs against dim(z) for several λ on MNIST and "
        "FashionMNIST, with "
        "PCA- and RP-based representations and 95% confidence intervals",
        ("mnist", "fashion_mnist"),
        ("fc-small", "fc-medium", "fc-large"),
    ),
}


def figure_line(page: str) -> str:
    """``"Paper: ESANN Fig. 2 (arXiv Fig. 3), box plots of …"``."""
    fig = FIGURES[page]
    return f"Paper: ESANN {fig.esann} (arXiv {fig.arxiv}): {fig.shows}."


def _names(datasets: tuple[str, ...]) -> str:
    return ", ".join(DATASET_NAMES.get(d, d) for d in datasets)


def _fmt(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def differences(page: str, config: CREConfig, train_size: int | None = None) -> list[str]:
    """One sentence per setting of ``config`` that differs from the paper's figure for ``page``,
    with the reason where pcdash chose it. ``train_size``: the number of training images (for
    the steps per epoch), if known."""
    fig = FIGURES[page]
    out = []
    if config.dataset not in fig.datasets:
        why = (
            " (bundled with scikit-learn: works offline and trains in seconds)"
            if config.dataset == "digits"
            else ""
        )
        out.append(
            f"dataset {DATASET_NAMES.get(config.dataset, config.dataset)} instead of "
            f"{_names(fig.datasets)}{why}"
        )
    if fig.archs is not None and config.arch not in fig.archs:
        out.append(f"architecture {config.arch} instead of an FC-based CRE")
    if fig.latent_dims is not None and tuple(config.latent_dims) != fig.latent_dims:
        out.append(f"dim(z) = {_fmt(config.latent_dims)} instead of {_fmt(fig.latent_dims)}")
    if fig.lambdas is not None and tuple(config.lambdas) != fig.lambdas:
        out.append(f"λ = {_fmt(config.lambdas)} instead of {_fmt(fig.lambdas)}")
    if config.batch_size != PAPER_BATCH or config.epochs != PAPER_EPOCHS:
        if train_size:
            steps = config.epochs * (train_size // config.batch_size)
            per_epoch = train_size // PAPER_BATCH
            why = (
                f"; its {train_size:,} training images give {per_epoch} "
                f"step{'s' if per_epoch != 1 else ''} per "
                f"epoch at batch {PAPER_BATCH}"
                if config.dataset == "digits"
                else ""
            )
            out.append(
                f"batch {config.batch_size} × {config.epochs} epochs = {steps:,} Adam steps "
                "instead of batch "
                f"{PAPER_BATCH} × {PAPER_EPOCHS} epochs = {PAPER_STEPS:,} steps on MNIST{why}"
            )
        else:
            out.append(
                f"batch {config.batch_size} × {config.epochs} epochs instead of batch "
                f"{PAPER_BATCH} × "
                f"{PAPER_EPOCHS} epochs"
            )
    if config.lr != PAPER_LR:
        out.append(f"learning rate {config.lr:g} instead of {PAPER_LR:g}")
    if config.init != "authors" and config.arch == "vit":
        out.append(
            "initialisation: the classifier's output layer starts at zero instead of the authors' "
            "Xavier "
            "initialisation"
        )
    elif config.init != "authors":
        out.append(
            "initialisation: the latent units start active (bias +0.5) and the classifier's output "
            "layer at "
            "zero, instead of PyTorch's default (the authors'); with the default, 21 of the 30 "
            "models of the "
            "default digits sweep lost latent units for good, most in their first Adam steps (dead "
            "ReLUs); "
            "with this one 12 lose one unit, all at 0 < λ < 1"
        )
    if config.latent_activation != "relu" and config.arch != "vit":
        out.append(f"{config.latent_activation} latent instead of ReLU")
    if page in ("tradeoff", "latent_dimension"):
        out.append(
            f"{config.seeds} seed{'s' if config.seeds != 1 else ''} per setting (the paper pools "
            "about "
            f"10,000 trained models in all; it does not state how many per box)"
        )
    return out
