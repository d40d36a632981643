"""A federated run of ``toh bundle`` and ``toh pool``: what a node returns and how the central
step pools what the nodes returned, with no federated platform in sight.

:mod:`toh.reports.sites.vantage6_algorithm` wraps these functions as a vantage6 algorithm; nothing
here imports vantage6, so every step can be tested and reused on its own.

A node's result is JSON: ``{"format": "toh-bundle-members", "format_version": 1, "site": NAME,
"members": {member name: member text}}``, where each member text is, byte for byte once encoded
as UTF-8, the member ``toh bundle`` writes into the site's ``.tohb`` for the same export and
settings (docs/bundle.md): aggregates only.  A node that cannot make its bundle returns
``{"format": ..., "format_version": 1, "error": MESSAGE, "failures": [...]}`` instead: for an
invalid export, the number of failures per table, column and rule (never a row or a value).

The central step writes the members back as ``.tohb`` files in a temporary folder and runs
:func:`toh.reports.sites.pool.pool_bundles` and :func:`toh.reports.sites.pool.write_pool` on them: the checks
(duplicate site, different definitions or time unit, a changed byte) and the numbers are those
of ``toh pool``; its result is ``toh pool``'s ``results.json`` document plus ``tables`` (each
CSV of ``toh pool``'s ``tables/`` folder as text) and ``bundle_members`` (site -> the members of
its bundle, as the node returned them: aggregates only, what a coordinator of ``toh pool``
receives anyway).  :func:`write_node_bundles` writes them back as ``.tohb`` files, on which
``toh pool --report`` builds the pooled report with the same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toh.cohort.errors import ConfigError, InvalidDataError, TohError
from toh.reports.config import DEFAULT_MIN_PATIENTS, TIME_UNITS
from toh.reports.sites.pool import DEFAULT_MIN_CELL

__all__ = ["RESULT_FORMAT", "RESULT_VERSION", "MAPPING_FILE", "CONFIG_FILE", "TIME_UNITS", "SiteSettings",
           "PoolSettings",
           "node_result", "node_error", "pool_node_results", "write_node_bundles", "site_name_ok"]

RESULT_FORMAT, RESULT_VERSION = "toh-bundle-members", 1
#: The mapping file a node reads from its export folder when present (docs: README, vantage6).
MAPPING_FILE = "toh-mapping.toml"
#: The report configuration (``toh bundle --config``) a node reads from its export folder when present.
CONFIG_FILE = "toh-config.toml"
DEFAULT_SEED, DEFAULT_DRAWS = 20240229, 1000  # those of ``toh pool``


def site_name_ok(name: object) -> bool:
    """Whether ``name`` is a site name ``toh bundle --site`` accepts."""
    from toh.reports.sites.bundle import _SITE

    return isinstance(name, str) and _SITE.fullmatch(name) is not None


def _whole(value: object, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} must be a whole number of at least {least}, not {value!r}")
    return value


def _day(value: object) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"validation_date must be a date written YYYY-MM-DD, not {value!r}") from None


@dataclass(frozen=True)
class SiteSettings:
    """What one node is asked to do: the task arguments of the partial function.

    Parameters
    ----------
    site
        The site's name in the pool (letters, digits, ``_`` and ``-``; ``toh bundle --site``).
    time_unit
        ``day``, ``week`` or ``month`` (``toh bundle --time-unit``).
    min_patients
        The node refuses to share aggregates of fewer patients (``toh bundle --min-patients``).
    validation_date
        Validate as if on this day (``YYYY-MM-DD``); None: today.
    min_cell
        The site's small-cell rule, written in its bundle (``[privacy] min_cell`` of ``toh
        bundle --config``): the pooled report never uses a smaller one.

    Raises
    ------
    ConfigError
        A setting is not of the kind above.
    """

    site: str
    time_unit: str = "day"
    min_patients: int = DEFAULT_MIN_PATIENTS
    validation_date: str | None = None
    min_cell: int = DEFAULT_MIN_CELL

    def __post_init__(self) -> None:
        if not site_name_ok(self.site):
            raise ConfigError(f"site {self.site!r} is not a site name: use letters, digits, '_' and '-' (at most 64 "
                              "characters, starting with a letter or digit)")
        if self.time_unit not in TIME_UNITS:
            raise ConfigError(f"time_unit must be one of {', '.join(TIME_UNITS)}, not {self.time_unit!r}")
        _whole(self.min_patients, "min_patients", 1)
        _whole(self.min_cell, "min_cell", 0)
        _day(self.validation_date)

    @property
    def day(self) -> dt.date | None:
        """The validation date as a date (None: today)."""
        return _day(self.validation_date)


@dataclass(frozen=True)
class PoolSettings:
    """The task arguments of the central function.

    Parameters
    ----------
    time_unit, min_patients, validation_date, min_cell
        Passed to every node (see :class:`SiteSettings`).
    seed, draws
        The Turnbull bootstrap's seed and draws (``toh pool --seed``, ``--bootstrap``).
    sites
        Organisation id -> site name; an organisation not named here takes its organisation
        name, which must then be a site name.
    organizations
        The organisation ids to ask; None: every organisation of the collaboration.

    Raises
    ------
    ConfigError
        A setting is not of the kind above.
    """

    time_unit: str = "day"
    min_patients: int = DEFAULT_MIN_PATIENTS
    seed: int = DEFAULT_SEED
    draws: int = DEFAULT_DRAWS
    sites: Mapping[str, str] | None = None
    organizations: tuple[int, ...] | None = None
    validation_date: str | None = None
    min_cell: int = DEFAULT_MIN_CELL

    def __post_init__(self) -> None:
        if self.time_unit not in TIME_UNITS:
            raise ConfigError(f"time_unit must be one of {', '.join(TIME_UNITS)}, not {self.time_unit!r}")
        _whole(self.min_patients, "min_patients", 1)
        _whole(self.min_cell, "min_cell", 0)
        _whole(self.draws, "draws", 0)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be a whole number, not {self.seed!r}")
        _day(self.validation_date)
        if self.sites is not None:
            if not isinstance(self.sites, Mapping):
                raise ConfigError("sites must map organisation ids to site names, e.g. {\"3\": \"north\"}")
            for key, name in self.sites.items():
                _organisation(key, "sites")
                if not site_name_ok(name):
                    raise ConfigError(f"sites: {name!r} (organisation {key}) is not a site name: use letters, "
                                      "digits, '_' and '-'")
            object.__setattr__(self, "sites", {str(_organisation(k, "sites")): v for k, v in self.sites.items()})
        if self.organizations is not None:
            if isinstance(self.organizations, (str, bytes)) or not hasattr(self.organizations, "__iter__"):
                raise ConfigError("organizations must be a list of organisation ids")
            ids = tuple(_organisation(i, "organizations") for i in self.organizations)
            if not ids:
                raise ConfigError("organizations is empty: name at least one organisation, or leave it out")
            object.__setattr__(self, "organizations", ids)

    def site_for(self, organisation: int, name: object) -> str:
        """The site name of ``organisation`` (called ``name`` on the server).

        Raises
        ------
        ConfigError
            Its name is no site name and ``sites`` does not give one.
        """
        given = (self.sites or {}).get(str(organisation))
        if given is not None:
            return given
        if site_name_ok(name):
            return str(name)
        raise ConfigError(f"organisation {organisation} is called {name!r}, which is not a site name: give its site "
                          f"name in the argument sites, e.g. {{\"{organisation}\": \"north\"}}")

    def node_arguments(self, site: str) -> dict[str, Any]:
        """The keyword arguments of one node's task."""
        return {"site": site, "time_unit": self.time_unit, "min_patients": self.min_patients,
                "validation_date": self.validation_date, "min_cell": self.min_cell}


def _organisation(value: object, argument: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"{argument}: {value!r} is not an organisation id (a whole number)") from None
    if number < 0 or isinstance(value, bool):
        raise ConfigError(f"{argument}: {value!r} is not an organisation id (a whole number)")
    return number


def node_error(message: str, failures: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A node's result that says why it shares nothing."""
    return {"format": RESULT_FORMAT, "format_version": RESULT_VERSION, "error": message, "failures": failures or []}


def _failure_counts(report: Any) -> list[dict[str, Any]]:
    """The number of validation errors per table, column and rule: no row, no value."""
    errors = report.errors
    counted = errors.groupby(["table", "column", "rule"], dropna=False, sort=True).size()
    return [{"table": str(t), "column": "" if c != c else str(c), "rule": str(r), "n": int(n)}
            for (t, c, r), n in counted.items()]


def node_result(export: str | Path, mapping: str | Path | None, settings: SiteSettings,
                config: Any = None) -> dict[str, Any]:
    """The site's bundle members as a JSON-ready result, or why there is none.

    Runs the pipeline of ``toh bundle`` (:func:`toh.analyses.pipeline.derive_export`, then
    :func:`toh.reports.sites.pool.site_bundle`), with the ``[analysis]`` strata, Cox covariates and
    strata and declared columns of ``config`` (a :class:`toh.reports.config.ReportConfig`, the
    node's configuration file; None: the defaults), and never raises: an error becomes
    :func:`node_error`'s result, whose message holds no row and no value of the data (an
    invalid export: counts of failures per table, column and rule; a small site: not its
    number of patients; an unforeseen error: its type only).  Warnings are not shown: their
    text would reach the node's log.
    """
    with warnings.catch_warnings():  # a warning's text goes to the node's log, which may be shared
        warnings.simplefilter("ignore")
        return _node_result(export, mapping, settings, config)


def _node_result(export: str | Path, mapping: str | Path | None, settings: SiteSettings,
                 config: Any) -> dict[str, Any]:
    from toh.analyses.pipeline import derive_export
    from toh.reports.sites.pool import site_bundle

    try:
        report, derived = derive_export(export, mapping, validation_date=settings.day,
                                        columns=() if config is None else config.columns)
    except InvalidDataError as exc:
        report = exc.report
        total = 0 if report is None else len(report.errors)
        return node_error(f"the node's export is invalid ({total:,} validation error(s)); run `toh validate` on it "
                          "at the site for every failure", [] if report is None else _failure_counts(report))
    except ConfigError as exc:
        return node_error(f"the node's export or mapping cannot be used: {exc}")
    except TohError:
        return node_error("a table of the node's export cannot be read; run `toh validate` on it at the site to "
                          "see why")
    except Exception as exc:  # a bug: its message might quote the data, so only its type leaves
        return node_error(f"internal error at the node ({type(exc).__name__}); run `toh bundle` on the export at "
                          "the site to see it")
    if len(derived.index) < settings.min_patients:
        return node_error(f"the site has fewer patients than the minimum of {settings.min_patients} (min_patients): "
                          "counts this small could identify patients, so nothing is shared")
    try:
        members = site_bundle(report, derived, settings.site, settings.time_unit, settings.min_patients,
                              None if config is None else config.analysis_options(), settings.min_cell)
    except TohError as exc:
        return node_error(str(exc))
    except Exception as exc:
        return node_error(f"internal error at the node ({type(exc).__name__}); run `toh bundle` on the export at "
                          "the site to see it")
    return {"format": RESULT_FORMAT, "format_version": RESULT_VERSION, "site": settings.site,
            "members": {name: data.decode("utf-8") for name, data in members.items()}}


def _members(result: object, where: str) -> tuple[str, dict[str, bytes]]:
    """The site and the member bytes of one node's result."""
    if not isinstance(result, Mapping) or result.get("format") != RESULT_FORMAT:
        raise ConfigError(f"{where} returned no toh bundle (another algorithm's result, or none)")
    if result.get("format_version") != RESULT_VERSION:
        raise ConfigError(f"{where} returned format version {result.get('format_version')!r}, and this toh-cohort "
                          f"reads version {RESULT_VERSION} only: run the same image at every node")
    if "error" in result:
        raise ConfigError(f"{where}: {result['error']}")
    site, members = result.get("site"), result.get("members")
    if not site_name_ok(site) or not isinstance(members, Mapping) \
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in members.items()):
        raise ConfigError(f"{where} returned a corrupt result (no site name or no members)")
    if any(Path(name).name != name or name.startswith(".") for name in members):
        raise ConfigError(f"{where} returned a corrupt result (a member name is a path)")
    return str(site), {name: text.encode("utf-8") for name, text in members.items()}


def pool_node_results(results: Mapping[str, object], draws: int = DEFAULT_DRAWS,
                      seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Pool the nodes' results exactly as ``toh pool`` pools the same bundles.

    Parameters
    ----------
    results
        Where each result came from (e.g. ``"organisation 3"``) -> the node's result.
    draws, seed
        The Turnbull bootstrap's draws and seed.

    Returns
    -------
    dict
        ``toh pool``'s ``results.json`` document, plus ``tables``: CSV name -> its text, and
        ``bundle_members``: site -> member name -> member text (:func:`write_node_bundles`).

    Raises
    ------
    ConfigError
        A node returned an error or a corrupt result, or ``toh pool`` refuses the bundles
        (duplicate site, different definitions, options or time unit, a changed byte).
    """
    from toh.reports.sites.bundle import write_bundle
    from toh.reports.sites.pool import pool_bundles, write_pool

    if not results:
        raise ConfigError("no node returned a result: there is nothing to pool")
    with tempfile.TemporaryDirectory(prefix="toh-pool-") as folder:
        root = Path(folder)
        paths, places, shared = [], {}, {}
        for number, (where, result) in enumerate(results.items()):
            site, members = _members(result, where)
            place = root / f"node-{number}"  # one folder each: two nodes may claim one site
            places[f"{place}/"] = f"{where}'s "
            paths.append(write_bundle(members, place / f"{site}.tohb"))
            shared[paths[-1]] = members
        try:
            pooled, bundles = pool_bundles(paths, draws, seed)
            written = write_pool(pooled, bundles, root / "pool")
        except TohError as exc:  # name the nodes, not the temporary folder
            message = str(exc)
            for place, where in places.items():
                message = message.replace(place, where)
            raise ConfigError(message) from None
        document = json.loads((root / "pool" / "results.json").read_text(encoding="utf-8"))
        document["tables"] = {path.name: path.read_text(encoding="utf-8") for path in written
                              if path.parent.name == "tables"}
        document["bundle_members"] = {b.site: {name: data.decode("utf-8") for name, data in shared[b.path].items()}
                                      for b in bundles}
    return document


def write_node_bundles(result: Mapping[str, Any], folder: str | Path) -> list[Path]:
    """Write the bundles a central result carries (``bundle_members``) as ``folder/<site>.tohb``:
    the files ``toh bundle`` writes at each site, for ``toh pool --report`` (same bundles, same
    ``--bootstrap`` and ``--seed`` as the central task: the same numbers).

    Raises
    ------
    ConfigError
        ``result`` carries no bundles (an error result, or another algorithm's), or a site name
        that is not one; an existing file that is not a bundle is not overwritten.
    """
    from toh.reports.sites.bundle import write_bundle

    members = result.get("bundle_members") if isinstance(result, Mapping) else None
    if not isinstance(members, Mapping) or not members:
        why = f": {result['error']}" if isinstance(result, Mapping) and "error" in result else ""
        raise ConfigError(f"the central result carries no bundles{why}")
    paths = []
    for site, texts in members.items():
        name, data = _members({"format": RESULT_FORMAT, "format_version": RESULT_VERSION, "site": site,
                               "members": texts}, f"the central result's site {site!r}")
        paths.append(write_bundle(data, Path(folder) / f"{name}.tohb"))
    return paths
