"""The ``toh`` command.

Exit codes: 0 success; 1 the export is invalid or unreadable (every failure is in the failure
CSV); 2 usage, configuration or output error (bad option, missing file, broken mapping, an
output folder that is not toh's, a full disk); 130 interrupted (Ctrl-C, SIGTERM, SIGHUP; the
last output is kept); 3 internal error (a bug: please report it; set ``TOH_DEBUG=1`` for the
traceback).

Start-up stays light: only click is imported here; pandas, pandera and everything else are
imported inside the command that needs them.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

__all__ = ["main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_DEFAULT_FAILURES = "toh-validation-failures.csv"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("toh-cohort")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Print the package's statistical warnings as one plain line; other libraries' warnings
    (deprecations and the like) only with TOH_DEBUG."""
    from toh.cohort.errors import StatisticalWarning

    if issubclass(category, StatisticalWarning):
        click.echo(f"toh: warning: {message}", err=True)
    elif os.environ.get("TOH_DEBUG"):
        click.echo(f"toh: {category.__name__}: {message}", err=True)


_SIGNALLED: list[str] = []


def _interrupt(number: int, frame: Any) -> None:
    """Unwind the command as Ctrl-C does; remember the signal, since a library may turn the
    interruption into an error of its own (numpy's LAPACK calls do)."""
    _SIGNALLED.append(signal.Signals(number).name)
    raise KeyboardInterrupt(signal.Signals(number).name)


def _interrupted() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C may not cut the message short
    why = f" by {_SIGNALLED[0]}" if _SIGNALLED else ""
    click.echo(f"\ntoh: interrupted{why}; nothing was replaced, and the last output is kept as it was", err=True)
    return EXIT_INTERRUPTED


def _guarded(func: Callable[..., int | None]) -> Callable[..., None]:
    """Turn the package's errors into a message and an exit code, never a traceback.

    SIGTERM and SIGHUP are handled like Ctrl-C: the command unwinds (workers terminated, the
    staging folder and lock removed, the last output kept) and exits 130.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        import warnings

        from toh.cohort.errors import TohError

        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, _interrupt)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                code = func(*args, **kwargs) or EXIT_OK
        except TohError as exc:
            click.echo(f"toh: error: {exc}", err=True)
            code = exc.exit_code
        except KeyboardInterrupt:
            code = _interrupted()
        except (click.exceptions.Exit, click.ClickException):
            raise
        except BrokenPipeError:  # the reader of stdout has gone (toh validate X | head -1): stop quietly
            _stdout_to_devnull()
            code = EXIT_OK
        except Exception as exc:  # a bug: say so plainly, keep the traceback for debugging
            if _SIGNALLED:  # the interruption surfaced as another library's error
                sys.exit(_interrupted())
            if os.environ.get("TOH_DEBUG"):
                raise
            click.echo(
                f"toh: internal error: {type(exc).__name__}: {exc}\n"
                "This is a bug in toh-cohort; rerun with TOH_DEBUG=1 for the traceback and report it.",
                err=True,
            )
            code = EXIT_INTERNAL
        sys.exit(code)

    return wrapper


def _stdout_to_devnull() -> None:
    """Point stdout at the null device, so that nothing left in its buffer fails again at exit
    (the recipe of Python's documentation for SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test runner's buffer)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


_export_arg = click.argument("export", type=click.Path(path_type=Path))
_mapping_opt = click.option(
    "--mapping", "-m", type=click.Path(path_type=Path), default=None,
    help="TOML mapping file for an export with its own column names, codes and date formats.",
)
_failures_opt = click.option(
    "--failures", type=click.Path(path_type=Path), default=Path(_DEFAULT_FAILURES), show_default=True,
    help="Where to write every failure (file, row, column, value, rule) as CSV.",
)
_claims_opt = click.option(
    "--claims", type=click.Path(path_type=Path), default=None,
    help="A claims file (TOML, the format of the README's 'The claims file') whose claims are checked besides the "
         "bundled ones; a claim with a bundled id replaces it.",
)
_date_opt = click.option(
    "--validation-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
    help="Validate as if on this day (YYYY-MM-DD; default today): no date may lie after it.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=_version(), prog_name="toh")
def cli() -> None:
    """Analyse registry exports of transient osteoporosis of the hip (TOH).

    An export is a folder of CSV or Parquet files (patients, episodes, imaging, events) or an
    Excel workbook with a sheet per table.  Exit codes: 0 ok, 1 invalid or unreadable data,
    2 usage, configuration or output error, 130 interrupted, 3 internal error (a bug).
    """


def _pipeline(export: Path, mapping: Path | None, failures: Path, validation_date: Any,
              options: Any = None, analyse: bool = True) -> Any:
    """Validate, derive and (with ``analyse``) analyse EXPORT: the pipeline every command shares
    (:mod:`toh.analyses.pipeline`), with the validation summary, the failure CSV, the cohort
    summary and the estimators' cautions printed on the way.  Returns the
    :class:`~toh.analyses.pipeline.PipelineRun`, or (report, derived) without ``analyse``."""
    from toh.analyses.pipeline import analyse_export, derive_export
    from toh.reports._console import cohort_summary, validation_summary

    def validated(report: Any) -> None:
        path = report.write_failures(failures) if len(report.failures) else None  # first: stdout may close early
        click.echo(validation_summary(report))
        for problem in report.table_problems():
            click.echo(f"toh: error: {problem}", err=True)
        if path is not None:
            click.echo(f"Every failure (file, row, column, value, rule) is in {path}")

    day = validation_date.date() if validation_date else None
    if not analyse:
        report, derived = derive_export(export, mapping, validation_date=day, on_validated=validated)
        click.echo(cohort_summary(derived))
        return report, derived
    run = analyse_export(export, mapping, options=options, validation_date=day, on_validated=validated)
    click.echo(cohort_summary(run.derived))
    for caution in run.cautions:
        click.echo(f"toh: warning: {caution}", err=True)
    return run


def _options(seed: int, draws: int, claims: Path | None = None) -> Any:
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions

    return AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=draws, seed=seed), claims=claims)


@cli.command()
@_export_arg
@_mapping_opt
@_failures_opt
@_date_opt
@_guarded
def validate(export: Path, mapping: Path | None, failures: Path, validation_date: Any) -> int:
    """Check EXPORT against the registry contract and describe the cohort.

    Prints what was read and every failing rule; writes each failure with its file, source
    row, column, value and rule to the failure CSV.  Exits 1 when the export is invalid.
    """
    _pipeline(export, mapping, failures, validation_date, analyse=False)
    return EXIT_OK


@cli.command()
@_export_arg
@_mapping_opt
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@_failures_opt
@_date_opt
@_guarded
def derive(export: Path, mapping: Path | None, out: Path, fmt: str, failures: Path, validation_date: Any) -> int:
    """Validate EXPORT, derive the analysis tables and write them to OUT.

    Writes episodes, index (one row per patient), imaging, events, attrition (the ledger)
    and attrition_summary, as Parquet (default) or CSV.  Exits 1, writing nothing, when
    the export is invalid.
    """
    _check_out(out, "derive", export, mapping)
    report, derived = _pipeline(export, mapping, failures, validation_date, analyse=False)
    from toh.cohort.export import write_derived
    from toh.cohort.outputs import output_folder

    with output_folder(out, "derive", inputs=(export, mapping)) as stage:
        paths = write_derived(derived, report.rows, stage, fmt)
    _written(stage, out, paths)
    return EXIT_OK


def _check_out(out: Path, kind: str, *inputs: Path | None) -> None:
    """Refuse a bad --out before any work (it is checked again when written)."""
    from toh.cohort.outputs import check_output

    check_output(out, kind, inputs)


def _written(stage: Path, out: Path, paths: list[Path]) -> None:
    """One "wrote" line per file, named where it ends up (the staging folder is renamed to OUT)."""
    for path in paths:
        click.echo(f"wrote {out / Path(path).relative_to(stage)}")


_seed_opt = click.option("--seed", type=int, default=20240229, show_default=True,
                         help="Seed of the bootstrap intervals (same seed, same numbers).")
_boot_opt = click.option("--bootstrap", "draws", type=click.IntRange(min=0), default=1000, show_default=True,
                         help="Bootstrap draws for the radiographic-change intervals (0: none).")


def _load_claims(claims: Path | None) -> None:
    """A broken claims file stops the command before any work (exit 2)."""
    if claims is not None:
        from toh.analyses.claimsfile import load_claims

        load_claims(claims)


def _analyse(export: Path, mapping: Path | None, out: Path, seed: int, draws: int, failures: Path,
             validation_date: Any, claims: Path | None = None) -> Any:
    from toh.cohort.outputs import output_folder
    from toh.reports.manifest import provenance
    from toh.reports.results import write_results

    run = _pipeline(export, mapping, failures, validation_date, _options(seed, draws, claims))
    settings = {"seed": seed, "bootstrap_draws": draws, "validation_date": run.report.validation_date.isoformat()}
    info = provenance(export, run.report.files, mapping, settings, claims)
    with output_folder(out, "analyze", inputs=(export, mapping, claims)) as stage:
        paths = write_results(run.analysis, stage, info)
    _written(stage, out, paths)
    claims = run.analysis.claims.claims
    click.echo("Claims check: " + ", ".join(f"{k} {v}" for k, v in zip(claims["key"], claims["verdict"])))
    return run.analysis


@cli.command()
@_export_arg
@_mapping_opt
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@_seed_opt
@_boot_opt
@_claims_opt
@_failures_opt
@_date_opt
@_guarded
def analyze(export: Path, mapping: Path | None, out: Path, seed: int, draws: int, claims: Path | None,
            failures: Path, validation_date: Any) -> int:
    """Validate EXPORT, run every analysis and write the results to OUT.

    Writes one tidy CSV per result table under OUT/tables and OUT/results.json with the
    headline estimates under stable keys (see the README).  Exits 1 when the export is invalid.
    """
    _check_out(out, "analyze", export, mapping, claims)
    _load_claims(claims)
    _analyse(export, mapping, out, seed, draws, failures, validation_date, claims)
    return EXIT_OK


@cli.command()
@_export_arg
@_mapping_opt
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--format", "formats", default="png,svg,pdf", show_default=True,
              help="Comma-separated figure formats: png (300 dpi), svg, pdf.")
@click.option("--width", type=click.Choice(["single", "double"]), default="single", show_default=True,
              help="Journal column width: single 85 mm, double 180 mm.")
@click.option("--min-cell", type=click.IntRange(min=0), default=5, show_default=True,
              help="Counts from 1 to this minus 1 are printed as '<N' in figures, and shares resting on them are not "
                   "drawn (0: show all).")
@_seed_opt
@_boot_opt
@_claims_opt
@_failures_opt
@_date_opt
@_guarded
def figures(export: Path, mapping: Path | None, out: Path, formats: str, width: str, min_cell: int, seed: int,
            draws: int, claims: Path | None, failures: Path, validation_date: Any) -> int:
    """Validate and analyse EXPORT, then write every figure for a paper to OUT.

    Kaplan-Meier curves of time to resolution (overall, by sex, pregnancy, treatment), cumulative
    incidence of recurrence and migration, radiographic change, age at onset by sex, fracture/AVN
    and imaging-finding shares and the claims check; identical files from run to run for the
    same input, seed and options.
    """
    chosen = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    if not chosen or set(chosen) - {"png", "svg", "pdf"}:
        raise click.BadParameter(f"formats must be among png, svg, pdf; got {formats!r}", param_hint="--format")
    _check_out(out, "figures", export, mapping, claims)
    _load_claims(claims)
    run = _pipeline(export, mapping, failures, validation_date, _options(seed, draws, claims))
    from toh.cohort.outputs import output_folder
    from toh.reports.figures import write_figures

    with output_folder(out, "figures", inputs=(export, mapping, claims)) as stage:
        paths = write_figures(run.analysis, stage, chosen, width, min_cell=min_cell)
    _written(stage, out, paths)
    return EXIT_OK


@cli.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--patients", "-n", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of patients.")
@click.option("--seed", "-s", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@_guarded
def simulate(out_dir: Path, patients: int, seed: int, fmt: str) -> int:
    """Write a synthetic TOH registry export to OUT_DIR, with the true parameters in truth.json.

    Calibrated to published TOH figures; the same --patients and --seed give the same files.
    """
    from toh.cohort.outputs import output_folder
    from toh.cohort.simulate import simulate_registry, write_registry

    _check_out(out_dir, "simulate")
    registry = simulate_registry(patients, seed)
    with output_folder(out_dir, "simulate") as stage:
        paths = write_registry(registry, stage, fmt)
    _written(stage, out_dir, paths)
    return EXIT_OK


def _build(config: Any, if_changed: bool, failures: Path | None) -> int:
    from toh.reports.build import build_report

    build_report(config, if_changed=if_changed, failures=failures, log=click.echo)
    return EXIT_OK


@cli.command()
@click.argument("export", type=click.Path(path_type=Path), required=False)
@_mapping_opt
@click.option("--config", "-c", "config_file", type=click.Path(path_type=Path), default=None,
              help="Report configuration (TOML): export, mapping, out, formats, strata, suppression, seed.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Output folder (replaced only when the build succeeds).")
@click.option("--format", "formats", default=None, help="Comma-separated among html, pdf, md [default: all three].")
@click.option("--min-cell", type=click.IntRange(min=0), default=None,
              help="Smallest count shown; 1 to N-1 are shown as '<N' [default: 5].")
@click.option("--seed", type=int, default=None, help="Seed of the bootstrap intervals [default: 20240229].")
@click.option("--bootstrap", "draws", type=click.IntRange(min=0), default=None,
              help="Bootstrap draws for the radiographic-change intervals [default: 1000].")
@click.option("--if-changed", is_flag=True,
              help="Skip the build when the inputs and configuration are unchanged since the last build.")
@_claims_opt
@_failures_opt
@_date_opt
@_guarded
def report(export: Path | None, mapping: Path | None, config_file: Path | None, out: Path | None,
           formats: str | None, min_cell: int | None, seed: int | None, draws: int | None, if_changed: bool,
           claims: Path | None, failures: Path, validation_date: Any) -> int:
    """Build the report of EXPORT: HTML (self-contained), PDF and Markdown, with figures and tables.

    Sections: data and validation, attrition, Table 1, each analysis with its figure, table and
    sentence, the claims check, methods and a reproducibility manifest.  Small counts are
    suppressed.  OUT is replaced only when the build succeeds.  Exit codes: 0 built (or skipped
    with --if-changed), 1 invalid data, 2 usage or configuration error, 3 internal error.
    """
    from toh.reports.config import load_report_config

    config = load_report_config(config_file).with_overrides(
        export=export, mapping=mapping, out=out, formats=formats, min_cell=min_cell, seed=seed,
        bootstrap_draws=draws, validation_date=validation_date.date() if validation_date else None, claims=claims)
    return _build(config, if_changed, failures)


@cli.command()
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("toh-demo"), show_default=True,
              help="Output folder.")
@_guarded
def demo(out: Path) -> int:
    """Build the whole report from the bundled demo registry (400 synthetic patients).

    Validates the demo export, derives the cohort, runs every analysis and writes the report to
    OUT: report.html (open it in a browser), report.pdf, report.md, figures, tables and data.
    """
    from importlib.resources import files

    from toh.reports.config import ReportConfig

    export = Path(str(files("toh.cohort.demo")))
    click.echo(f"Demo registry: {export}")
    config = ReportConfig(export=export, out=out, title="TOH demo registry (synthetic): report")
    code = _build(config, False, out.parent / f"{out.name}-validation-failures.csv")
    click.echo(f"Open {out / 'report.html'} in a browser.")
    return code


# --- multi-site pooling: toh bundle (at a site) and toh pool (at the coordinator) ---

from toh.reports.bundle import DEFAULT_MIN_PATIENTS  # noqa: E402  (stdlib only: start-up stays light)


@cli.command()
@click.argument("export", type=click.Path(path_type=Path))
@_mapping_opt
@click.option("--site", required=True, help="This site's name (letters, digits, _ and -), as the pool will show it.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="The bundle file to write (SITE.tohb); optional with --explain.")
@click.option("--time-unit", type=click.Choice(["day", "week", "month"]), default="day", show_default=True,
              help="Round every time up to whole days, weeks (7 days) or months (365.25/12 days) before counting.")
@click.option("--min-patients", type=click.IntRange(min=1), default=DEFAULT_MIN_PATIENTS, show_default=True,
              help="Refuse (exit 2) a site with fewer patients than this.")
@click.option("--explain", is_flag=True, help="Print everything that would leave the site, member by member.")
@_failures_opt
@_date_opt
@_guarded
def bundle(export: Path, mapping: Path | None, site: str, out: Path | None, time_unit: str, min_patients: int,
           explain: bool, failures: Path, validation_date: Any) -> int:
    """Validate and derive EXPORT locally and write the site's bundle for a pooled analysis.

    The bundle (a zip of JSON, docs/bundle.md) holds only counts: events and censorings per
    time, counts per interval, events and person-time, x and n of each share.  No row, no
    identifier, no date, no free text leaves the site.
    """
    if out is None and not explain:
        raise click.UsageError("give --out SITE.tohb to write the bundle, or --explain to see what it would hold")
    report, derived = _pipeline(export, mapping, failures, validation_date, analyse=False)
    from toh.reports.bundle import write_bundle
    from toh.reports.pool import explain_bundle, site_bundle

    members = site_bundle(report, derived, site, time_unit, min_patients)
    if explain:
        click.echo(explain_bundle(members))
    if out is not None:
        click.echo(f"wrote {write_bundle(members, out, inputs=(export, mapping))}")
    return EXIT_OK


@cli.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@_seed_opt
@_boot_opt
@_guarded
def pool(bundles: tuple[Path, ...], out: Path, seed: int, draws: int) -> int:
    """Pool the sites' BUNDLES (.tohb) and write the pooled estimates to OUT.

    Refuses (exit 2) a corrupt or changed bundle, another format version, the same site twice,
    and bundles made with different definitions, options or time unit.  Writes results.json
    (the keys of toh analyze, the sites' random-effects meta-analysis under meta.*, and
    sites.<name>.patients) and tidy CSVs under OUT/tables.
    """
    _check_out(out, "pool", *bundles)
    from toh.cohort.outputs import output_folder
    from toh.reports.pool import pool_bundles, write_pool

    pooled, read = pool_bundles(bundles, draws, seed)
    with output_folder(out, "pool", inputs=bundles) as stage:
        paths = write_pool(pooled, read, stage)
    _written(stage, out, paths)
    click.echo("Pooled " + ", ".join(f"{b.site} ({b.aggregates.patients:,} patients)" for b in read))
    return EXIT_OK


def main() -> None:
    """Entry point of the ``toh`` console script."""
    cli(prog_name="toh")
