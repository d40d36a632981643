"""What every ``toh`` command shares: the command group, error and signal handling, common
options, and the pipeline with its printed summaries.

The commands themselves are in :mod:`toh.reports.cli` (one registry) and
:mod:`toh.reports.cli._sites` (multi-site bundles and pooling).
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

from toh.cohort import interrupts

__all__ = ["cli", "guarded", "run_pipeline", "analysis_options", "check_out", "report_written", "export_arg",
           "mapping_opt", "failures_opt", "claims_opt", "date_opt", "seed_opt", "boot_opt", "EXIT_OK", "EXIT_INVALID",
           "EXIT_USAGE", "EXIT_INTERNAL", "EXIT_INTERRUPTED"]

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


def _interrupt(number: int, frame: Any) -> None:
    """Unwind the command as Ctrl-C does; remember the signal, since a library may turn the
    interruption into an error of its own (numpy's LAPACK calls do).  Further interrupting
    signals are ignored from here on: a second one would raise again in the middle of the
    clean-up (ending workers, removing the staging folder) or after the exit code is set, and an
    uncaught KeyboardInterrupt makes Python end the process by SIGINT instead of exit 130."""
    for other in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(other, signal.SIG_IGN)
    interrupts.received(signal.Signals(number).name)
    raise KeyboardInterrupt(signal.Signals(number).name)


def _interrupted() -> int:
    """Say the command was interrupted; return its exit code (130)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C may not cut the message short
    # CPython (3.11, 3.12) marks a KeyboardInterrupt that leaves code run by exec() or eval() of a
    # string (a dataclass or namedtuple being made by a module imported lazily, say) as unhandled,
    # even once it is caught, and under `python -m toh` then ends the process by SIGINT instead of
    # this exit code.  The mark is cleared at the start of every such run: one that raises nothing
    # clears it for good (tests/reports/cli/test_cli_safety.py).
    exec("pass", {})  # noqa: S102 - a constant string, run for the side effect described above
    name = interrupts.signalled()
    why = f" by {name}" if name else ""
    click.echo(f"\ntoh: interrupted{why}; nothing was replaced, and the last output, if any, is kept as it was", err=True)
    return EXIT_INTERRUPTED


def guarded(func: Callable[..., int | None]) -> Callable[..., None]:
    """Turn the package's errors into a message and an exit code, never a traceback.

    SIGTERM and SIGHUP are handled like Ctrl-C: the command unwinds (workers terminated, the
    staging folder and lock removed, the last output kept) and exits 130.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        import warnings

        from toh.cohort.errors import TohError

        interrupts.clear()
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
        except BrokenPipeError:  # the reader of stdout has gone (toh validate X | head -1): stop quietly,
            _stdout_to_devnull()  # with the exit code the run had earned by then (1: an invalid export)
            code = _EARNED[0]
        except Exception as exc:  # a bug: say so plainly, keep the traceback for debugging
            if interrupts.signalled():  # the interruption surfaced as another library's error
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


export_arg = click.argument("export", type=click.Path(path_type=Path))
mapping_opt = click.option(
    "--mapping", "-m", type=click.Path(path_type=Path), default=None,
    help="TOML mapping file for an export with its own column names, codes and date formats.",
)
failures_opt = click.option(
    "--failures", type=click.Path(path_type=Path), default=Path(_DEFAULT_FAILURES), show_default=True,
    help="Where to write every failure (file, row, column, value, rule) as CSV.",
)
claims_opt = click.option(
    "--claims", type=click.Path(path_type=Path), default=None,
    help="A claims file (TOML, the format of the README's 'The claims file') whose claims are checked besides the "
         "bundled ones; a claim with a bundled id replaces it.",
)
analysis_config_opt = click.option(
    "--config", "-c", "config_file", type=click.Path(path_type=Path), default=None,
    help="A report configuration (TOML) whose [analysis] strata, covariates, cox_strata and [analysis.columns] "
         "(the export's extra columns declared for the analyses, typed at validation) apply here.",
)
date_opt = click.option(
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


#: The exit code a command has earned so far, for when it cannot finish printing (a closed stdout).
_EARNED = [EXIT_OK]


def declared_columns(config_file: Path | None) -> tuple[Any, ...]:
    """The extra columns a report configuration declares (none without one)."""
    if config_file is None:
        return ()
    from toh.reports.config import load_report_config

    return load_report_config(config_file).columns


def run_pipeline(export: Path, mapping: Path | None, failures: Path, validation_date: Any,
              options: Any = None, analyse: bool = True, columns: tuple[Any, ...] = ()) -> Any:
    """Validate, derive and (with ``analyse``) analyse EXPORT: the pipeline every command shares
    (:mod:`toh.analyses.pipeline`), with the validation summary, the failure CSV, the cohort
    summary and the estimators' cautions printed on the way.  Returns the
    :class:`~toh.analyses.pipeline.PipelineRun`, or (report, derived) without ``analyse``."""
    from toh.analyses.pipeline import analyse_export, derive_export
    from toh.reports.cli._console import cohort_summary, validation_summary

    def validated(report: Any) -> None:
        path = report.write_failures(failures) if len(report.failures) else None  # first: stdout may close early
        _EARNED[0] = EXIT_OK if report.is_valid else EXIT_INVALID
        click.echo(validation_summary(report))
        for problem in report.table_problems():
            click.echo(f"toh: error: {problem}", err=True)
        if path is not None:
            click.echo(f"Every failure (file, row, column, value, rule) is in {path}")

    _EARNED[0] = EXIT_OK
    day = validation_date.date() if validation_date else None
    if not analyse:
        report, derived = derive_export(export, mapping, validation_date=day, on_validated=validated,
                                        columns=columns)
        click.echo(cohort_summary(derived))
        return report, derived
    run = analyse_export(export, mapping, options=options, validation_date=day, on_validated=validated)
    click.echo(cohort_summary(run.derived))
    for caution in run.cautions:
        click.echo(f"toh: warning: {caution}", err=True)
    return run


def analysis_options(seed: int, draws: int, claims: Path | None = None, config_file: Path | None = None) -> Any:
    """The options of ``toh analyze`` / ``toh figures``; a report configuration adds its strata,
    Cox covariates and strata and declared columns (every category level kept apart: these
    outputs are the analyst's, unsuppressed)."""
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions

    if config_file is None:
        return AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=draws, seed=seed), claims=claims)
    from toh.reports.config import load_report_config

    return load_report_config(config_file).analysis_options(seed, draws, claims)


def check_out(out: Path, kind: str, *inputs: Path | None) -> None:
    """Refuse a bad --out before any work (it is checked again when written)."""
    from toh.cohort.outputs import check_output

    check_output(out, kind, inputs)


def report_written(stage: Path, out: Path, paths: list[Path]) -> None:
    """One "wrote" line per file, named where it ends up (the staging folder is renamed to OUT)."""
    for path in paths:
        click.echo(f"wrote {out / Path(path).relative_to(stage)}")


seed_opt = click.option("--seed", type=int, default=20240229, show_default=True,
                         help="Seed of the bootstrap intervals (same seed, same numbers).")
boot_opt = click.option("--bootstrap", "draws", type=click.IntRange(min=0), default=1000, show_default=True,
                         help="Bootstrap draws for the radiographic-change intervals (0: none).")
