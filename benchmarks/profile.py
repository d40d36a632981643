"""What each step of ``toh analyze``, ``toh report`` and ``toh demo`` costs, in-process.

Usage (from the project folder)::

    .venv/bin/python benchmarks/profile.py analyze benchmarks/.cache/1000-1 [--repeat 3]
    .venv/bin/python benchmarks/profile.py report benchmarks/.cache/100000-1 --repeat 2
    .venv/bin/python benchmarks/profile.py demo
    .venv/bin/python benchmarks/profile.py analyze EXPORT --cprofile analyze.prof  # one run, cProfile

Each repetition is a fresh process that imports what the command uses (timed per library),
then runs the command in-process with its steps wrapped by timers: validate, derive, each
analysis, the bootstrap (inside "radiographic"), writing results; for a report also the
document, the figures (drawing and saving), HTML, PDF, Markdown and tables.  A step's CPU
seconds include its child processes (the bootstrap's pool).  The table shows, per step, the
smallest wall and CPU seconds over the repetitions: on a machine shared with other work the
minimum is the least disturbed measurement (CPU seconds are less disturbed than wall seconds).
Indented steps run inside the step above them.  The bootstrap's worker is forked before
validation and imports scipy.stats and lifelines meanwhile; it then runs every analysis but
the radiographic (they are not timed here: a timer cannot be pickled to it, and the work would
fall back to this process) and draws.  "radiographic fits" is this process's NPMLE and Weibull
fits, "draws: own, wait" its share of the draws and then the wait for the worker (its CPU
includes the worker's, counted when it is reaped), "worker's analyses: wait" the rest.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# this script's folder comes first on sys.path, where this file would shadow the standard
# library's ``profile`` module, which ``cProfile`` imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

#: (label, modules) imported first and timed, per command
IMPORTS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "analyze": [
        ("import click, toh cli", ("toh.reports.cli",)),
        ("import pandas", ("pandas",)),
        ("import pandera, schemas", ("toh.cohort.validate",)),
        # scipy.stats and lifelines are imported by the analyses that use them (after the
        # bootstrap's workers have started): their cost is in those steps
        ("import toh analyses", ("toh.analyses.pipeline", "toh.analyses.run", "toh.reports.results",
                                 "toh.cohort.derive")),
    ],
}
IMPORTS["report"] = IMPORTS["analyze"] + [
    # matplotlib and fpdf are imported where the command imports them (the figure worker imports
    # matplotlib while the document is built; the PDF step imports fpdf): their cost is in those steps
    ("import toh reports", ("toh.reports.cli.build", "toh.reports.cli._build_steps", "toh.reports.figures",
                            "toh.reports.document", "toh.reports.render.html", "toh.reports.render.pdf",
                            "toh.reports.render.markdown")),
]
IMPORTS["demo"] = IMPORTS["report"]

#: (label, module, attribute, depth): functions wrapped by a timer; depth indents the table
STEPS: list[tuple[str, str, str, int]] = [
    ("fingerprint", "toh.reports.cli.build", "input_fingerprint", 0),
    ("validate", "toh.cohort.validate", "validate_export", 0),
    ("derive", "toh.cohort.derive", "derive_cohort", 0),
    ("analyse", "toh.analyses.run", "analyse_cohort", 0),
    ("radiographic", "toh.analyses.run", "analyse_radiographic", 1),
    ("bootstrap", "toh.analyses.radiographic", "bootstrap_cdf", 2),
    ("radiographic fits", "toh.analyses.run", "start_radiographic", 1),
    ("bootstrap set-up", "toh.analyses.radiographic", "start_bootstrap_cdf", 2),
    ("draws: own, wait", "toh.analyses._bootstrap", "PendingDraws.result", 1),
    ("claims", "toh.analyses.run", "check_claims", 1),
    ("worker's analyses: wait", "toh.analyses.radiographic", "PendingRadiographic.beside", 1),
    ("start figures (fork)", "toh.reports.cli._build_steps", "start_figures_step", 0),
    ("document", "toh.reports.cli._build_steps", "document_step", 0),
    ("disclosure audit", "toh.reports.document", "protect", 1),
    ("figures (and the pdf)", "toh.reports.cli._build_steps", "figures_step", 0),
    ("save png+svg", "toh.reports.figures", "save_figure", 1),
    ("pdf (waits included)", "toh.reports.render.pdf", "render_pdf", 1),
    ("html", "toh.reports.render.html", "render_html", 0),
    ("markdown", "toh.reports.render.markdown", "render_markdown", 0),
    ("report tables", "toh.reports.cli._build_steps", "_write_tables", 0),
    ("write results", "toh.reports.results", "write_results", 0),
]


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timer(label: str, func: Callable[..., Any], totals: dict[str, list[float]]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), _cpu()
        try:
            return func(*args, **kwargs)
        finally:
            entry = totals.setdefault(label, [0.0, 0.0, 0])
            entry[0] += time.perf_counter() - wall
            entry[1] += _cpu() - cpu
            entry[2] += 1

    return timed


def child(command: str, export: str | None, out: str, cprofile: str | None) -> dict[str, list[float]]:
    """Run one command in this process; return label -> [wall s, CPU s, calls]."""
    totals: dict[str, list[float]] = {}
    start, start_cpu = time.perf_counter(), _cpu()
    for label, modules in IMPORTS[command]:
        wall, cpu = time.perf_counter(), _cpu()
        for name in modules:
            importlib.import_module(name)
        totals[label] = [time.perf_counter() - wall, _cpu() - cpu, 1]
    for label, module, attribute, _ in STEPS:
        owner: Any = sys.modules.get(module)
        *path, name = attribute.split(".")  # "Class.method" wraps a method
        for part in path:
            owner = getattr(owner, part, None)
        if owner is not None and hasattr(owner, name):
            setattr(owner, name, _timer(label, getattr(owner, name), totals))
    from toh.reports.cli import cli

    args = {"analyze": ["analyze", str(export), "--out", out, "--failures", out + "-failures.csv"],
            "report": ["report", str(export), "--out", out, "--failures", out + "-failures.csv"],
            "demo": ["demo", "--out", out]}[command]
    run = lambda: cli.main(args, prog_name="toh", standalone_mode=False)  # noqa: E731
    wall, cpu = time.perf_counter(), _cpu()
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            if cprofile:
                import cProfile

                cProfile.runctx("run()", globals(), {"run": run}, cprofile)
            else:
                run()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
        finally:
            sys.stdout = stdout
    totals["command (after imports)"] = [time.perf_counter() - wall, _cpu() - cpu, 1]
    totals["total in process"] = [time.perf_counter() - start, _cpu() - start_cpu, 1]
    return totals


def show(runs: list[dict[str, list[float]]]) -> None:
    """Print min and median wall and CPU seconds per step over the runs."""
    depth = {label: d for label, _, _, d in STEPS}
    found_labels = dict.fromkeys(k for r in runs for k in r)
    order = [label for label, _ in IMPORTS["report"]] + [label for label, _, _, _ in STEPS]
    labels = [k for k in order if k in found_labels] + [k for k in found_labels if k not in order]
    print(f"\n{'step':<28} {'calls':>5} {'wall min':>9} {'wall med':>9} {'cpu min':>9} {'cpu med':>9}")
    for label in labels:
        found = [r[label] for r in runs if label in r]
        walls, cpus = [f[0] for f in found], [f[1] for f in found]
        name = "  " * depth.get(label, 0) + label
        print(f"{name:<28} {int(found[0][2]):>5} {min(walls):9.3f} {statistics.median(walls):9.3f} "
              f"{min(cpus):9.3f} {statistics.median(cpus):9.3f}")


def main(argv: list[str] | None = None) -> int:
    """Parse the options; run the repetitions (or, with --child, one run)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=sorted(IMPORTS))
    parser.add_argument("export", nargs="?", help="registry folder (not for demo)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes to run (default 3)")
    parser.add_argument("--cprofile", help="write one run's cProfile statistics to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command != "demo" and not args.export:
        parser.error(f"{args.command} needs EXPORT")
    if args.child:
        print(json.dumps(child(args.command, args.export, args.out, args.cprofile)))
        return 0
    print(f"{args.command} {args.export or ''}: load {os.getloadavg()[0]:.2f} at the start", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="toh-profile-") as scratch:
        for i in range(1 if args.cprofile else args.repeat):
            cmd = [sys.executable, str(Path(__file__).resolve()), args.command, *([args.export] if args.export else []),
                   "--child", "--out", str(Path(scratch) / f"out-{i}")]
            cmd += ["--cprofile", args.cprofile] if args.cprofile else []
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                return done.returncode
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  run {i + 1}: {runs[-1]['total in process'][0]:.2f} s wall, "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    show(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
