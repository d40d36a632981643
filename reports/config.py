"""The report configuration: one TOML file that holds everything a scheduled build needs.

Example (every key optional; paths are relative to the configuration file)::

    [report]
    export = "exports/latest"          # folder of CSV/Parquet files, or an Excel workbook
    mapping = "mapping.toml"           # column mapping of a non-canonical export
    out = "reports/toh"                # output folder (replaced atomically on success)
    formats = ["html", "pdf", "md"]
    title = "TOH registry report"
    figure_width = "single"            # "single" (85 mm) or "double" (180 mm)

    [analysis]
    seed = 20240229
    bootstrap_draws = 1000
    strata = ["sex", "pregnancy", "treatment"]   # Kaplan-Meier strata (and declared category columns)
    covariates = ["male", "age", "pregnancy_associated", "treatment", "bmi"]   # of the Cox model
    cox_strata = ["smoking"]           # categories the Cox model is stratified by (default none)
    validation_date = 2025-06-30       # default: the day of the build
    claims = "my-claims.toml"          # a claims file of one's own (added to the bundled claims)

    [analysis.columns]                 # the export's extra columns the analyses may use
    bmi = { table = "patients", type = "number", per = 5, label = "BMI" }
    smoking = { table = "patients", type = "category" }

    [privacy]
    min_cell = 5                       # counts 1 to min_cell - 1 are shown as "<min_cell"
    machine_readable = false           # true: also write data/ (results.json, tidy CSVs: unsuppressed)

    [bundle]                           # toh bundle --config (a site of a pooled study)
    time_unit = "week"                 # "day", "week" or "month": times rounded up before counting
    min_patients = 10                  # fewer patients: no bundle is written

A site's ``toh bundle --config`` reads [bundle], [privacy] min_cell (the site's own small-cell
rule: it travels in the bundle, and ``toh pool`` never reports with a smaller one), [analysis]
strata, covariates, cox_strata and [analysis.columns], and [report] mapping.

Options given on the command line override the file.  Every mistake (unknown section or key,
wrong type, a value out of range, a file that is not there) is a :class:`toh.cohort.errors.ConfigError`
naming the file and the key, so a build exits with code 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from toh.cohort.tomlfile import read_toml
from toh.cohort.errors import ConfigError

__all__ = ["ReportConfig", "load_report_config", "REPORT_FORMATS", "DEFAULT_TITLE", "TIME_UNITS",
           "DEFAULT_MIN_PATIENTS"]

REPORT_FORMATS = ("html", "pdf", "md")
DEFAULT_TITLE = "Transient osteoporosis of the hip: registry report"
_STRATA = ("sex", "pregnancy", "treatment")
_COVARIATES = ("male", "age", "pregnancy_associated", "treatment")
#: The time units of a bundle (``toh bundle --time-unit``, ``[bundle] time_unit``).
TIME_UNITS = ("day", "week", "month")
#: A site with fewer patients writes no bundle (``toh bundle --min-patients``, ``[bundle] min_patients``).
DEFAULT_MIN_PATIENTS = 10
_KEYS: dict[str, set[str]] = {
    "report": {"export", "mapping", "out", "formats", "title", "figure_width"},
    "analysis": {"seed", "bootstrap_draws", "strata", "covariates", "cox_strata", "columns", "validation_date",
                 "claims"},
    "privacy": {"min_cell", "machine_readable"},
    "bundle": {"time_unit", "min_patients"},
}


@dataclass(frozen=True)
class ReportConfig:
    """Everything one report build uses.

    Attributes
    ----------
    export, mapping, out
        The registry export, its mapping file (or None) and the output folder.
    formats
        Rendered outputs, among "html", "pdf" and "md".
    title
        Title of the report.
    figure_width
        "single" (85 mm) or "double" (180 mm) journal column.
    seed, bootstrap_draws
        Seed and number of draws of the bootstrap intervals.
    strata
        Stratum variables of the resolution analysis (among sex, pregnancy, treatment and the
        declared category or boolean columns).
    covariates
        Covariates of the Cox model of resolution (male, age, pregnancy_associated, treatment
        and the declared columns).
    cox_strata
        Categories the Cox model is stratified by (none by default).
    columns
        The export's extra columns declared for the analyses (``[analysis.columns]``,
        :mod:`toh.cohort.columns`): typed and checked at validation.
    validation_date
        Validate as if on this day (None: the day of the build).
    claims
        A claims file of one's own (:mod:`toh.analyses.claimsfile`): its claims are checked besides
        the bundled ones and replace those with the same id (None: the bundled claims only).
    min_cell
        Smallest count shown in a rendered output; 1 to ``min_cell - 1`` show as "<min_cell"
        (0 or 1: every count shown).
    machine_readable
        Also write results.json and the tidy tables (full precision, unsuppressed).
    time_unit, min_patients
        ``toh bundle``'s time granularity ("day", "week" or "month") and its minimum number of
        patients of a site (``[bundle]``).
    source
        The configuration file read (None when built from options only).
    """

    export: Path | None = None
    mapping: Path | None = None
    out: Path | None = None
    formats: tuple[str, ...] = REPORT_FORMATS
    title: str = DEFAULT_TITLE
    figure_width: str = "single"
    seed: int = 20240229
    bootstrap_draws: int = 1000
    strata: tuple[str, ...] = _STRATA
    covariates: tuple[str, ...] = _COVARIATES
    cox_strata: tuple[str, ...] = ()
    columns: tuple[Any, ...] = ()
    validation_date: dt.date | None = None
    claims: Path | None = None
    min_cell: int = 5
    machine_readable: bool = False
    time_unit: str = "day"
    min_patients: int = DEFAULT_MIN_PATIENTS
    source: Path | None = field(default=None, compare=False)

    def with_overrides(self, **values: Any) -> ReportConfig:
        """A copy with the given non-None values replaced, then checked."""
        chosen = {k: v for k, v in values.items() if v is not None}
        where = "command line"
        if "formats" in chosen:
            chosen["formats"] = _formats(chosen["formats"], "--format", where)
        return check_config(replace(self, **chosen), where)

    def analysis_options(self, seed: int | None = None, draws: int | None = None, claims: Path | None = None,
                         min_level: int = 0) -> Any:
        """The :class:`toh.analyses.run.AnalysisOptions` of ``[analysis]``: strata, Cox covariates
        and strata, declared columns, and the bootstrap's ``seed`` and ``draws`` (default: this
        configuration's).  ``min_level``: category levels of fewer patients are pooled into
        "other" in the strata, the Cox model and Gray's tests (a report's; the analyst's outputs and a site's
        bundle keep every level apart, the bundle withholding what is small instead)."""
        from toh.analyses.migration import MigrationOptions
        from toh.analyses.radiographic import RadiographicOptions
        from toh.analyses.recurrence import RecurrenceOptions
        from toh.analyses.resolution import ResolutionOptions
        from toh.analyses.run import AnalysisOptions

        radiographic = RadiographicOptions(bootstrap_draws=self.bootstrap_draws if draws is None else draws,
                                           seed=self.seed if seed is None else seed)
        resolution = ResolutionOptions(strata=self.strata, cox_covariates=self.covariates, cox_strata=self.cox_strata,
                                       min_level=min_level)
        return AnalysisOptions(radiographic=radiographic, resolution=resolution, claims=claims, columns=self.columns,
                               recurrence=RecurrenceOptions(min_level=min_level),
                               migration=MigrationOptions(min_level=min_level))

    def as_dict(self) -> dict[str, Any]:
        """Plain values (paths and dates as text) for the manifest and the methods text."""
        out: dict[str, Any] = {}
        for key in ("formats", "title", "figure_width", "seed", "bootstrap_draws", "strata", "covariates",
                    "cox_strata", "min_cell", "machine_readable"):
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        out["columns"] = [f"{c.name} ({c.table}, {c.type}{f', per {c.per:g}' if c.per != 1 else ''})"
                          for c in self.columns]
        out["validation_date"] = None if self.validation_date is None else self.validation_date.isoformat()
        return out


def _formats(value: Any, where: str, path: str) -> tuple[str, ...]:
    items = [v.strip().lower() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{path}: {where} must be a list of formats, got {value!r}")
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in items if v.strip()))
    unknown = sorted(set(chosen) - set(REPORT_FORMATS))
    if unknown or not chosen:
        raise ConfigError(f"{path}: {where} must name formats among {', '.join(REPORT_FORMATS)}; got {value!r}")
    return chosen


def _typed(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = raw[key]
    if isinstance(value, bool) and kind is not bool:  # TOML true is not a number here
        raise ConfigError(f"{where}.{key} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}.{key} must be {names}, got {value!r}")
    return value


def check_config(config: ReportConfig, where: str) -> ReportConfig:
    """Check ranges and choices; raise ConfigError naming ``where`` and the key."""
    if config.min_cell < 0:
        raise ConfigError(f"{where}: min_cell must be 0 or more, got {config.min_cell}")
    if config.bootstrap_draws < 0:
        raise ConfigError(f"{where}: bootstrap_draws must be 0 or more, got {config.bootstrap_draws}")
    if config.time_unit not in TIME_UNITS:
        raise ConfigError(f"{where}: [bundle] time_unit must be one of {', '.join(TIME_UNITS)}, "
                          f"got {config.time_unit!r}")
    if config.min_patients < 1:
        raise ConfigError(f"{where}: [bundle] min_patients must be 1 or more, got {config.min_patients}")
    if config.figure_width not in ("single", "double"):
        raise ConfigError(f"{where}: figure_width must be 'single' or 'double', got {config.figure_width!r}")
    if config.strata != _STRATA or config.covariates != _COVARIATES or config.cox_strata or config.columns:
        _check_names(config, where)
    if not config.title.strip():
        raise ConfigError(f"{where}: title must not be empty")
    return config


#: words of ResolutionOptions' messages -> the [analysis] key at fault
_MARKERS = (("both a Cox covariate and a Cox stratum", "cox_strata"), ("cox_covariates", "covariates"),
            ("Cox covariate", "covariates"), ("Cox stratum", "cox_strata"), ("cox_strata", "cox_strata"), ("", "strata"))


def _check_names(config: ReportConfig, where: str) -> None:
    """strata, covariates and cox_strata against the built-in names and the declared columns."""
    from toh.analyses.resolution import ResolutionOptions
    from toh.cohort.columns import check_columns

    try:
        check_columns(config.columns)
    except ValueError as exc:
        raise ConfigError(f"{where}: [analysis.columns]: {exc}") from None
    try:
        ResolutionOptions(strata=config.strata, cox_covariates=config.covariates,
                          cox_strata=config.cox_strata).check_names(config.columns)
    except ValueError as exc:
        text = str(exc)
        key = next(k for marker, k in _MARKERS if marker in text)
        raise ConfigError(f"{where}: [analysis] {key}: {text}") from None


def _names(body: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _typed(body, key, list, where)
    if not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{where}.{key} must be a list of names, got {items!r}")
    return tuple(items)


def load_report_config(path: str | Path | None) -> ReportConfig:
    """Read and check a report configuration file (None: the defaults).

    Parameters
    ----------
    path
        A TOML file laid out as in this module's docstring.

    Returns
    -------
    ReportConfig
        Paths resolved against the file's folder.

    Raises
    ------
    ConfigError
        Missing file, invalid TOML, unknown section or key, wrong type or value.
    """
    if path is None:
        return ReportConfig()
    path = Path(path)
    raw = read_toml(path, "report configuration")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown sections {unknown}; sections are {sorted(_KEYS)}")
    values: dict[str, Any] = {}
    for section, keys in _KEYS.items():
        body = raw.get(section, {})
        if not isinstance(body, Mapping):
            raise ConfigError(f"{path}: [{section}] must be a table")
        bad = sorted(set(body) - keys)
        if bad:
            raise ConfigError(f"{path}: [{section}] has unknown keys {bad}; keys are {sorted(keys)}")
        where = f"{path}: [{section}]"
        for key in body:
            if key in ("export", "mapping", "out", "claims"):
                values[key] = path.parent / _typed(body, key, str, where)
            elif key == "formats":
                values[key] = _formats(body[key], f"[{section}].{key}", str(path))
            elif key in ("strata", "covariates", "cox_strata"):
                values[key] = _names(body, key, where)
            elif key == "columns":
                from toh.cohort.columns import parse_columns

                values[key] = parse_columns(body[key], f"{path}: [analysis.columns]")
            elif key == "validation_date":
                day = _typed(body, key, (dt.date, str), where)
                if isinstance(day, dt.datetime):
                    raise ConfigError(f"{where}.validation_date must be a date (YYYY-MM-DD), got {day!r}")
                if isinstance(day, str):
                    try:
                        day = dt.date.fromisoformat(day)
                    except ValueError:
                        raise ConfigError(f"{where}.validation_date must be YYYY-MM-DD, got {day!r}") from None
                values[key] = day
            elif key == "machine_readable":
                values[key] = _typed(body, key, bool, where)
            elif key in ("title", "figure_width", "time_unit"):
                values[key] = _typed(body, key, str, where)
            else:
                values[key] = _typed(body, key, int, where)
    return check_config(ReportConfig(source=path, **values), str(path))
