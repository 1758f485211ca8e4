"""Predictive coding networks as pure functions (PCX paper notation), and their sweeps.

Import from here; the files are named after what they compute: ``network`` (μ_l), ``energies``
(F_l), ``inference`` (h updates), ``gradients`` (θ updates, PC and BP), ``optimizers``,
``algorithms`` (the engine's Algorithm), ``config``, ``sweep``, ``saving`` and ``cli``.
"""

from pcdash.pcn.algorithms import ALGORITHMS, HYPERPARAMETERS, PCNAlgorithm, PCNCarry
from pcdash.pcn.config import PCNConfig
from pcdash.pcn.energies import (
    OUTPUT_ENERGIES,
    cross_entropy,
    energy,
    layer_energies,
    output_energy,
    squared_error,
)
from pcdash.pcn.gradients import bp_loss_and_gradients, nudged_target, pc_weight_gradients
from pcdash.pcn.inference import forward_init, inference
from pcdash.pcn.network import (
    ACTIVATIONS,
    MLP,
    forward_pass,
    init_mlp,
    layer_prediction,
    predictions,
)
from pcdash.pcn.optimizers import (
    STATE_OPTIMIZERS,
    WEIGHT_OPTIMIZERS,
    select_optimizer,
    state_optimizer,
    weight_optimizer,
)
from pcdash.pcn.saving import load_pcn_output, save_pcn_output
from pcdash.pcn.sweep import PCNSweepOutput, WidthRun, energy_trace_for_batch, run_pcn_sweep

__all__ = [
    "ACTIVATIONS",
    "ALGORITHMS",
    "HYPERPARAMETERS",
    "MLP",
    "OUTPUT_ENERGIES",
    "PCNAlgorithm",
    "PCNCarry",
    "PCNConfig",
    "PCNSweepOutput",
    "STATE_OPTIMIZERS",
    "WEIGHT_OPTIMIZERS",
    "WidthRun",
    "bp_loss_and_gradients",
    "cross_entropy",
    "energy",
    "energy_trace_for_batch",
    "forward_init",
    "forward_pass",
    "inference",
    "init_mlp",
    "layer_energies",
    "layer_prediction",
    "load_pcn_output",
    "nudged_target",
    "output_energy",
    "pc_weight_gradients",
    "predictions",
    "run_pcn_sweep",
    "save_pcn_output",
    "select_optimizer",
    "squared_error",
    "state_optimizer",
    "weight_optimizer",
]
