"""``python -m pcdash reproduce``: train a paper figure's experiment and write its data, its
figure and whether each of its claims holds.

    python -m pcdash reproduce --list
    python -m pcdash reproduce pcx-fig6c --quick --out results/     # one figure into results/
    python -m pcdash reproduce all --quick --out report/            # every figure + report.html
    python -m pcdash reproduce all --quick --assets --out /tmp/r    # also regenerate assets/

``--out`` is a folder (made if missing; its parent must exist). A bad figure name, a dataset a
figure does not run on and data that is not here each exit with status 2 and one line before
anything trains; Ctrl-C exits with 130 and leaves no half-written file (the files of figures
already finished stay).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pcdash.errors import PcdashError


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    from pcdash.backends import add_backend_arguments

    parser.add_argument(
        "figures", nargs="*", metavar="FIGURE", help="figure names (see --list), or 'all'"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the reproducible figures and their claims"
    )
    parser.add_argument(
        "--dataset",
        default=None,
        help="the dataset to run on (default: each figure's offline one: digits, moons or iris)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the dashboard pages' quick default (what assets/ ships) instead of the paper's "
        "setting",
    )
    parser.add_argument(
        "--out", default=None, help="folder to write into (made if missing; its parent must exist)"
    )
    parser.add_argument(
        "--formats",
        default="html,png,svg",
        help="figure files to write: html, png, svg (png/svg need kaleido and Chromium)",
    )
    parser.add_argument(
        "--assets",
        action="store_true",
        help="also store the results, slimmed and stamped, as the shipped assets (assets/runs)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_backend_arguments(parser)
    parser.add_argument(
        "--limits",
        default="",
        metavar="NAME=VALUE,...",
        help="raise the caps and budget of one job (see python -m pcdash sweep --help)",
    )


def check_out_dir(out: str | None) -> Path:
    """``out`` as a folder files can be written in (made if missing), else a PcdashError."""
    from pcdash.parsing import echo

    if out is None or not str(out).strip():
        raise PcdashError("--out is missing; give the folder to write into")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise PcdashError(f"--out {echo(out)} exists and is not a folder")
    if not path.exists():
        if not path.parent.is_dir():
            raise PcdashError(f"--out: the folder {echo(str(path.parent))} does not exist")
        try:
            path.mkdir()
        except OSError as err:
            raise PcdashError(f"--out: cannot make {echo(out)} ({err.strerror or err})") from None
    try:
        probe = path / f".reproduce.{os.getpid()}.probe.tmp"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as err:
        raise PcdashError(f"--out: cannot write in {echo(out)} ({err.strerror or err})") from None
    return path


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in ("html", "png", "svg")]
    if bad:
        raise PcdashError(f"--formats: unknown format {bad[0]!r}; choose from html, png, svg")
    return formats


def list_figures() -> str:
    from pcdash.paper import FIGURES

    lines = []
    for f in FIGURES.values():
        lines.append(
            f"{f.name:22} {f.paper_title.split(',')[0].split(' (')[0]}, {f.number}: {f.title}"
        )
        lines.append(f"{'':22} runs {f.experiment.name} on {', '.join(f.experiment.datasets)}")
        for c in f.claims:
            lines.append(f"{'':22} claim: {c.text}")
    return "\n".join(lines)


def _progress(quiet: bool, label: str):
    last = {"t": 0.0}

    def show(p) -> None:
        if quiet:
            return
        now = time.perf_counter()
        if now - last["t"] < 1.0 and p.fraction < 1.0:
            return
        last["t"] = now
        eta = f", ETA {p.eta_s:.0f}s" if getattr(p, "eta_s", None) is not None else ""
        print(
            f"\r{label}: {p.fraction:6.1%} {p.message}{eta}   ", end="", file=sys.stderr, flush=True
        )

    return show


def matmul_seconds() -> float:
    """Seconds of one 2048 × 2048 float32 matmul here (the median of five, compiled first): the
    reference that makes a run time comparable across machines and loads."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    a = jnp.ones((2048, 2048), jnp.float32)
    f = jax.jit(lambda m: m @ m)
    f(a).block_until_ready()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def run_reproduce_command(args: argparse.Namespace) -> int:
    if args.list:
        print(list_figures())
        return 0
    from pcdash.backends import backend_from_args
    from pcdash.compile_cache import enable_compile_cache
    from pcdash.paper import reproduce as rp
    from pcdash.paper.report import report_page

    figures = rp.resolve(args.figures)
    formats = _formats(args.formats)
    groups = rp.plan(
        figures, args.dataset, args.quick
    )  # every config and dataset checked before training
    out = check_out_dir(args.out)
    single = len(figures) == 1 and "all" not in args.figures
    images = [f for f in formats if f in rp.IMAGE_FORMATS]
    why_no_images = rp.images_available() if images else None
    if why_no_images:
        print(f"pcdash: note: no PNG/SVG: {why_no_images}", file=sys.stderr)
        images = []
    backend = backend_from_args(args)
    enable_compile_cache()
    stamp = None
    if args.assets:
        from pcdash.paper.assets import provenance

        stamp = provenance()
    reference = matmul_seconds()
    start = time.perf_counter()
    reps, jobs = [], []
    for exp, dataset, config, figs in groups:
        done = rp.reproduce_group(
            exp,
            dataset,
            config,
            figs,
            args.quick,
            backend=backend,
            on_progress=_progress(args.quiet, exp.name),
        )
        if not args.quiet:
            print(file=sys.stderr)
        if stamp is not None:
            from pcdash.paper.assets import save_asset

            save_asset(exp, config, done[0].result, stamp)
        for rep in done:
            folder = out if single else out / rep.figure.name
            folder.mkdir(exist_ok=True)
            rp.write_figure_files(rep, folder, html=single and "html" in formats)
            jobs.extend(rp.image_jobs(rep, folder) if images else [])
            verdicts = ", ".join(v.label for _, v in rep.verdicts)
            print(f"{rep.figure.name}: {verdicts} ({done[0].seconds:.1f} s)")
        reps.extend(done)
    total = time.perf_counter() - start
    if jobs:
        try:
            rp.write_images(jobs, images)
        except OSError as err:
            print(f"pcdash: note: {err}; the HTML and CSV files are written", file=sys.stderr)
    ratio = f"; {total / reference:.0f}× a 2048² float32 matmul ({reference * 1e3:.0f} ms here)"
    summary = {
        "figures": [r.claims_json() for r in reps],
        "seconds": round(total, 1),
        "matmul_2048_seconds": round(reference, 5),
        "ratio_to_matmul": round(total / reference, 1),
    }
    if not single:
        rp.write_json(out / "claims.json", summary)
        if "html" in formats:
            rp.write_text(
                out / "report.html",
                report_page(
                    reps,
                    lambda r: rp.plots(r.figure, r.result),
                    total_seconds=total,
                    reference=ratio,
                ),
            )
    if stamp is not None:
        from pcdash.paper.assets import INDEX, index_entry, merged_index
        from pcdash.runs import assets_dir

        root = assets_dir() or Path(__file__).resolve().parents[2] / "assets" / "runs"
        rp.write_json(
            root.parent / INDEX,
            merged_index(
                root.parent / INDEX,
                index_entry(reps),
                {
                    **stamp,
                    "seconds": round(total, 1),
                    "ratio_to_matmul": round(total / reference, 1),
                },
            ),
        )
        if (
            "all" in args.figures and args.dataset is None
        ):  # a full regeneration: drop runs no figure uses now
            from pcdash.paper.assets import prune

            prune(root, {r.key for r in reps})
    print(f"reproduced {len(reps)} figure(s) in {total:.1f} s{ratio}; wrote {out}")
    return 0
