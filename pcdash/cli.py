"""Command line: ``python -m pcdash sweep`` (CRE), ``python -m pcdash pcn`` (PCN),
``python -m pcdash plan`` (a paper-scale grid's cost) and ``python -m pcdash reproduce`` (a paper
figure, its data and its claims checked: :mod:`pcdash.paper.command`).

Each writes one CSV row per member per evaluation. Bad arguments, an ``--out`` that cannot be
written and a job beyond the limits (:mod:`pcdash.limits`; ``--limits`` raises them) exit with
status 2 and one line on stderr, before anything trains; a failure to write the results exits
with 1. Ctrl-C (or SIGTERM) at any moment exits with 130 (143) and leaves no file behind, whole
or partial, and no temporary file.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from pcdash.backends import add_backend_arguments, backend_from_args
from pcdash.cre.config import CREConfig
from pcdash.errors import PcdashError

_EXIT_ON = {signal.SIGINT: 130, signal.SIGTERM: 143}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"pcdash: error: {message}\n")


def _progress_printer(quiet: bool):
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


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (default), mnist, fashion_mnist, cifar10, moons, circles")
    p.add_argument("--seeds", type=int, default=3, help="N: seeds 0 … N−1 (default 3)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=None, help="default: per dataset (CRE: 16 on digits, the authors' 512 otherwise)")
    p.add_argument("--out", required=True, help="CSV file to write (its folder must exist)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_backend_arguments(p)
    p.add_argument("--limits", default="", metavar="NAME=VALUE,...",
                   help="raise the caps and budget of one job, e.g. memory_gb=32,hours=12,members=4096 "
                        "(names: see pcdash.limits.Limits; default from $PCDASH_LIMITS)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pcdash", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("sweep", help="train a CRE λ sweep headless")
    _add_common(s)
    # digits: pcdash's defaults (see pcdash.cre.config.dataset_defaults); other sets: the paper's
    s.set_defaults(seeds=CREConfig.seeds, epochs=None)
    s.add_argument("--arch", default="fc-medium",
                   help="fc-small, fc-medium (default), fc-large, cnn and vit (the authors'), cnn-z and vit-z (dense dim(z))")
    s.add_argument("--init", default=CREConfig.init, help="active-latent (default) or authors (PyTorch's default; Xavier for the ViT)")
    s.add_argument("--latent-dims", default="3", help="comma-separated, e.g. 2,3,8")
    s.add_argument("--lambdas", default="0,0.2,0.4,0.6,0.8,1", help="comma-separated values in [0, 1]")
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--latent-activation", default="relu", help="relu (default) or linear")
    s.add_argument("--baselines", default="", help="comma-separated: pca, rp")
    s.add_argument("--val-fraction", type=float, default=0.1)

    from pcdash.plan_command import add_plan_arguments

    add_plan_arguments(sub.add_parser("plan", help="a paper's grid, its cost per member and wall time on N workers"))

    from pcdash.paper.command import add_reproduce_arguments

    add_reproduce_arguments(sub.add_parser("reproduce", help="reproduce a paper figure and check its claims"))

    try:
        from pcdash.pcn.cli import add_pcn_arguments
    except ImportError:  # the PCN half is optional for the CRE CLI
        add_pcn_arguments = None
    if add_pcn_arguments is not None:
        p = sub.add_parser("pcn", help="train predictive coding networks headless")
        _add_common(p)
        add_pcn_arguments(p)
    return parser


def _run_sweep(args) -> int:
    from pcdash.compile_cache import enable_compile_cache
    from pcdash.cre.config import dataset_defaults
    from pcdash.cre.sweep import run_cre_sweep
    from pcdash.parsing import parse_float_list, parse_int_list
    config = CREConfig(
        dataset=args.dataset,
        arch=args.arch,
        latent_dims=parse_int_list(args.latent_dims, "--latent-dims"),
        lambdas=parse_float_list(args.lambdas, "--lambdas"),
        seeds=args.seeds,
        epochs=dataset_defaults(args.dataset)["epochs"] if args.epochs is None else args.epochs,
        batch_size=dataset_defaults(args.dataset)["batch_size"] if args.batch_size is None else args.batch_size,
        lr=args.lr,
        latent_activation=args.latent_activation,
        init=args.init,
        val_fraction=args.val_fraction,
        baselines=tuple(b.strip() for b in args.baselines.split(",") if b.strip()),
    ).validate()
    check_out(args.out)
    enable_compile_cache()
    out = run_cre_sweep(config, on_progress=_progress_printer(args.quiet), backend=backend_from_args(args))
    return write_results(out.frame, args, n_members=config.n_members, seconds=out.seconds)


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
        raise PcdashError(f"--out: cannot write in {echo(str(parent))} ({err.strerror or err})") from None
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
        raise WriteError(f"could not write {args.out}: {err.strerror or err}; nothing was written") from None
    n_div = int(frame.groupby("member")["diverged"].any().sum()) if len(frame) else 0
    print(f"wrote {len(frame)} rows for {n_members} members to {args.out} in {seconds:.1f}s"
          + (f" ({n_div} diverged)" if n_div else ""))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "plan":
            from pcdash.plan_command import run_plan_command

            return run_plan_command(args)
        from pcdash import limits

        with limits.using(limits.parse_limits(args.limits, base=limits.current()), hint="pass --limits {}"):
            if args.command == "sweep":
                return _run_sweep(args)
            if args.command == "reproduce":
                from pcdash.paper.command import run_reproduce_command

                return run_reproduce_command(args)
            from pcdash.pcn.cli import run_pcn_command

            return run_pcn_command(args)
    except WriteError as err:
        print(f"pcdash: error: {err}", file=sys.stderr)
        return 1
    except PcdashError as err:
        print(f"pcdash: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # only when main() runs inside another program (no exit_on_signals)
        print("pcdash: interrupted; nothing written", file=sys.stderr)
        return 130


def exit_on_signals() -> None:
    """Make Ctrl-C and SIGTERM end the program at once, whatever it is doing: importing,
    compiling (inside XLA, where Python's KeyboardInterrupt would wait or land in a callback)
    or writing. The signals are blocked in every thread and taken by one watcher thread,
    which removes the temporary file of a write in progress and leaves with ``os._exit``: no
    unwinding through JAX's threads at interpreter shutdown (where a segfault can happen).
    Call it first thing, before any thread starts."""
    signal.pthread_sigmask(signal.SIG_BLOCK, set(_EXIT_ON))

    def watch() -> None:
        signum = signal.sigwait(set(_EXIT_ON))
        from pcdash.files import abort_writes

        abort_writes()
        try:
            os.write(2, b"\npcdash: interrupted; nothing written\n")
        finally:
            os._exit(_EXIT_ON[signum])

    threading.Thread(target=watch, daemon=True, name="pcdash-signals").start()


if __name__ == "__main__":
    exit_on_signals()
    sys.exit(main())
