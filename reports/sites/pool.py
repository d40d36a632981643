"""``toh bundle`` and ``toh pool``: a site's bundle from its derived cohort, the plain-words
account of what leaves the site, and the pooled analysis of several bundles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toh.cohort.errors import ConfigError
from toh.reports.sites.bundle import DEFAULT_MIN_PATIENTS, MANIFEST, MEMBERS, Bundle, bundle_members, read_bundle

__all__ = ["site_bundle", "explain_bundle", "pool_bundles", "write_pool", "write_pool_report", "report_min_cell",
           "POOL_SCHEMA_VERSION", "REPORT_FORMATS", "DEFAULT_MIN_CELL"]

POOL_SCHEMA_VERSION = 2
#: The pooled report's small-cell rule when neither ``--min-cell`` nor a bundle asks for more.
DEFAULT_MIN_CELL = 5

#: The formats ``toh pool --report`` can write.
REPORT_FORMATS = ("html", "pdf", "md")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("toh-cohort")
    except PackageNotFoundError:  # a source tree that is not installed
        return "unknown"


def site_bundle(report: Any, derived: Any, site: str, time_unit: str = "day", min_patients: int = DEFAULT_MIN_PATIENTS,
                options: Any = None, min_cell: int = DEFAULT_MIN_CELL) -> dict[str, bytes]:
    """The members of ``site``'s bundle (name -> bytes): its validated export's derived cohort
    coarsened to ``time_unit`` and reduced to sufficient statistics under ``options`` (strata,
    Cox covariates and strata, declared columns), with the site's small-cell rule ``min_cell``
    in the manifest.

    Raises
    ------
    ConfigError
        A bad site name or time unit, or fewer patients than ``min_patients``.
    """
    from toh.analyses.aggregates import shared_options, site_aggregates
    from toh.analyses.run import AnalysisOptions
    from toh.cohort.coarsen import unit_days

    options = options or AnalysisOptions()
    length = unit_days(time_unit, derived.definitions)
    aggregates = site_aggregates(derived, options, time_unit, min_cell)
    summary = derived.attrition_summary(report.rows)
    facts = {
        "toh_version": _version(), "time_unit": time_unit, "unit_days": length,
        "definitions": derived.definitions.as_dict(), "options": shared_options(options),
        "validation": {"rows": {k: int(v) for k, v in report.rows.items()}, "errors": len(report.errors),
                       "warnings": len(report.warnings)},
        "attrition": [{"table": r.table, "stage": r.stage, "reason": r.reason, "n": int(r.n)}
                      for r in summary.itertuples()],
    }
    return bundle_members(aggregates, site, manifest_facts=facts, min_patients=min_patients, min_cell=min_cell)


def _numbers(value: Any) -> list[Any]:
    """Every leaf value of a JSON document."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [value]


def explain_bundle(members: dict[str, bytes]) -> str:
    """What would leave the site, in plain words and one table (the site's disclosure settings:
    time unit, minimum of patients, small-cell rule; then each member, what it holds, how many
    values, the smallest count above zero in it, flagged when below the small-cell rule), for a
    data protection officer."""
    manifest = json.loads(members[MANIFEST])
    rows = [(MANIFEST, "format, site name, software version, definitions and options, time unit, disclosure settings, "
                       "counts of rows read, of validation errors and warnings, and of rows left out by reason; "
                       "SHA-256 hashes",
             len(_numbers(manifest)),
             min([n for n in _numbers([manifest["validation"]["rows"], [a["n"] for a in manifest["attrition"]]])
                  if isinstance(n, int) and n > 0], default=None))]
    for name, (_, what, count_columns) in MEMBERS.items():
        columns = json.loads(members[name])["columns"]
        counts = [v for c in count_columns for v in columns[c] if v]
        rows.append((name, what, sum(len(v) for v in columns.values()), min(counts, default=None)))
    unit, rule = manifest["time_unit"], manifest["disclosure"]["min_cell"]
    patients = manifest["disclosure"]["min_patients"]
    coarse = "as they are (whole days)" if unit == "day" else \
        f"rounded up to whole {unit}s ({manifest['unit_days']:g} days) before anything is counted"
    settings = [
        ("time unit", f"{unit}: times from onset {coarse}"),
        ("minimum of patients", f"{patients}: a site with fewer patients writes no bundle"),
        ("small-cell rule", f"{rule}: " + (f"the pooled report shows counts of 1 to {rule - 1} as '<{rule}', and toh "
                                           "pool refuses to report with a smaller rule" if rule > 1 else
                                           "no count hidden by this site's rule (toh pool reports with at least 5)")),
    ]
    lines = [
        f"What would leave site {manifest['site']} ({manifest['patients']:,} patients) in this bundle:",
        "",
        "Only counts and package-defined labels: no row of the export, no identifier (patient, episode, exam",
        "or event id), no date and no free text. Times are days from each episode's onset (time unit below).",
        "Treatment levels that do not look like short codes are not written"
        + (f" ({manifest['withheld_treatment_levels']} withheld here)." if manifest["withheld_treatment_levels"]
           else " (none here)."),
        "The counts leave the site exact (pooling needs them exact): the small-cell rule applies to what the",
        "pooled report shows, not to the bundle. A smallest count below the rule is marked '!': it can describe",
        "one patient, so check it before sharing.",
        "The Cox model's coefficients and covariance are fitted values, not counts: how resolution depends on sex,",
        "age, pregnancy and treatment across the site's patients (a treatment term only for coded levels).",
        "",
    ]
    settings_rows = [(f"{name} (setting)", text) for name, text in settings]
    width = max(len(r[0]) for r in [*rows, *settings_rows])
    header = f"{'member or setting':<{width}}  {'values':>7}  {'smallest count':>14}  what it holds"
    lines += [header, "-" * len(header)]
    lines += [f"{name:<{width}}  {'-':>7}  {'-':>14}  {text}" for name, text in settings_rows]
    for name, what, values, smallest in rows:
        shown = "-" if smallest is None else f"{smallest}{' !' if smallest < rule else ''}"
        lines.append(f"{name:<{width}}  {values:>7,}  {shown:>14}  {what}")
    return "\n".join(lines)


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Keys whose values differ between two JSON documents."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def _check_compatible(bundles: Sequence[Bundle]) -> None:
    seen: dict[str, Path] = {}
    for bundle in bundles:
        if bundle.site in seen:
            raise ConfigError(f"site {bundle.site} comes twice ({seen[bundle.site]} and {bundle.path}): each site is "
                              "pooled once")
        seen[bundle.site] = bundle.path
    first = bundles[0]
    for bundle in bundles[1:]:
        for key, what in (("definitions", "definitions"), ("options", "analysis options"),
                          ("time_unit", "time unit")):
            differ = _differences(first.manifest[key], bundle.manifest[key])
            if differ:
                raise ConfigError(f"bundles {first.path} and {bundle.path} were made with different {what} "
                                  f"({key}: {', '.join(differ[:3])}){_configured(differ, first, bundle)}; every "
                                  "site must use the same ones")


#: an option of a bundle's manifest -> the key of ``toh bundle --config`` that sets it
_CONFIG_KEYS = {"resolution.cox_covariates": "[analysis] covariates", "resolution.cox_strata": "[analysis] cox_strata",
                "resolution.strata": "[analysis] strata", "columns": "[analysis.columns]"}


def _configured(differ: list[str], first: Bundle, other: Bundle) -> str:
    """Where the first differing option comes from, when a site's configuration sets it:
    " (the Cox covariates: [...] at site A, [...] at site B; [analysis] covariates of toh bundle --config)"."""
    key = next((d for d in differ if d in _CONFIG_KEYS or d.startswith("columns")), None)
    if key is None:
        return ""
    path = "columns" if key.startswith("columns") else key

    def value(bundle: Bundle) -> Any:
        found: Any = bundle.manifest["options"]
        for part in path.split("."):
            found = found.get(part, []) if isinstance(found, dict) else []
        return [c["name"] for c in found] if path == "columns" else found

    return (f": {value(first)} at site {first.site}, {value(other)} at site {other.site}, set by "
            f"{_CONFIG_KEYS[path]} of the sites' toh bundle --config")


def report_min_cell(bundles: Sequence[Bundle], given: int | None = None) -> int:
    """The pooled report's small-cell rule: ``given`` (``--min-cell``), or the largest of
    :data:`DEFAULT_MIN_CELL` and the sites' own rules; never smaller than a site's.

    Raises
    ------
    ConfigError
        ``given`` is smaller than a site's own rule.
    """
    strictest = max(bundles, key=lambda b: b.min_cell)
    if given is None:
        return max(DEFAULT_MIN_CELL, strictest.min_cell)
    if given < strictest.min_cell:
        raise ConfigError(f"--min-cell {given} is smaller than the small-cell rule of site {strictest.site} "
                          f"({strictest.min_cell}, in its bundle {strictest.path}): the pooled report may not show a "
                          f"count the site's own rule hides; give --min-cell {strictest.min_cell} or more, or leave "
                          "it out")
    return given


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def pool_bundles(paths: Sequence[str | Path], bootstrap_draws: int = 1000, seed: int = 20240229,
                 workers: int | None = None) -> tuple[Any, list[Bundle]]:
    """Read, check and pool ``paths``: the :class:`toh.analyses.aggregates.PooledAnalysis` and
    the bundles.

    Raises
    ------
    ConfigError
        A bundle is corrupt, tampered or of another format version; the same site comes twice;
        the bundles differ in definitions, options or time unit.
    """
    from toh.analyses.aggregates import pooled_analysis
    from toh.analyses.demographics import DemographicsOptions
    from toh.analyses.migration import MigrationOptions
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.recurrence import RecurrenceOptions
    from toh.analyses.resolution import ResolutionOptions
    from toh.analyses.run import AnalysisOptions
    from toh.cohort.columns import ExtraColumn
    from toh.cohort.definitions import Definitions

    if not paths:
        raise ConfigError("no bundle to pool: give one or more SITE.tohb files")
    bundles = [read_bundle(p) for p in paths]
    _check_compatible(bundles)
    manifest = bundles[0].manifest
    try:
        definitions = Definitions(**_tuples(manifest["definitions"]))
        shared = _tuples(manifest["options"])
        options = AnalysisOptions(
            demographics=DemographicsOptions(**shared["demographics"]),
            radiographic=RadiographicOptions(**shared["radiographic"], bootstrap_draws=bootstrap_draws, seed=seed,
                                             workers=workers),
            resolution=ResolutionOptions(**shared["resolution"]), recurrence=RecurrenceOptions(**shared["recurrence"]),
            migration=MigrationOptions(**shared["migration"]),
            columns=tuple(ExtraColumn(**c) for c in shared.get("columns", ())))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bundle {bundles[0].path}: its definitions or options are not this toh-cohort's ({exc})") \
            from None
    pooled = pooled_analysis({b.site: b.aggregates for b in bundles}, definitions, options)
    return pooled, bundles


def write_pool(pooled: Any, bundles: Sequence[Bundle], out: Path) -> list[Path]:
    """Write the tables of ``pooled`` as CSV under ``out/tables`` and ``out/results.json``."""
    from toh.cohort.safe_csv import write_csv
    from toh.reports.manifest import software_versions
    from toh.reports.results import plain

    paths = [write_csv(table, out / "tables" / f"{name}.csv") for name, table in sorted(pooled.tables().items())]
    first = bundles[0].manifest
    document = {
        "schema_version": POOL_SCHEMA_VERSION,
        "kind": "pool",
        "time_unit": first["time_unit"],
        "bundles": [{"site": b.site, "file": b.path.name, "patients": b.aggregates.patients,
                     "toh_version": b.manifest["toh_version"], "content_hash": b.manifest["content_hash"]}
                    for b in bundles],
        "definitions": plain(pooled.definitions.as_dict()),
        "options": plain(pooled.options),
        "results": pooled.headline(),
        "software": software_versions(pooled=True),
    }
    path = out / "results.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    return sorted([*paths, path])


def write_pool_report(pooled: Any, bundles: Sequence[Bundle], out: Path, formats: Sequence[str] = REPORT_FORMATS,
                      min_cell: int = 5, width: str = "single") -> list[Path]:
    """Write the pooled report into ``out``: ``report.html`` / ``.pdf`` / ``.md`` (of ``formats``),
    ``figures/`` (SVG for the HTML, PNG for the PDF and Markdown) and ``tables/report/`` (each
    report table as CSV, LaTeX and HTML, counts suppressed; beside them in ``tables/`` the
    full-precision tables of :func:`write_pool`)."""
    import datetime as dt

    from toh.reports.cli._build_steps import _FIGURE_MM, _write_tables
    from toh.reports.figures._sites import write_pool_figures
    from toh.reports.document import figure_hidden
    from toh.reports.document.pooled import build_pool_document, pooled_view

    rad = pooled.options.radiographic
    settings = {"bootstrap_draws": rad.bootstrap_draws, "seed": rad.seed, "min_cell": min_cell,
                "time_unit": bundles[0].manifest["time_unit"], "formats": ", ".join(formats)}
    doc = build_pool_document(pooled, bundles, min_cell, settings=settings)
    hidden: dict[str, Any] = dict(figure_hidden(doc))
    hidden.update({f.name: frozenset(f.not_drawn) for s in doc.sections for f in s.figures
                   if f.name.startswith("sites_forest")})
    images = (("svg",) if "html" in formats else ()) + (("png",) if {"pdf", "md"} & set(formats) else ())
    paths = write_pool_figures(pooled, pooled_view(pooled), out / "figures", doc.figure_names(), width,
                               min_cell=min_cell, hidden=hidden, formats=images)
    mm = _FIGURE_MM[width]
    if "html" in formats:
        from toh.reports.render.html import render_html

        paths.append(render_html(doc, out / "figures", out / "report.html", _version(), "svg", mm))
    if "pdf" in formats:
        from toh.reports.render.pdf import render_pdf

        paths.append(render_pdf(doc, out / "figures", out / "report.pdf", dt.datetime.now(dt.timezone.utc).date(),
                                mm))
    if "md" in formats:
        from toh.reports.render.markdown import render_markdown

        paths.append(render_markdown(doc, out / "report.md"))
    return sorted([*paths, *_write_tables(doc, out / "tables" / "report")])
