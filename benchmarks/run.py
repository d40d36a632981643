"""Benchmark every stage of toh-cohort on synthetic registries of growing size.

Usage (from the project folder)::

    .venv/bin/python benchmarks/run.py --sizes 1000,10000,100000 --seed 1 [--parquet]

Registries come from ``toh simulate`` and are cached under ``benchmarks/.cache/<N>-<seed>/``.
Each stage runs as its own process; its wall time (``time.perf_counter``) and peak resident
memory in MiB (``ru_maxrss`` of that one child, from ``os.wait4``: the largest single process
of the child's tree, not a sum over concurrent workers) are recorded.  Stages:

``read_csv`` / ``read_parquet``
    bare ``pandas.read_csv`` (``read_parquet``) of the four tables: the floor.
``validate``, ``derive``, ``analyze``, ``report``
    the ``toh`` commands (``report`` builds HTML, PDF and Markdown from the export).
``derive_csv``, ``anchor_r``
    ``toh derive --format csv`` and the R anchor (``benchmarks/anchor.R``) on its index.csv.
``help``, ``version``, ``demo``
    ``toh --help`` / ``toh --version`` (median of 5 runs) and ``toh demo``, once per run.

``analyze``, ``derive_csv`` and ``report`` run only up to ``--analyze-max`` patients, the R
anchor only up to ``--anchor-max`` (default 10,000: at 100,000 it takes about 24 minutes).  The
script prints a table, log-log slopes of seconds against patients and the ratios derive/read
and R/toh, and merges its rows into ``benchmarks/results.csv`` (rows of the same stage, format
and size are replaced; ``--no-save`` only prints).  A failing stage is recorded with its exit
code; the run goes on.

Then it checks the targets of issue 15 on the merged table (so a partial run is judged with the
stored rows of the other stages) and writes them to ``benchmarks/targets.csv``: analyze/anchor_r
at 1,000 and 10,000 patients (< 1), analyze/read_csv at 100,000 (<= 5), report - analyze at
100,000 (<= 5 s), demo (< 5 s) and help (< 0.3 s), each with the load of its rows.

A quick look at one stage, without touching results.csv::

    .venv/bin/python benchmarks/run.py --sizes 1000 --stages analyze,report --no-save
    .venv/bin/python benchmarks/run.py --summarise          # table, slopes, ratios, targets
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
SCRATCH = BENCH / ".scratch"
TABLES = ("patients", "episodes", "imaging", "events")
SIZE_STAGES = ("read", "validate", "derive", "derive_csv", "analyze", "anchor_r", "report")
ONCE_STAGES = ("help", "version", "demo")
#: stages whose slope target is read from 1,000 patients up (the others from 10,000)
ANALYSIS_STAGES = ("derive_csv", "analyze", "anchor_r", "report")
#: (name, numerator, denominator, how, limit, unit): the targets of issue 15, read from rows
#: (stage, format, patients); "ratio" divides, "difference" subtracts, "value" is the numerator
TARGETS = (
    ("analyze/anchor_r at 1k", ("analyze", "csv", 1000), ("anchor_r", "csv", 1000), "ratio", 1.0, "x"),
    ("analyze/anchor_r at 10k", ("analyze", "csv", 10000), ("anchor_r", "csv", 10000), "ratio", 1.0, "x"),
    ("analyze/read_csv at 100k", ("analyze", "csv", 100000), ("read_csv", "csv", 100000), "ratio", 5.0, "x"),
    ("report - analyze at 100k", ("report", "csv", 100000), ("analyze", "csv", 100000), "difference", 5.0, "s"),
    ("demo", ("demo", "-", 400), None, "value", 5.0, "s"),
    ("help", ("help", "-", None), None, "value", 0.3, "s"),
)
#: the floor: a bare pandas read of the four tables, folder in sys.argv[1]
READ_CODE = ('import sys, pandas as pd; [pd.read_{fmt}(f"{{sys.argv[1]}}/{{t}}.{fmt}") '
             'for t in "{t}".split()]')


@dataclass
class Row:
    """One measurement, as written to results.csv."""

    stage: str
    input_format: str
    patients: int | None
    seconds: float | None
    peak_mb: float | None
    machine: str
    date: str
    command: str
    status: str  # "ok", "exit N", "timeout", "not available"
    load1: float  # 1-minute load average when the stage started
    runs: int = 1  # ``seconds`` is the median of this many runs
    seconds_min: float | None = None  # the fastest and slowest of them
    seconds_max: float | None = None


def machine() -> str:
    """Describe the machine: CPU model, cores, RAM, OS and Python version."""
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = found.group(1).strip() + ", " if found else ""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}{os.cpu_count()} cores, {ram:.1f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def rel(path: Path | str) -> str:
    """``path`` relative to the project folder when it lies inside it (for readable commands)."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


def measure(cmd: list[str], log: Path, timeout: float) -> tuple[float, float, str]:
    """Run ``cmd`` (cwd = project folder) as one child and measure it.

    Parameters
    ----------
    cmd
        The command and its arguments.
    log
        File that receives the child's stdout and stderr.
    timeout
        Seconds after which the child's process group is killed.

    Returns
    -------
    tuple of (float, float, str)
        Wall seconds, peak resident MiB of the child's largest process, and the status:
        ``"ok"``, ``"exit N"`` (negative N: killed by signal N) or ``"timeout"``.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            os.killpg(child.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, stop)
        timer.start()
        _, wait_status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(wait_status)  # the Popen must not wait again
    code = child.returncode
    status = "timeout" if timed_out.is_set() else ("ok" if code == 0 else f"exit {code}")
    return seconds, usage.ru_maxrss / 1024, status  # ru_maxrss is in KiB on Linux


def simulate(toh: str, patients: int, seed: int, timeout: float) -> Path:
    """The cached CSV export of ``patients`` patients (made by ``toh simulate`` once)."""
    folder = CACHE / f"{patients}-{seed}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    print(f"simulating {patients:,} patients (seed {seed}) into {rel(folder)}", flush=True)
    cmd = [toh, "simulate", "--patients", str(patients), "--seed", str(seed), str(folder)]
    seconds, _, status = measure(cmd, SCRATCH / "logs" / f"simulate-{patients}.log", timeout)
    if status != "ok":
        raise SystemExit(f"toh simulate failed ({status}); see {rel(SCRATCH / 'logs')}")
    (folder / ".complete").write_text(f"{seconds:.1f} s\n")
    return folder


def to_parquet(folder: Path) -> Path:
    """Convert a cached CSV export to Parquet once (pyarrow's type inference; all-null -> text)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = folder / "parquet"
    if (out / ".complete").exists():
        return out
    out.mkdir(exist_ok=True)
    for table in TABLES:
        data = pacsv.read_csv(folder / f"{table}.csv")
        schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                            for f in data.schema])
        pq.write_table(data.cast(schema), out / f"{table}.parquet")
    (out / ".complete").touch()
    return out


def has_report(toh: str) -> bool:
    """Whether ``toh --help`` lists a ``report`` command."""
    text = subprocess.run([toh, "--help"], capture_output=True, text=True).stdout
    return re.search(r"^\s+report\s", text, flags=re.MULTILINE) is not None


class Bench:
    """Runs the stages and collects their rows."""

    def __init__(self, toh: str, timeout: float, repeat: int = 1) -> None:
        self.toh = toh
        self.timeout = timeout
        self.repeat = repeat  # runs of every stage that does not say otherwise
        self.machine = machine()
        self.rows: list[Row] = []

    def run(self, stage: str, fmt: str, patients: int | None, cmd: list[str],
            repeat: int | None = None, clean: Path | None = None) -> Row:
        """Measure ``cmd`` (median seconds, fastest and slowest, and largest peak of ``repeat``
        runs; default the bench's ``repeat``) and record it."""
        load = os.getloadavg()[0]
        repeat = repeat or self.repeat
        results = []
        for _ in range(repeat):
            if clean is not None:
                shutil.rmtree(clean, ignore_errors=True)
            log = SCRATCH / "logs" / f"{stage}-{fmt}-{patients or 0}.log"
            results.append(measure(cmd, log, self.timeout))
        status = next((s for _, _, s in results if s != "ok"), "ok")
        row = Row(stage, fmt, patients, statistics.median(r[0] for r in results),
                  max(r[1] for r in results), self.machine,
                  dt.datetime.now().isoformat(timespec="seconds"), shlex.join(rel(c) for c in cmd),
                  status, load, repeat, min(r[0] for r in results), max(r[0] for r in results))
        self.rows.append(row)
        spread = f" ({row.seconds_min:.2f}-{row.seconds_max:.2f}, {repeat} runs)" if repeat > 1 else ""
        print(f"  {stage:<12} {fmt:<8} {patients or '':>9} {row.seconds:9.2f} s{spread} "
              f"{row.peak_mb:9.1f} MB  {status}  (load {load:.2f})", flush=True)
        return row

    def unavailable(self, stage: str, fmt: str, patients: int | None, cmd: str) -> None:
        """Record a stage that cannot run (e.g. a command ``toh`` does not have yet)."""
        self.rows.append(Row(stage, fmt, patients, None, None, self.machine,
                             dt.datetime.now().isoformat(timespec="seconds"), cmd,
                             "not available", os.getloadavg()[0]))
        print(f"  {stage:<12} {fmt:<8} {patients or '':>9}  not available", flush=True)

    def size(self, export: Path, fmt: str, patients: int, stages: set[str],
             analyze_max: int, report: bool, anchor_max: int = 10_000) -> None:
        """Run the per-size stages on one export.

        Parameters
        ----------
        export
            The registry folder (CSV or Parquet files).
        fmt
            ``"csv"`` or ``"parquet"``: labels the rows and picks the floor's reader.
        patients
            Size of the registry.
        stages
            Stages to run (names of ``SIZE_STAGES``).
        analyze_max
            Largest size for ``derive_csv``, ``analyze`` and ``report`` (CSV only).
        report
            Whether ``toh`` has a ``report`` command.
        anchor_max
            Largest size for ``anchor_r``.
        """
        out = SCRATCH / f"{fmt}-{patients}"
        failures = ["--failures", str(out / "failures.csv")]
        out.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        if "read" in stages:
            code = READ_CODE.format(t=" ".join(TABLES), fmt=fmt)
            self.run(f"read_{fmt}", fmt, patients, [python, "-c", code, str(export)])
        if "validate" in stages:
            self.run("validate", fmt, patients, [self.toh, "validate", str(export), *failures])
        if "derive" in stages:
            self.run("derive", fmt, patients, [self.toh, "derive", str(export), "--out",
                                               str(out / "derived"), *failures],
                     clean=out / "derived")
        if fmt != "csv" or patients > analyze_max:
            return
        index_csv = out / "derived-csv" / "index.csv"
        if "derive_csv" in stages or ("anchor_r" in stages and patients <= anchor_max):
            self.run("derive_csv", fmt, patients,
                     [self.toh, "derive", str(export), "--out", str(index_csv.parent),
                      "--format", "csv", *failures], clean=index_csv.parent)
        if "analyze" in stages:
            self.run("analyze", fmt, patients, [self.toh, "analyze", str(export), "--out",
                                                str(out / "analyze"), *failures],
                     clean=out / "analyze")
        if "anchor_r" in stages and patients <= anchor_max:
            rscript = shutil.which("Rscript")
            cmd = [rscript or "Rscript", str(BENCH / "anchor.R"), str(index_csv)]
            if rscript and index_csv.exists():
                self.run("anchor_r", fmt, patients, cmd)
            else:
                self.unavailable("anchor_r", fmt, patients, shlex.join(rel(c) for c in cmd))
        if "report" in stages:
            cmd = [self.toh, "report", str(export), "--out", str(out / "report"), *failures]
            if report:
                self.run("report", fmt, patients, cmd, clean=out / "report")
            else:
                self.unavailable("report", fmt, patients, shlex.join(rel(c) for c in cmd))


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log10(seconds) on log10(patients); None with < 2 sizes."""
    xs = [math.log10(n) for n, _ in points]
    ys = [math.log10(s) for _, s in points]
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def summarise(rows: list[Row]) -> None:
    """Print the table, the slopes and the ratios of this run's rows."""
    print(f"\n{'stage':<12} {'format':<8} {'patients':>9} {'seconds':>9} {'peak MB':>9}  status")
    for r in rows:
        sec = f"{r.seconds:9.2f}" if r.seconds is not None else f"{'':>9}"
        peak = f"{r.peak_mb:9.1f}" if r.peak_mb is not None else f"{'':>9}"
        print(f"{r.stage:<12} {r.input_format:<8} {r.patients or '':>9} {sec} {peak}  {r.status}")
    ok = {(r.stage, r.input_format, r.patients): r.seconds for r in rows
          if r.status == "ok" and r.patients}
    print("\nlog-log slope of seconds against patients: over all sizes; over the target window "
          "(analyses from 1,000, other stages from 10,000); between the two largest sizes")
    for stage, fmt in dict.fromkeys((s, f) for s, f, _ in ok):
        points = sorted((n, sec) for (s, f, n), sec in ok.items() if (s, f) == (stage, fmt))
        low = 1_000 if stage in ANALYSIS_STAGES else 10_000
        window = [(n, sec) for n, sec in points if n >= low]
        shown = [f"{v:.2f}" if v is not None else "-"
                 for v in (slope(points), slope(window), slope(points[-2:]))]
        sizes = ",".join(f"{n:g}" for n, _ in points)
        print(f"  {stage:<12} {fmt:<8} all {shown[0]:>5}  window {shown[1]:>5}  last {shown[2]:>5}"
              f"   sizes {sizes}")
    print("\nratios")
    for (stage, fmt, n), sec in ok.items():
        if stage == "derive" and (f"read_{fmt}", fmt, n) in ok:
            print(f"  derive/read_{fmt:<8} {n:>9}  {sec / ok[(f'read_{fmt}', fmt, n)]:6.2f}")
        if stage == "anchor_r" and ("analyze", fmt, n) in ok:
            print(f"  R/toh analyze        {n:>9}  {sec / ok[('analyze', fmt, n)]:6.2f}")


def _spread(row: Row) -> str:
    """" (median of N: fastest-slowest)" for a row of several runs, else nothing."""
    if row.runs <= 1 or row.seconds_min is None or row.seconds_max is None:
        return ""
    return f" (median of {row.runs}: {row.seconds_min:.3f}-{row.seconds_max:.3f})"


def targets(rows: list[Row]) -> list[dict[str, str]]:
    """The targets of issue 15 on ``rows`` (those whose rows are missing or failed are left out)."""
    ok = {(r.stage, r.input_format, r.patients): r for r in rows if r.status == "ok" and r.seconds is not None}
    out = []
    for name, top, bottom, how, limit, unit in TARGETS:
        if top not in ok or (bottom is not None and bottom not in ok):
            continue
        used = [ok[top]] + ([ok[bottom]] if bottom is not None else [])
        a, b = ok[top].seconds, ok[bottom].seconds if bottom is not None else None
        value = a / b if how == "ratio" else (a - b if how == "difference" else a)
        met = value < limit if name.startswith(("analyze/anchor", "demo", "help")) else value <= limit
        out.append({"target": name, "value": f"{value:.3f}", "unit": unit,
                    "limit": f"{'<' if name.startswith(('analyze/anchor', 'demo', 'help')) else '<='} {limit:g}",
                    "met": "yes" if met else "no",
                    "rows": "; ".join(f"{r.stage} {r.seconds:.3f} s{_spread(r)} at {r.date}" for r in used),
                    "load1": " / ".join(f"{r.load1:.2f}" for r in used)})
    return out


def show_targets(found: list[dict[str, str]]) -> None:
    """Print the targets: value, limit, met, and the load when each row was measured."""
    print("\ntargets (issue 15)")
    for t in found:
        print(f"  {t['target']:<26} {float(t['value']):8.2f} {t['unit']:<2} {t['limit']:<7} "
              f"{'met' if t['met'] == 'yes' else 'NOT met':<8} load {t['load1']}")


def save_targets(found: list[dict[str, str]], path: Path) -> None:
    """Write the targets as CSV (replaced on every run)."""
    names = ["target", "value", "unit", "limit", "met", "rows", "load1"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(found)
    print(f"wrote {rel(path)}")


def load(path: Path) -> list[Row]:
    """The rows of a results.csv written by :func:`save`."""
    with path.open(newline="") as handle:
        found = list(csv.DictReader(handle))
    number = lambda v, kind: kind(v) if v not in ("", None) else None  # noqa: E731
    return [Row(r["stage"], r["input_format"], number(r["patients"], int),
                number(r["seconds"], float), number(r["peak_mb"], float), r["machine"], r["date"],
                r["command"], r["status"], float(r.get("load1") or "nan"), number(r.get("runs"), int) or 1,
                number(r.get("seconds_min"), float), number(r.get("seconds_max"), float)) for r in found]


def save(rows: list[Row], path: Path) -> None:
    """Merge ``rows`` into the CSV at ``path``: same stage, format and size are replaced."""
    names = [f.name for f in fields(Row)]
    key = ("stage", "input_format", "patients")
    old: list[dict[str, str]] = []
    if path.exists():
        with path.open(newline="") as handle:
            old = list(csv.DictReader(handle))
    new = [{k: "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
            for k, v in asdict(r).items()} for r in rows]
    fresh = {tuple(r[k] for k in key) for r in new}
    kept = [r for r in old if tuple(r.get(k, "") for k in key) not in fresh]
    merged = sorted(kept + new, key=lambda r: (r["input_format"], r["stage"],
                                              int(r["patients"] or 0)))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(merged)
    print(f"wrote {rel(path)} ({len(new)} rows from this run, {len(merged)} in all)")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="comma-separated numbers of patients (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of toh simulate")
    parser.add_argument("--analyze-max", type=int, default=100_000,
                        help="largest size for analyze, derive_csv and report (default %(default)s)")
    parser.add_argument("--anchor-max", type=int, default=10_000,
                        help="largest size for the R anchor (default %(default)s; 100,000 takes ~24 min)")
    parser.add_argument("--no-save", action="store_true",
                        help="print only: leave results.csv and targets.csv as they are")
    parser.add_argument("--parquet", action="store_true",
                        help="also read, validate and derive the exports converted to Parquet")
    parser.add_argument("--stages", default=",".join(SIZE_STAGES + ONCE_STAGES),
                        help="comma-separated stages to run (default: all)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each stage, whose median is recorded with the fastest and slowest "
                             "(default %(default)s; --help and --version always 5)")
    parser.add_argument("--results", type=Path, default=BENCH / "results.csv")
    parser.add_argument("--summarise", action="store_true",
                        help="run nothing: print the table, slopes and ratios of --results")
    args = parser.parse_args(argv)
    if args.summarise:
        stored = load(args.results)
        summarise(stored)
        show_targets(targets(stored))
        return 0
    sizes = sorted({int(float(s)) for s in args.sizes.split(",") if s.strip()})
    stages = {s.strip() for s in args.stages.split(",") if s.strip()}
    unknown = stages - set(SIZE_STAGES + ONCE_STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {sorted(unknown)}")
    toh = shutil.which("toh", path=str(Path(sys.executable).parent)) or shutil.which("toh")
    if toh is None:
        parser.error("no toh command next to this Python or on PATH")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    bench = Bench(toh, args.timeout, args.repeat)
    print(f"machine: {bench.machine}\ntoh: {rel(toh)}; load {os.getloadavg()}", flush=True)
    for warm in ([sys.executable, "-c", "import pandas, pyarrow"], [toh, "--version"]):
        subprocess.run(warm, cwd=ROOT, capture_output=True)  # untimed: warm the file cache
    if "help" in stages:
        bench.run("help", "-", None, [toh, "--help"], repeat=5)
    if "version" in stages:
        bench.run("version", "-", None, [toh, "--version"], repeat=5)
    if "demo" in stages:
        demo = SCRATCH / "demo"
        bench.run("demo", "-", 400, [toh, "demo", "--out", str(demo)], clean=demo)
    report = has_report(toh)
    for patients in sizes:
        export = simulate(toh, patients, args.seed, args.timeout)
        bench.size(export, "csv", patients, stages, args.analyze_max, report, args.anchor_max)
        if args.parquet:
            bench.size(to_parquet(export), "parquet", patients, stages, args.analyze_max, report,
                       args.anchor_max)
    if args.no_save:
        summarise(bench.rows)
        show_targets(targets(bench.rows))
        return 0
    save(bench.rows, args.results)  # first, so that a closed pipe cannot lose the measurements
    merged = load(args.results)
    found = targets(merged)
    save_targets(found, args.results.with_name("targets.csv"))
    summarise(bench.rows)
    show_targets(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
