"""Benchmark a multi-site study: simulate K sites, bundle each, pool the bundles.

Usage (from the project folder)::

    .venv/bin/python benchmarks/pool.py [--sites 20] [--patients 5000] [--seed 1] [--bootstrap 1000]

Stages, each its own process, timed and measured as ``benchmarks/run.py`` does (wall seconds,
peak resident MiB of the child's largest process):

``simulate_sites``
    ``toh.cohort.simulate_sites.simulate_sites(K, N, seed)`` with equal site sizes
    (``SiteHeterogeneity(size_log_sd=0)``; the sites still differ in sex mix, treatment mix and
    follow-up), written as CSV: K x N patients in all (cached under ``benchmarks/.cache/``).
``bundle``
    ``toh bundle`` of each site, one after the other: one row with the slowest site's seconds
    and peak (patients: N), and ``bundle_all``, the K sites' seconds added up (patients: K x N).
``pool``, ``pool_noboot``
    ``toh pool`` of the K bundles with ``--bootstrap`` draws (default 1,000, as ``toh analyze``)
    and with none (what the bootstrap of the Turnbull intervals costs).  ``--reuse-bundles``
    times these two alone on the bundles of the last run.

Prints a table and merges its rows, in the columns of ``benchmarks/results.csv``, into
``benchmarks/results_pool.csv`` (``--results``; rows of the same stage, format and size replaced).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import CACHE, SCRATCH, Row, machine, measure, rel, save  # noqa: E402

SIMULATE = ("import sys; from toh.cohort.simulate_sites import SiteHeterogeneity, simulate_sites, write_sites; "
            "write_sites(simulate_sites(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), "
            "heterogeneity=SiteHeterogeneity(size_log_sd=0)), sys.argv[4])")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the stages and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=20, help="number of sites (default %(default)s)")
    parser.add_argument("--patients", type=int, default=5000, help="patients per site (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulation")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap draws of toh pool (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a stage is killed")
    parser.add_argument("--results", type=Path, default=BENCH / "results_pool.csv")
    parser.add_argument("--reuse-bundles", action="store_true",
                        help="pool the bundles of the last run again (no bundle rows): to time toh pool alone")
    args = parser.parse_args(argv)
    toh = str(Path(sys.executable).with_name("toh"))
    where, stamp = machine(), lambda: dt.datetime.now().isoformat(timespec="seconds")
    total = args.sites * args.patients
    rows: list[Row] = []

    def record(stage: str, fmt: str, patients: int, seconds: float, peak: float, command: str, status: str) -> None:
        rows.append(Row(stage, fmt, patients, seconds, peak, where, stamp(), command, status, os.getloadavg()[0]))
        print(f"{stage:<15} {fmt:<5} {patients:>9,} {seconds:9.2f} s {peak:8.0f} MiB  {status}", flush=True)

    export = CACHE / f"sites-{args.sites}x{args.patients}-{args.seed}"
    if not (export / ".complete").exists():
        shutil.rmtree(export, ignore_errors=True)
        cmd = [sys.executable, "-c", SIMULATE, str(args.sites), str(args.patients), str(args.seed), str(export)]
        seconds, peak, status = measure(cmd, SCRATCH / "pool" / "simulate.log", args.timeout)
        record("simulate_sites", "csv", total, seconds, peak, f"simulate_sites({args.sites}, {args.patients}, "
               f"{args.seed}) -> {rel(export)}", status)
        if status != "ok":
            return 1
        (export / ".complete").write_text("")
    scratch = SCRATCH / "pool"
    sites = sorted((p for p in export.iterdir() if p.is_dir()), key=lambda p: int(p.name.split("-")[-1]))
    if args.reuse_bundles and all((scratch / f"{s.name}.tohb").exists() for s in sites):
        return _pool(toh, [scratch / f"{s.name}.tohb" for s in sites], scratch, args, total, record, rows)
    bundles, times, peaks, statuses = [], [], [], []
    for site in sites:
        out = scratch / f"{site.name}.tohb"
        cmd = [toh, "bundle", str(site), "--site", site.name, "--out", str(out), "--failures",
               str(scratch / f"{site.name}-failures.csv")]
        seconds, peak, status = measure(cmd, scratch / f"bundle-{site.name}.log", args.timeout)
        bundles.append(out)
        times.append(seconds)
        peaks.append(peak)
        statuses.append(status)
    worst = max(range(len(times)), key=times.__getitem__)
    failed = [s for s in statuses if s != "ok"]
    record("bundle", "csv", args.patients, times[worst], max(peaks), f"toh bundle EXPORT/site-k --site site-k --out "
           f"{rel(scratch)}/site-k.tohb (slowest of {len(times)})", failed[0] if failed else "ok")
    record("bundle_all", "csv", total, sum(times), max(peaks), f"toh bundle of the {len(times)} sites, one after the "
           "other (seconds added up)", failed[0] if failed else "ok")
    if failed:
        return 1
    return _pool(toh, bundles, scratch, args, total, record, rows)


def _pool(toh: str, bundles: list[Path], scratch: Path, args: argparse.Namespace, total: int, record: Any,
          rows: list[Row]) -> int:
    """Time ``toh pool`` of ``bundles`` with the bootstrap and without, and save the rows."""
    for stage, draws in (("pool", args.bootstrap), ("pool_noboot", 0)):
        out = scratch / stage
        cmd = [toh, "pool", *map(str, bundles), "--out", str(out), "--bootstrap", str(draws), "--seed", str(args.seed)]
        seconds, peak, status = measure(cmd, scratch / f"{stage}.log", args.timeout)
        record(stage, "tohb", total, seconds, peak, f"toh pool {rel(scratch)}/site-*.tohb ({len(bundles)} bundles) "
               f"--out {rel(out)} --bootstrap {draws}", status)
    save(rows, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
