"""Predictive coding networks as pure functions (PCX paper notation), in the style of jpc.

Import from here; the files are named after what they compute: ``network`` (``μ_l`` in its two
layer forms), ``energies`` (the one energy over all layers: prior, precision, SE or CE output),
``inference`` (the one relaxation, fixed T or to convergence), ``optimizers`` (the state
optimiser chain, Langevin noise included, and the weight optimisers), ``gradients`` (θ
updates, PC and BP), ``rules`` (learning rules composed of registered parts), ``algorithms``
(the discriminative PCN as the engine's Algorithm), ``generative`` (decoder-only PCNs, MCPC,
associative recall), ``ood`` (energy-based OOD scores), ``landscape`` and ``stability``
(analyses). Experiments built on these live in :mod:`pcdash.experiments`.
"""

from pcdash.pcn.algorithms import ALGORITHMS, PCNAlgorithm, PCNCarry, PCNHyper, pcn_hyper
from pcdash.pcn.energies import (
    OUTPUT_ENERGIES,
    cross_entropy,
    energy,
    example_energies,
    layer_energies,
    output_energy,
    prior_energy,
    squared_error,
    total_energy,
)
from pcdash.pcn.gradients import bp_loss_and_gradients, nudged_target, pc_weight_gradients
from pcdash.pcn.inference import (
    clamped_energy,
    converged_inference,
    forward_init,
    inference,
    relax,
    relax_to_convergence,
)
from pcdash.pcn.network import (
    ACTIVATIONS,
    FORMS,
    MLP,
    forward_pass,
    init_mlp,
    layer_prediction,
    predictions,
)
from pcdash.pcn.optimizers import (
    STATE_OPTIMIZERS,
    WEIGHT_OPTIMIZERS,
    add_langevin_noise,
    select_optimizer,
    state_optimizer,
    weight_optimizer,
)
from pcdash.pcn.rules import GRADIENTS, RULES, SCHEDULES, TARGETS, Rule

__all__ = [
    "ACTIVATIONS",
    "ALGORITHMS",
    "FORMS",
    "GRADIENTS",
    "MLP",
    "OUTPUT_ENERGIES",
    "RULES",
    "SCHEDULES",
    "STATE_OPTIMIZERS",
    "TARGETS",
    "WEIGHT_OPTIMIZERS",
    "PCNAlgorithm",
    "PCNCarry",
    "PCNHyper",
    "Rule",
    "add_langevin_noise",
    "bp_loss_and_gradients",
    "clamped_energy",
    "converged_inference",
    "cross_entropy",
    "energy",
    "example_energies",
    "forward_init",
    "forward_pass",
    "inference",
    "init_mlp",
    "layer_energies",
    "layer_prediction",
    "nudged_target",
    "output_energy",
    "pc_weight_gradients",
    "pcn_hyper",
    "predictions",
    "prior_energy",
    "relax",
    "relax_to_convergence",
    "select_optimizer",
    "squared_error",
    "state_optimizer",
    "total_energy",
    "weight_optimizer",
]
