"""The multi-site commands: ``toh bundle`` (at a site) and ``toh pool`` (at the coordinator).

See docs/bundle.md for what a bundle holds and how pooling stays exact.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from toh.reports.cli._base import (EXIT_OK, boot_opt, check_out, cli, date_opt, failures_opt, guarded, mapping_opt,
                                   report_written, run_pipeline, seed_opt)
from toh.reports.config import DEFAULT_MIN_PATIENTS, TIME_UNITS

__all__ = ["bundle", "pool"]

@cli.command()
@click.argument("export", type=click.Path(path_type=Path))
@mapping_opt
@click.option("--config", "-c", "config_file", type=click.Path(path_type=Path), default=None,
              help="A report configuration (TOML): its [bundle] time_unit and min_patients, [privacy] min_cell (the "
                   "site's small-cell rule, written in the bundle), [analysis] strata, covariates, cox_strata and "
                   "[analysis.columns], and [report] mapping apply; options given here override it.")
@click.option("--site", required=True, help="This site's name (letters, digits, _ and -), as the pool will show it.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="The bundle file to write (SITE.tohb); optional with --explain.")
@click.option("--time-unit", type=click.Choice(TIME_UNITS), default=None,
              help="Round every time up to whole days, weeks (7 days) or months (365.25/12 days) before counting "
                   "[default: the configuration's, else day].")
@click.option("--min-patients", type=click.IntRange(min=1), default=None,
              help=f"Refuse (exit 2) a site with fewer patients than this [default: the configuration's, else "
                   f"{DEFAULT_MIN_PATIENTS}].")
@click.option("--explain", is_flag=True, help="Print everything that would leave the site, member by member.")
@failures_opt
@date_opt
@guarded
def bundle(export: Path, mapping: Path | None, config_file: Path | None, site: str, out: Path | None,
           time_unit: str | None, min_patients: int | None, explain: bool, failures: Path,
           validation_date: Any) -> int:
    """Validate and derive EXPORT locally and write the site's bundle for a pooled analysis.

    The bundle (a zip of JSON, docs/bundle.md) holds only aggregates: events and censorings per
    time (overall and per group), counts per interval, events and person-time, x and n of each
    share, and the site's Cox model (coefficients and their covariance).  No row, no identifier,
    no date, no free text leaves the site.
    """
    if out is None and not explain:
        raise click.UsageError("give --out SITE.tohb to write the bundle, or --explain to see what it would hold")
    from toh.reports.config import load_report_config

    config = load_report_config(config_file).with_overrides(
        mapping=mapping, time_unit=time_unit, min_patients=min_patients,
        validation_date=validation_date.date() if validation_date else None)
    day = None if config.validation_date is None else dt.datetime.combine(config.validation_date, dt.time())
    report, derived = run_pipeline(export, config.mapping, failures, day, analyse=False, columns=config.columns)
    from toh.reports.sites.bundle import write_bundle
    from toh.reports.sites.pool import explain_bundle, site_bundle

    members = site_bundle(report, derived, site, config.time_unit, config.min_patients,
                          config.analysis_options(), config.min_cell)
    if explain:
        click.echo(explain_bundle(members))
    if out is not None:
        click.echo(f"wrote {write_bundle(members, out, inputs=(export, config.mapping, config_file))}")
    return EXIT_OK


@cli.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--report", is_flag=True, help="Also write the pooled report (report.html/.pdf/.md, figures/, "
              "tables/report/).")
@click.option("--format", "formats", default=None, help="With --report: comma-separated among html, pdf, md "
              "[default: all three].")
@click.option("--min-cell", type=click.IntRange(min=0), default=None,
              help="With --report: counts of people from 1 to N-1 are shown as '<N'; never smaller than a site's own "
                   "rule (in its bundle) [default: the largest of 5 and the sites' rules].")
@seed_opt
@boot_opt
@guarded
def pool(bundles: tuple[Path, ...], out: Path, report: bool, formats: str | None, min_cell: int | None, seed: int,
         draws: int) -> int:
    """Pool the sites' BUNDLES (.tohb) and write the pooled estimates to OUT.

    Refuses (exit 2) a corrupt or changed bundle, another format version, the same site twice,
    and bundles made with different definitions, options or time unit.  Writes results.json
    (the keys of toh analyze; under meta.* the random-effects meta-analyses, DerSimonian-Laird
    and REML, of the sites' estimates and Cox hazard ratios; under sites.* each site's patients
    and estimates and the log-rank and Gray's tests stratified by site) and tidy CSVs under
    OUT/tables.  With --report, also the pooled report: every section of toh report that the
    pooled numbers support, a sites section (patients per site, forest plots, meta-analysis)
    and methods saying what was pooled exactly and what was meta-analysed.
    """
    from toh.reports.sites.pool import REPORT_FORMATS

    chosen = tuple(f.strip() for f in (formats or ",".join(REPORT_FORMATS)).split(",") if f.strip())
    for given, name in ((formats, "--format"), (min_cell, "--min-cell")):
        if given is not None and not report:
            raise click.UsageError(f"{name} applies to the report: add --report")
    if not chosen or any(f not in REPORT_FORMATS for f in chosen):
        raise click.BadParameter(f"formats must be among {', '.join(REPORT_FORMATS)}; got {formats!r}",
                                 param_hint="--format")
    check_out(out, "pool", *bundles)
    from toh.cohort.outputs import output_folder
    from toh.reports.sites.pool import pool_bundles, report_min_cell, write_pool, write_pool_report

    pooled, read = pool_bundles(bundles, draws, seed)
    rule = report_min_cell(read, min_cell)
    with output_folder(out, "pool", inputs=bundles) as stage:
        paths = write_pool(pooled, read, stage)
        if report:
            paths += write_pool_report(pooled, read, stage, chosen, rule)
    report_written(stage, out, paths)
    click.echo("Pooled " + ", ".join(f"{b.site} ({b.aggregates.patients:,} patients)" for b in read))
    return EXIT_OK


