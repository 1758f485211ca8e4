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
from collections.abc import Sequence

from pcdash.errors import PcdashError
from pcdash.experiments import cli as commands

_EXIT_ON = {signal.SIGINT: 130, signal.SIGTERM: 143}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"pcdash: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pcdash", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("sweep", help="train a CRE λ sweep headless")
    commands.add_common_arguments(s)
    commands.add_cre_arguments(s)
    plan = sub.add_parser(
        "plan", help="a paper's grid, its cost per member and wall time on N workers"
    )
    commands.add_plan_arguments(plan)
    p = sub.add_parser("pcn", help="train predictive coding networks headless")
    commands.add_common_arguments(p)
    commands.add_pcn_arguments(p)
    from pcdash.paper.command import add_reproduce_arguments

    add_reproduce_arguments(
        sub.add_parser("reproduce", help="reproduce a paper figure and check its claims")
    )
    return parser


def _reproduce(args: argparse.Namespace) -> int:
    from pcdash.paper.command import run_reproduce_command

    return run_reproduce_command(args)


COMMANDS = {
    "sweep": commands.run_cre_command,
    "pcn": commands.run_pcn_command,
    "reproduce": _reproduce,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "plan":
            return commands.run_plan_command(args)
        from pcdash import limits

        with limits.using(
            limits.parse_limits(args.limits, base=limits.current()), hint="pass --limits {}"
        ):
            return COMMANDS[args.command](args)
    except commands.WriteError as err:
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
            os._exit(_EXIT_ON[signal.Signals(signum)])

    threading.Thread(target=watch, daemon=True, name="pcdash-signals").start()


if __name__ == "__main__":
    exit_on_signals()
    sys.exit(main())
