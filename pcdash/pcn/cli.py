"""``python -m pcdash pcn``: the PCN half of the command line (see :mod:`pcdash.cli`).

Writes one CSV row per member per evaluation with ``dataset, algorithm, optimizer, state_lr,
width, seed, epoch, split, accuracy, diverged`` and ``energy_1 … energy_L``, the mean energy
of each layer at the end of inference on the last training batch (layer 1 = first hidden).
"""

from __future__ import annotations

import argparse

from pcdash.backends import backend_from_args
from pcdash.errors import ConfigError
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.pcn.algorithms import ALGORITHMS
from pcdash.pcn.config import PCNConfig
from pcdash.pcn.network import ACTIVATION_NAMES, ACTIVATIONS
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
    parser.add_argument("--activation", default=d.activation,
                        help=", ".join(f"{a} ({ACTIVATION_NAMES.get(a, a)})" for a in ACTIVATIONS))  # fmt: skip
    parser.add_argument("--optimizer", default=",".join(d.optimizers),
                        help=f"weight optimisers, comma-separated: {', '.join(WEIGHT_OPTIMIZERS)}")  # fmt: skip
    parser.add_argument("--state-optimizer", default=d.state_optimizer,
                        help=", ".join(STATE_OPTIMIZERS))  # fmt: skip
    parser.add_argument("--weight-lr", type=float, default=d.weight_lr)
    parser.add_argument("--weight-lrs", default="",
                        help="per weight optimiser, overriding --weight-lr: e.g. adamw=0.01,sgd=0.03")  # fmt: skip
    parser.add_argument("--state-momentum", type=float, default=d.state_momentum,
                        help="momentum of the SGD state optimiser (PCX §5.1 uses none: 0)")  # fmt: skip
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay, help="decoupled weight decay (AdamW and SGD)")
    parser.add_argument("--precision", nargs="?", const="layer", default=d.precision,
                        help="trainable precision (log-variances): none, layer (the default of a bare --precision) "
                             "or neuron")  # fmt: skip
    parser.add_argument("--inference-tol", type=float, default=d.inference_tol,
                        help="converged inference: stop when every layer's energy changes by less than this "
                             "(relative); 0: always run --steps")  # fmt: skip
    parser.add_argument("--l2-decay", type=float, default=d.l2_decay,
                        help="coupled weight decay (L2 through the optimiser, a Gaussian prior)")  # fmt: skip
    parser.add_argument("--cn-schedule", default=d.cn_schedule, help="centred nudging: random or alternate")
    parser.add_argument("--update-every", type=int, default=d.update_every,
                        help="relaxed convergence: update the weights every k inference steps (0: after T)")  # fmt: skip
    parser.add_argument("--beta0", type=float, default=d.beta0, help="nudging (pn, nn, cn): initial β")
    parser.add_argument("--beta-rate", type=float, default=d.beta_rate, help="nudging: β increment per epoch")
    parser.add_argument("--state-init", default=d.state_init,
                        help="how the states start inference: forward (default), zero or gaussian (PCX Fig. 6a)")


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
        weight_lrs=parse_named_floats(args.weight_lrs, "--weight-lrs"),
        state_momentum=args.state_momentum,
        batch_size=batch,
        epochs=args.epochs,
        seeds=args.seeds,
        val_fraction=args.val_fraction,
        weight_decay=args.weight_decay,
        precision=args.precision,
        update_every=args.update_every,
        inference_tol=args.inference_tol,
        l2_decay=args.l2_decay,
        cn_schedule=args.cn_schedule,
        beta0=args.beta0,
        beta_rate=args.beta_rate,
        state_init=args.state_init,
    ).validate()


def parse_named_floats(text: str, what: str) -> dict[str, float]:
    """``"adamw=0.01,sgd=0.03"`` → ``{"adamw": 0.01, "sgd": 0.03}`` (ConfigError if malformed)."""
    out = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"{what}: expected name=number pairs separated by commas, got {item!r}")
    return out


def run_pcn_command(args: argparse.Namespace) -> int:
    """Train the sweep the arguments describe and write its CSV atomically."""
    from pcdash.cli import _progress_printer, check_out, write_results
    from pcdash.compile_cache import enable_compile_cache
    from pcdash.pcn.sweep import run_pcn_sweep

    config = config_from_args(args)
    check_out(args.out)
    enable_compile_cache()
    out = run_pcn_sweep(config, on_progress=_progress_printer(args.quiet), backend=backend_from_args(args))
    return write_results(out.frame, args, n_members=len(out.members), seconds=out.seconds)
