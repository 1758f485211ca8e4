"""The PCX paper's setting for §5.1 (energy propagation, training stability) and its Appendix D,
as :class:`~pcdash.experiments.pcn_config.PCNConfig` s: what the Energy dynamics page trains by
default.

From the paper (App. D.1, D.2): feed-forward PCNs with 2 hidden layers, 8 epochs, T = 8 inference
steps, forward initialisation, the states optimised by SGD; weights by AdamW or by SGD with
momentum 0.9 (AdamW's β₁ = 0.9); Fig. 6c uses HardTanh at width 1024, Fig. 7 LeakyReLU; the
weight learning rate of the stability study is 0.01 on FashionMNIST and 0.03 on two moons.

What the paper leaves open, from PCX's code (``examples/energy_propagation_training_stability``):
the state optimiser is plain SGD, without momentum (``optax.sgd(h_lr)``), on each example's own
energy gradient; the output layer is linear with the cross-entropy energy (``pxc.ce_energy``),
so the algorithm is PC-CE; AdamW is optax's default (weight decay 1e-4). The batch size is not
published (the data configs are missing from the code); pcdash uses 64.
"""

from __future__ import annotations

from pcdash.experiments.pcn_config import PCNConfig

# App. D.2: one weight learning rate per dataset, used by both weight optimisers.
PAPER_WEIGHT_LRS: dict[str, float] = {"fashion_mnist": 0.01, "moons": 0.03}
# A dataset the paper did not use takes the rate of the nearest one it did.
NEAREST_PAPER_DATASET: dict[str, str] = {
    "digits": "fashion_mnist",
    "mnist": "fashion_mnist",
    "circles": "moons",
}
PAPER_GAMMAS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # App. D.1
PAGE_GAMMAS = (0.01, 0.03, 0.1, 0.3, 1.0)  # the page's default: the part of App. D.1's grid ≥ 0.01
STABILITY_WIDTHS = (64, 256, 1024)  # the page's Fig. 7 default (paper: 32 … 4096)


def paper_weight_lr(dataset: str) -> tuple[float, str]:
    """App. D.2's weight learning rate for ``dataset`` and the paper's dataset it comes from
    (``dataset`` itself, or the nearest one the paper used)."""
    source = (
        dataset
        if dataset in PAPER_WEIGHT_LRS
        else NEAREST_PAPER_DATASET.get(dataset, "fashion_mnist")
    )
    return PAPER_WEIGHT_LRS[source], source


def energy_propagation_config(dataset: str = "digits", **changes) -> PCNConfig:
    """Fig. 6b–d (App. D.1; Fig. 14 on two moons): HardTanh, γ from 0.01 to 1, SGD (momentum
    0.9) against AdamW, each with App. D.2's weight learning rate; width 64 and 3 seeds so the
    page's default run stays quick (paper: width 1024, 3 seeds on FashionMNIST, 10 on moons)."""
    lr, _ = paper_weight_lr(dataset)
    settings = dict(
        dataset=dataset,
        algorithm="pc-ce",
        widths=(64,),
        depth=2,
        activation="hard_tanh",
        state_lrs=PAGE_GAMMAS,
        optimizers=("adamw", "sgd"),
        inference_steps=8,
        state_optimizer="sgd",
        state_momentum=0.0,
        weight_lr=lr,
        weight_lrs={"adamw": lr, "sgd": lr},
        weight_momentum=0.9,
        weight_decay=1e-4,
        batch_size=64,
        epochs=8,
        seeds=3,
    )
    return PCNConfig(**{**settings, **changes})


def training_stability_config(dataset: str = "digits", **changes) -> PCNConfig:
    """Fig. 7 (App. D.2; Fig. 16 on two moons): the setting of :func:`energy_propagation_config`
    with LeakyReLU and the widths of :data:`STABILITY_WIDTHS`."""
    return energy_propagation_config(
        dataset, **{"activation": "leaky_relu", "widths": STABILITY_WIDTHS, **changes}
    )
