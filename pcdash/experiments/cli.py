"""The command line's commands (see :mod:`pcdash.cli` for the program around them):
``sweep`` (a CRE λ sweep), ``pcn`` (a PCN sweep) and ``plan`` (a paper-scale grid's cost).

``sweep`` and ``pcn`` write one CSV row per member per evaluation. ``pcn`` writes ``dataset,
algorithm, optimizer, state_lr, width, seed, epoch, split, accuracy, diverged`` and
``energy_1 … energy_L``, the mean energy of each layer at the end of inference on the last
training batch (layer 1 = first hidden). Heavy modules are imported when a command runs, so
``--help`` and bad arguments answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pcdash.backends import add_backend_arguments, backend_from_args
from pcdash.errors import ConfigError, PcdashError
from pcdash.parsing import parse_float_list, parse_int_list

SMALL_DATASETS = ("digits", "moons", "circles")


def progress_printer(quiet: bool):
    last = {"t": 0.0}

    def show(p):
        if quiet:
            return
        now = time.perf_counter()
        if now - last["t"] < 1.0 and p.fraction < 1.0:
            return
        last["t"] = now
        eta = f", ETA {p.eta_s:.0f}s" if p.eta_s is not None else ""
        print(f"\r{p.fraction:6.1%} {p.message}{eta}   ", end="", file=sys.stderr, flush=True)

    return show


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        default="digits",
        help="digits (default), mnist, fashion_mnist, cifar10, moons, circles",
    )
    p.add_argument("--seeds", type=int, default=3, help="N: seeds 0 … N−1 (default 3)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="default: per dataset (CRE: 16 on digits, the authors' 512 otherwise)",
    )
    p.add_argument("--out", required=True, help="CSV file to write (its folder must exist)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_backend_arguments(p)
    p.add_argument(
        "--limits",
        default="",
        metavar="NAME=VALUE,...",
        help="raise the caps and budget of one job, e.g. memory_gb=32,hours=12,members=4096 "
        "(names: see pcdash.limits.Limits; default from $PCDASH_LIMITS)",
    )


def add_cre_arguments(s: argparse.ArgumentParser) -> None:
    """The CRE sweep's options (``sweep``), next to the common ones."""
    from pcdash.experiments.cre_config import CREConfig

    # digits: pcdash's defaults (experiments.cre_config.dataset_defaults); others: the paper's
    s.set_defaults(seeds=CREConfig.seeds, epochs=None)
    s.add_argument(
        "--arch",
        default="fc-medium",
        help="fc-small, fc-medium (default), fc-large, cnn and vit (the authors'), "
        "cnn-z and vit-z (dense dim(z))",
    )
    s.add_argument(
        "--init",
        default=CREConfig.init,
        help="active-latent (default) or authors (PyTorch's default; Xavier for the ViT)",
    )
    s.add_argument("--latent-dims", default="3", help="comma-separated, e.g. 2,3,8")
    s.add_argument(
        "--lambdas", default="0,0.2,0.4,0.6,0.8,1", help="comma-separated values in [0, 1]"
    )
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--latent-activation", default="relu", help="relu (default) or linear")
    s.add_argument("--baselines", default="", help="comma-separated: pca, rp")
    s.add_argument("--val-fraction", type=float, default=0.1)


def run_cre_command(args: argparse.Namespace) -> int:
    """Train the CRE sweep the arguments describe and write its CSV atomically."""
    from pcdash.compile_cache import enable_compile_cache
    from pcdash.experiments.cre_config import CREConfig, dataset_defaults
    from pcdash.experiments.cre_sweep import run_cre_sweep

    defaults = dataset_defaults(args.dataset)
    config = CREConfig(
        dataset=args.dataset,
        arch=args.arch,
        latent_dims=parse_int_list(args.latent_dims, "--latent-dims"),
        lambdas=parse_float_list(args.lambdas, "--lambdas"),
        seeds=args.seeds,
        epochs=defaults["epochs"] if args.epochs is None else args.epochs,
        batch_size=defaults["batch_size"] if args.batch_size is None else args.batch_size,
        lr=args.lr,
        latent_activation=args.latent_activation,
        init=args.init,
        val_fraction=args.val_fraction,
        baselines=tuple(b.strip() for b in args.baselines.split(",") if b.strip()),
    ).validate()
    check_out(args.out)
    enable_compile_cache()
    out = run_cre_sweep(
        config, on_progress=progress_printer(args.quiet), backend=backend_from_args(args)
    )
    return write_results(out.frame, args, n_members=config.n_members, seconds=out.seconds)


def add_pcn_arguments(parser: argparse.ArgumentParser) -> None:
    """The PCN options, next to the common ``--dataset --seeds --epochs --batch-size --out``."""
    from pcdash.experiments.pcn_config import PCNConfig
    from pcdash.pcn.algorithms import ALGORITHMS
    from pcdash.pcn.network import ACTIVATION_NAMES, ACTIVATIONS
    from pcdash.pcn.optimizers import STATE_OPTIMIZERS, WEIGHT_OPTIMIZERS

    d = PCNConfig()
    parser.add_argument("--algorithm", default=d.algorithm, help=", ".join(ALGORITHMS))
    parser.add_argument(
        "--state-lrs",
        "--gammas",  # the old name, so scripts written for it still run
        dest="state_lrs",
        default=",".join(map(str, d.state_lrs)),
        help="state learning rates γ, comma-separated",
    )
    parser.add_argument("--steps", type=int, default=d.inference_steps, help="inference steps T")
    parser.add_argument("--widths", default=",".join(map(str, d.widths)), help="comma-separated")
    parser.add_argument("--depth", type=int, default=d.depth, help="hidden layers")
    parser.add_argument(
        "--activation",
        default=d.activation,
        help=", ".join(f"{a} ({ACTIVATION_NAMES.get(a, a)})" for a in ACTIVATIONS),
    )
    parser.add_argument(
        "--optimizer",
        default=",".join(d.optimizers),
        help=f"weight optimisers, comma-separated: {', '.join(WEIGHT_OPTIMIZERS)}",
    )
    parser.add_argument(
        "--state-optimizer", default=d.state_optimizer, help=", ".join(STATE_OPTIMIZERS)
    )
    parser.add_argument("--weight-lr", type=float, default=d.weight_lr)
    parser.add_argument(
        "--weight-lrs",
        default="",
        help="per weight optimiser, overriding --weight-lr: e.g. adamw=0.01,sgd=0.03",
    )
    parser.add_argument(
        "--state-momentum",
        type=float,
        default=d.state_momentum,
        help="momentum of the SGD state optimiser (PCX §5.1 uses none: 0)",
    )
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction)
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=d.weight_decay,
        help="decoupled weight decay (AdamW and SGD)",
    )
    parser.add_argument(
        "--precision",
        nargs="?",
        const="layer",
        default=d.precision,
        help="trainable precision (log-variances): none, layer (the default of a bare --precision) "
        "or neuron",
    )
    parser.add_argument(
        "--inference-tol",
        type=float,
        default=d.inference_tol,
        help="converged inference: stop when every layer's energy changes by less than this "
        "(relative); 0: always run --steps",
    )
    parser.add_argument(
        "--l2-decay",
        type=float,
        default=d.l2_decay,
        help="coupled weight decay (L2 through the optimiser, a Gaussian prior)",
    )
    parser.add_argument(
        "--cn-schedule", default=d.cn_schedule, help="centred nudging: random or alternate"
    )
    parser.add_argument(
        "--update-every",
        type=int,
        default=d.update_every,
        help="relaxed convergence: update the weights every k inference steps (0: after T)",
    )
    parser.add_argument(
        "--beta0", type=float, default=d.beta0, help="nudging (pn, nn, cn): initial β"
    )
    parser.add_argument(
        "--beta-rate", type=float, default=d.beta_rate, help="nudging: β increment per epoch"
    )
    parser.add_argument(
        "--state-init",
        default=d.state_init,
        help="how the states start inference: forward (default), zero or gaussian (PCX Fig. 6a)",
    )


def pcn_config_from_args(args: argparse.Namespace):
    """A validated :class:`~pcdash.experiments.pcn_config.PCNConfig` from parsed arguments
    (ConfigError on bad values)."""
    from pcdash.experiments.pcn_config import PCNConfig

    default_batch = 32 if args.dataset in SMALL_DATASETS else 128
    batch = default_batch if args.batch_size is None else args.batch_size
    return PCNConfig(
        dataset=args.dataset,
        algorithm=args.algorithm,
        widths=parse_int_list(args.widths, "--widths"),
        depth=args.depth,
        activation=args.activation,
        state_lrs=parse_float_list(args.state_lrs, "--state-lrs"),
        optimizers=tuple(o.strip() for o in args.optimizer.split(",") if o.strip()),
        inference_steps=args.steps,
        state_optimizer=args.state_optimizer,
        weight_lr=args.weight_lr,
        weight_lrs=tuple(parse_named_floats(args.weight_lrs, "--weight-lrs").items()),
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
            raise ConfigError(
                f"{what}: expected name=number pairs separated by commas, got {item!r}"
            )
    return out


def run_pcn_command(args: argparse.Namespace) -> int:
    """Train the sweep the arguments describe and write its CSV atomically."""
    from pcdash.compile_cache import enable_compile_cache
    from pcdash.experiments.pcn_sweep import run_pcn_sweep

    config = pcn_config_from_args(args)
    check_out(args.out)
    enable_compile_cache()
    out = run_pcn_sweep(
        config, on_progress=progress_printer(args.quiet), backend=backend_from_args(args)
    )
    return write_results(out.frame, args, n_members=len(out.members), seconds=out.seconds)


def check_out(out: str) -> Path:
    """``out`` as a path if a file can be written there, else a PcdashError saying why (checked
    before training, so a typo costs nothing)."""
    from pcdash.files import sweep_temp_files
    from pcdash.parsing import echo

    if not str(out).strip():
        raise PcdashError("--out is empty; give the CSV file to write")
    path = Path(out)
    if str(out).endswith(("/", os.sep)) or path.is_dir():
        raise PcdashError(f"--out {echo(out)} is a folder; give a file name inside it")
    if path.exists() and not path.is_file():
        raise PcdashError(f"--out {echo(out)} exists and is not a regular file")
    parent = path.parent
    if not parent.exists():
        raise PcdashError(f"--out: the folder {echo(str(parent))} does not exist")
    if not parent.is_dir():
        raise PcdashError(f"--out: {echo(str(parent))} is not a folder")
    try:  # os.access says yes to root on a read-only file system: try it
        probe = parent / f".{path.name}.{os.getpid()}.probe.tmp"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as err:
        raise PcdashError(
            f"--out: cannot write in {echo(str(parent))} ({err.strerror or err})"
        ) from None
    sweep_temp_files(parent, path.name)  # what a killed earlier run left
    return path


class WriteError(PcdashError):
    """The results could not be written (exit status 1)."""


def write_results(frame, args, *, n_members: int, seconds: float) -> int:
    """Write a sweep's tidy frame to ``args.out`` atomically and say what was written."""
    from pcdash.results import write_csv_atomic

    if not args.quiet:
        print(file=sys.stderr)
    try:
        write_csv_atomic(frame, args.out)
    except OSError as err:
        raise WriteError(
            f"could not write {args.out}: {err.strerror or err}; nothing was written"
        ) from None
    n_div = int(frame.groupby("member")["diverged"].any().sum()) if len(frame) else 0
    print(
        f"wrote {len(frame)} rows for {n_members} members to {args.out} in {seconds:.1f}s"
        + (f" ({n_div} diverged)" if n_div else "")
    )
    return 0


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """``plan``: a paper's grid, its cost per member and wall time on N workers."""
    from pcdash.experiments.plan import PAPERS, WORKERS

    parser.add_argument("--paper", required=True, help=", ".join(PAPERS))
    parser.add_argument(
        "--workers", default=",".join(map(str, WORKERS)), help="worker counts to estimate for"
    )
    parser.add_argument(
        "--no-measure", action="store_true", help="print the grid without measuring costs"
    )
    parser.add_argument(
        "--remeasure", action="store_true", help="measure again instead of using kept costs"
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="batches per cost measurement (default 3)"
    )


def run_plan_command(args: argparse.Namespace) -> int:
    """Print a paper's plan (see :mod:`pcdash.experiments.plan`)."""
    from pcdash.experiments.plan import make_plan, render

    workers = parse_int_list(args.workers, "--workers")
    if any(w < 1 for w in workers):
        raise ConfigError("--workers: give counts ≥ 1")
    if args.steps < 1:
        raise ConfigError("--steps must be ≥ 1")

    def say(kind: str) -> None:
        print(f"measuring {kind} …", file=sys.stderr, flush=True)

    plan = make_plan(
        args.paper,
        measure_costs=not args.no_measure,
        remeasure=args.remeasure,
        steps=args.steps,
        on_measure=say,
    )
    print(render(plan, workers))
    return 0
