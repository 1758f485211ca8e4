"""``python -m pcdash plan --paper cre|pcx``: a paper's grid, its shape groups and member
counts, a per-member cost measured here, and the estimated wall time on 1, 8 and 64 workers
(see :mod:`pcdash.plan`). Costs are measured once per machine and kept; ``--remeasure`` measures
again, ``--no-measure`` prints the grid alone."""

from __future__ import annotations

import argparse
import sys

from pcdash.parsing import parse_int_list
from pcdash.plan import PAPERS, WORKERS


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paper", required=True, help=", ".join(PAPERS))
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)), help="worker counts to estimate for")
    parser.add_argument("--no-measure", action="store_true", help="print the grid without measuring costs")
    parser.add_argument("--remeasure", action="store_true", help="measure again instead of using kept costs")
    parser.add_argument("--steps", type=int, default=3, help="batches per cost measurement (default 3)")


def run_plan_command(args: argparse.Namespace) -> int:
    from pcdash.errors import ConfigError
    from pcdash.plan import make_plan, render

    workers = parse_int_list(args.workers, "--workers")
    if any(w < 1 for w in workers):
        raise ConfigError("--workers: give counts ≥ 1")
    if args.steps < 1:
        raise ConfigError("--steps must be ≥ 1")

    def say(kind: str) -> None:
        print(f"measuring {kind} …", file=sys.stderr, flush=True)

    plan = make_plan(args.paper, measure_costs=not args.no_measure, remeasure=args.remeasure, steps=args.steps,
                     on_measure=say)
    print(render(plan, workers))
    return 0
