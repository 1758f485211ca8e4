"""``python -m pcdash pcn``: the PCN half of the command line (see :mod:`pcdash.cli`).

Writes one CSV row per member per evaluation with ``dataset, algorithm, optimizer, state_lr,
width, seed, epoch, split, accuracy, diverged`` and ``energy_1 … energy_L``, the mean energy
of each layer at the end of inference on the last training batch (layer 1 = first hidden).
"""

from __future__ import annotations

import argparse

from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.pcn.algorithms import ALGORITHMS
from pcdash.pcn.config import PCNConfig
from pcdash.pcn.network import ACTIVATIONS
from pcdash.pcn.optimizers import STATE_OPTIMIZERS, WEIGHT_OPTIMIZERS

SMALL_DATASETS = ("digits", "moons", "circles")


def add_pcn_arguments(parser: argparse.ArgumentParser) -> None:
    """The PCN options, next to the common ``--dataset --seeds --epochs --batch-size --out``."""
    d = PCNConfig()
    parser.add_argument("--algorithm", default=d.algorithm, help=", ".join(ALGORITHMS))
    parser.add_argument("--gammas", default=",".join(map(str, d.state_lrs)),
                        help="state learning rates γ, comma-separated")  # fmt: skip
    parser.add_argument("--steps", type=int, default=d.inference_steps, help="inference steps T")
    parser.add_argument("--widths", default=",".join(map(str, d.widths)), help="comma-separated")
    parser.add_argument("--depth", type=int, default=d.depth, help="hidden layers")
    parser.add_argument("--activation", default=d.activation, help=", ".join(ACTIVATIONS))
    parser.add_argument("--optimizer", default=",".join(d.optimizers),
                        help=f"weight optimisers, comma-separated: {', '.join(WEIGHT_OPTIMIZERS)}")  # fmt: skip
    parser.add_argument("--state-optimizer", default=d.state_optimizer,
                        help=", ".join(STATE_OPTIMIZERS))  # fmt: skip
    parser.add_argument("--weight-lr", type=float, default=d.weight_lr)
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay, help="decoupled weight decay (AdamW and SGD)")
    parser.add_argument("--precision", action="store_true", help="trainable per-layer precision (log-variances)")
    parser.add_argument("--update-every", type=int, default=d.update_every,
                        help="relaxed convergence: update the weights every k inference steps (0: after T)")  # fmt: skip
    parser.add_argument("--beta0", type=float, default=d.beta0, help="nudging (pn, nn, cn): initial β")
    parser.add_argument("--beta-rate", type=float, default=d.beta_rate, help="nudging: β increment per epoch")


def config_from_args(args: argparse.Namespace) -> PCNConfig:
    """A validated :class:`PCNConfig` from parsed arguments (ConfigError on bad values)."""
    default_batch = 32 if args.dataset in SMALL_DATASETS else 128
    batch = default_batch if args.batch_size is None else args.batch_size
    return PCNConfig(
        dataset=args.dataset,
        algorithm=args.algorithm,
        widths=parse_int_list(args.widths, "--widths"),
        depth=args.depth,
        activation=args.activation,
        state_lrs=parse_float_list(args.gammas, "--gammas"),
        optimizers=tuple(o.strip() for o in args.optimizer.split(",") if o.strip()),
        inference_steps=args.steps,
        state_optimizer=args.state_optimizer,
        weight_lr=args.weight_lr,
        batch_size=batch,
        epochs=args.epochs,
        seeds=args.seeds,
        val_fraction=args.val_fraction,
        weight_decay=args.weight_decay,
        precision=bool(args.precision),
        update_every=args.update_every,
        beta0=args.beta0,
        beta_rate=args.beta_rate,
    ).validate()


def run_pcn_command(args: argparse.Namespace) -> int:
    """Train the sweep the arguments describe and write its CSV atomically."""
    from pcdash.cli import _progress_printer, check_out, write_results
    from pcdash.compile_cache import enable_compile_cache
    from pcdash.pcn.sweep import run_pcn_sweep

    config = config_from_args(args)
    check_out(args.out)
    enable_compile_cache()
    out = run_pcn_sweep(config, on_progress=_progress_printer(args.quiet))
    return write_results(out.frame, args, n_members=len(out.members), seconds=out.seconds)
