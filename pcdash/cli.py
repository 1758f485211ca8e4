"""Command line: ``python -m pcdash sweep`` (CRE) and ``python -m pcdash pcn`` (PCN).

Each writes one CSV row per member per evaluation. Bad arguments exit with status 2 and one
line on stderr; a run never leaves a half-written file behind.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from pcdash.cre.config import CREConfig
from pcdash.errors import PcdashError


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
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


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
    from pcdash.cre.config import dataset_defaults
    from pcdash.cre.sweep import run_cre_sweep
    from pcdash.parsing import parse_float_list, parse_int_list
    config = CREConfig(
        dataset=args.dataset,
        arch=args.arch,
        latent_dims=parse_int_list(args.latent_dims, "--latent-dims"),
        lambdas=parse_float_list(args.lambdas, "--lambdas"),
        seeds=args.seeds,
        epochs=args.epochs or dataset_defaults(args.dataset)["epochs"],
        batch_size=args.batch_size or dataset_defaults(args.dataset)["batch_size"],
        lr=args.lr,
        latent_activation=args.latent_activation,
        init=args.init,
        val_fraction=args.val_fraction,
        baselines=tuple(b.strip() for b in args.baselines.split(",") if b.strip()),
    ).validate()
    out = run_cre_sweep(config, on_progress=_progress_printer(args.quiet))
    return write_results(out.frame, args, n_members=config.n_members, seconds=out.seconds)


def write_results(frame, args, *, n_members: int, seconds: float) -> int:
    """Write a sweep's tidy frame to ``args.out`` atomically and say what was written."""
    from pcdash.results import write_csv_atomic

    if not args.quiet:
        print(file=sys.stderr)
    write_csv_atomic(frame, args.out)
    n_div = int(frame.groupby("member")["diverged"].any().sum()) if len(frame) else 0
    print(f"wrote {len(frame)} rows for {n_members} members to {args.out} in {seconds:.1f}s"
          + (f" ({n_div} diverged)" if n_div else ""))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sweep":
            return _run_sweep(args)
        from pcdash.pcn.cli import run_pcn_command

        return run_pcn_command(args)
    except PcdashError as err:
        print(f"pcdash: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pcdash: interrupted; nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
