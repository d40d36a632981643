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

from pathlib import Path
from typing import Any

import click

from toh.reports.cli._base import (EXIT_OK, analysis_config_opt, analysis_options, boot_opt, check_out, claims_opt,
                                   cli, date_opt, declared_columns, export_arg, failures_opt, guarded, mapping_opt,
                                   report_written, run_pipeline, seed_opt)

__all__ = ["cli", "main"]


@cli.command()
@export_arg
@mapping_opt
@analysis_config_opt
@failures_opt
@date_opt
@guarded
def validate(export: Path, mapping: Path | None, config_file: Path | None, failures: Path, validation_date: Any) -> int:
    """Check EXPORT against the registry contract and describe the cohort.

    Prints what was read and every failing rule; writes each failure with its file, source
    row, column, value and rule to the failure CSV.  Exits 1 when the export is invalid.
    """
    run_pipeline(export, mapping, failures, validation_date, analyse=False, columns=declared_columns(config_file))
    return EXIT_OK


@cli.command()
@export_arg
@mapping_opt
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@analysis_config_opt
@failures_opt
@date_opt
@guarded
def derive(export: Path, mapping: Path | None, out: Path, fmt: str, config_file: Path | None, failures: Path,
           validation_date: Any) -> int:
    """Validate EXPORT, derive the analysis tables and write them to OUT.

    Writes episodes, index (one row per patient), imaging, events, attrition (the ledger)
    and attrition_summary, as Parquet (default) or CSV.  Exits 1, writing nothing, when
    the export is invalid.
    """
    check_out(out, "derive", export, mapping)
    report, derived = run_pipeline(export, mapping, failures, validation_date, analyse=False,
                                   columns=declared_columns(config_file))
    from toh.cohort.export import write_derived
    from toh.cohort.outputs import output_folder

    with output_folder(out, "derive", inputs=(export, mapping)) as stage:
        paths = write_derived(derived, report.rows, stage, fmt)
    report_written(stage, out, paths)
    return EXIT_OK


def _load_claims(claims: Path | None) -> None:
    """A broken claims file stops the command before any work (exit 2)."""
    if claims is not None:
        from toh.analyses.claimsfile import load_claims

        load_claims(claims)


def _analyse(export: Path, mapping: Path | None, out: Path, seed: int, draws: int, failures: Path,
             validation_date: Any, claims: Path | None = None, config_file: Path | None = None) -> Any:
    from toh.cohort.outputs import output_folder
    from toh.reports.manifest import provenance
    from toh.reports.results import write_results

    run = run_pipeline(export, mapping, failures, validation_date, analysis_options(seed, draws, claims, config_file))
    settings = {"seed": seed, "bootstrap_draws": draws, "validation_date": run.report.validation_date.isoformat()}
    info = provenance(export, run.report.files, mapping, settings, claims)
    with output_folder(out, "analyze", inputs=(export, mapping, claims)) as stage:
        paths = write_results(run.analysis, stage, info)
    report_written(stage, out, paths)
    claims = run.analysis.claims.claims
    click.echo("Claims check: " + ", ".join(f"{k} {v}" for k, v in zip(claims["key"], claims["verdict"])))
    return run.analysis


@cli.command()
@export_arg
@mapping_opt
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@seed_opt
@boot_opt
@claims_opt
@analysis_config_opt
@failures_opt
@date_opt
@guarded
def analyze(export: Path, mapping: Path | None, out: Path, seed: int, draws: int, claims: Path | None,
            config_file: Path | None, failures: Path, validation_date: Any) -> int:
    """Validate EXPORT, run every analysis and write the results to OUT.

    Writes one tidy CSV per result table under OUT/tables and OUT/results.json with the
    headline estimates under stable keys (see the README).  Exits 1 when the export is invalid.
    """
    check_out(out, "analyze", export, mapping, claims)
    _load_claims(claims)
    _analyse(export, mapping, out, seed, draws, failures, validation_date, claims, config_file)
    return EXIT_OK


@cli.command()
@export_arg
@mapping_opt
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--format", "formats", default="png,svg,pdf", show_default=True,
              help="Comma-separated figure formats: png (300 dpi), svg, pdf.")
@click.option("--width", type=click.Choice(["single", "double"]), default="single", show_default=True,
              help="Journal column width: single 85 mm, double 180 mm.")
@click.option("--min-cell", type=click.IntRange(min=0), default=5, show_default=True,
              help="Counts from 1 to this minus 1 are printed as '<N' in figures, and shares resting on them are not "
                   "drawn (0: show all).")
@seed_opt
@boot_opt
@claims_opt
@failures_opt
@date_opt
@guarded
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
    check_out(out, "figures", export, mapping, claims)
    _load_claims(claims)
    run = run_pipeline(export, mapping, failures, validation_date, analysis_options(seed, draws, claims))
    from toh.cohort.outputs import output_folder
    from toh.reports.cli._build_steps import document_step
    from toh.reports.config import ReportConfig
    from toh.reports.document import figure_hidden
    from toh.reports.figures import write_figures

    # the same disclosure audit as the report's: what a figure hides, and the groups it leaves out
    doc, _ = document_step(ReportConfig(export=export, mapping=mapping, seed=seed, bootstrap_draws=draws,
                                        claims=claims, min_cell=min_cell), run)
    with output_folder(out, "figures", inputs=(export, mapping, claims)) as stage:
        paths = write_figures(run.analysis, stage, chosen, width, min_cell=min_cell, hidden=figure_hidden(doc),
                              only=doc.figure_names())
    report_written(stage, out, paths)
    return EXIT_OK


@cli.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--patients", "-n", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of patients (with --sites: per site on average).")
@click.option("--seed", "-s", type=click.IntRange(min=0), default=1, show_default=True, help="Random seed (>= 0).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--sites", type=click.IntRange(min=1), default=None,
              help="Write a consortium of this many site exports (OUT_DIR/site-1 ...) that differ in size, sex "
                   "mix, treatment mix and follow-up, with each site's truth and the pool's.")
@click.option("--site-names", default=None, help="Comma-separated names of the --sites folders [default: site-1,...].")
@guarded
def simulate(out_dir: Path, patients: int, seed: int, fmt: str, sites: int | None, site_names: str | None) -> int:
    """Write a synthetic TOH registry export to OUT_DIR, with the true parameters in truth.json.

    Calibrated to published TOH figures; the same --patients and --seed give the same files.
    With --sites K: K site exports in subfolders, each with its truth.json, and the pool's
    truth.json in OUT_DIR (docs/definitions.md, "A simulated consortium").
    """
    from toh.cohort.outputs import output_folder

    if site_names is not None and sites is None:
        raise click.UsageError("--site-names needs --sites")
    check_out(out_dir, "simulate")
    if sites is None:
        from toh.cohort.simulate import simulate_registry, write_registry

        registry = simulate_registry(patients, seed)
        with output_folder(out_dir, "simulate") as stage:
            paths = write_registry(registry, stage, fmt)
    else:
        from toh.cohort.simulate_sites import simulate_sites, write_sites

        names = tuple(n.strip() for n in site_names.split(",")) if site_names is not None else None
        try:
            consortium = simulate_sites(sites, patients, seed, names=names)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        with output_folder(out_dir, "simulate") as stage:
            paths = write_sites(consortium, stage, fmt)
        click.echo("Sites: " + ", ".join(f"{k} ({r.n_patients:,} patients)" for k, r in consortium.sites.items()))
    report_written(stage, out_dir, paths)
    return EXIT_OK


def _build(config: Any, if_changed: bool, failures: Path | None) -> int:
    from toh.reports.cli.build import build_report

    build_report(config, if_changed=if_changed, failures=failures, log=click.echo)
    return EXIT_OK


@cli.command()
@click.argument("export", type=click.Path(path_type=Path), required=False)
@mapping_opt
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
@claims_opt
@failures_opt
@date_opt
@guarded
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
@guarded
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


# The multi-site commands (toh bundle, toh pool) register themselves on the same group.
from toh.reports.cli import _sites  # noqa: E402,F401


def main() -> None:
    """Entry point of the ``toh`` console script."""
    import gc

    # the imports (pandas, pandera, scipy, lifelines) create some million objects and few
    # cycles: a collection every 100,000 allocations instead of 700 saves 0.05-0.1 s of CPU
    gc.set_threshold(100_000, 50, 100)
    try:
        cli(prog_name="toh")
    finally:
        # every output is written and closed by now; the interpreter's last collection would
        # walk every object the imports and the analyses made (0.4 s at 100,000 patients) for
        # memory the process is about to give back: frozen objects are left out of it
        gc.freeze()
