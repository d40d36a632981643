"""toh-cohort as a vantage6 algorithm (``pip install "toh-cohort[vantage6]"``).

The image runs this module through vantage6's wrapper (``PKG_NAME=toh.reports.sites.vantage6_algorithm``,
docker/vantage6/Dockerfile). Two methods:

``partial_bundle`` (at each node)
    Reads the node's registry export, validates and derives it, and returns the site's bundle
    members (:func:`toh.reports.sites.federated.node_result`): the bytes ``toh bundle`` would write,
    aggregates only; an invalid export returns counts of failures per rule instead.
``central_pool`` (at the node of the organisation that created the task)
    Creates one ``partial_bundle`` task per organisation of the collaboration, waits for them and
    pools their results with ``toh pool``'s code (:func:`toh.reports.sites.federated.pool_node_results`).

How a node hands over its export: a database of ``type: folder`` in the node configuration,
whose ``uri`` is the export folder (the CSV or Parquet files of the four tables, and optionally
``toh-mapping.toml``); the node mounts it at ``/mnt/<label>`` and names it in
``<LABEL>_DATABASE_URI``. A workbook export (``type: excel``) works too. The mapping may be
named otherwise with the database's ``env: {mapping: FILE}`` (a file inside the folder). The
site's report configuration (``toh bundle --config``: ``[analysis]``, ``[bundle]``, ``[privacy]
min_cell``) is read from ``toh-config.toml`` in the folder, or the file ``env: {config: FILE}``
names (:class:`NodeLimits`). The task's first database label is used. vantage6's ``@data``
decorator is not used: it reads one table into one DataFrame, and an export is four tables.

With vantage6's ``MockAlgorithmClient``, give each organisation one dataset whose ``database``
is :func:`node_database` of its export (the mock client hands it to ``partial_bundle`` as it
hands a DataFrame to a ``@data`` function).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from vantage6.algorithm.tools.decorators import algorithm_client
except ImportError as exc:  # pragma: no cover - the extra is part of the test install
    raise ImportError("toh.reports.sites.vantage6_algorithm needs vantage6's algorithm tools: "
                      "pip install \"toh-cohort[vantage6]\"") from exc

from toh.cohort.errors import ConfigError
from toh.reports.sites.bundle import DEFAULT_MIN_PATIENTS
from toh.reports.sites.federated import (CONFIG_FILE, DEFAULT_DRAWS, DEFAULT_MIN_CELL, DEFAULT_SEED, MAPPING_FILE, TIME_UNITS,
                                   PoolSettings, SiteSettings, node_error, node_result, pool_node_results)

__all__ = ["partial_bundle", "central_pool", "node_database", "NodeLimits", "PARTIAL_METHOD"]

PARTIAL_METHOD = "partial_bundle"
_NO_RESULT = ("no result: the node refused the task (its policies) or the run failed; the node's administrator "
              "sees why in the node's log")
#: database types whose URI can be an export (a folder, or a workbook)
_EXPORT_TYPES = ("folder", "excel", "other")


def node_database(uri: str | Path, mapping: str | None = None, type: str = "folder",  # noqa: A002
                  min_patients: int | None = None, time_unit: str | None = None, min_cell: int | None = None,
                  config: str | None = None) -> Any:
    """A node configuration's database entry as the one-row DataFrame a ``MockAlgorithmClient``
    dataset holds (``{"database": node_database(folder)}``): its ``uri`` and ``type``, and the
    ``env`` settings ``mapping``, ``min_patients``, ``time_unit``, ``min_cell`` and ``config``
    (:class:`NodeLimits`)."""
    import pandas as pd

    return pd.DataFrame({"uri": [str(uri)], "type": [type], "mapping": [mapping],
                         "min_patients": [None if min_patients is None else str(min_patients)],
                         "time_unit": [time_unit], "min_cell": [None if min_cell is None else str(min_cell)],
                         "config": [config]})


@dataclass(frozen=True)
class NodeLimits:
    """What a node administrator may impose, whatever the task asks (the ``env`` of the node's
    database entry: ``min_patients``, ``time_unit`` and ``min_cell``).

    Parameters
    ----------
    min_patients
        The node's own minimum number of patients; a task asking for less gets this one.
    time_unit
        The finest time unit the node shares (``week``: week or month only); a task asking for
        a finer one is refused (every site of a pool must use the same unit).
    min_cell
        The node's own small-cell rule; a task asking for less gets this one (it is written in
        the bundle, and the pooled report never uses a smaller one).
    config
        The node's report configuration (``env: {config: FILE}``, a file inside the export's
        folder, or ``toh-config.toml`` there; the file of ``toh bundle --config``): its
        ``[analysis]`` strata, covariates, cox_strata and columns shape the bundle, and its
        ``[bundle] min_patients``, ``[privacy] min_cell`` and ``[bundle] time_unit`` are floors
        like the three above.

    Raises
    ------
    ConfigError
        A limit that is not of the kind above.
    """

    min_patients: int | str | None = None
    time_unit: str | None = None
    min_cell: int | str | None = None
    config: Any = None

    def __post_init__(self) -> None:
        for name, least in (("min_patients", 1), ("min_cell", 0)):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                number = int(str(value))
            except ValueError:
                number = -1
            if number < least:
                raise ConfigError(f"the node's {name} ({value!r}) is not a whole number of at least {least}: its "
                                  "administrator must correct the node configuration")
            object.__setattr__(self, name, number)
        if self.time_unit is not None and self.time_unit not in TIME_UNITS:
            raise ConfigError(f"the node's time_unit ({self.time_unit!r}) is not one of {', '.join(TIME_UNITS)}: "
                              "its administrator must correct the node configuration")

    def apply(self, settings: SiteSettings) -> SiteSettings:
        """``settings`` within the limits: the larger minimum; a finer time unit refused.

        Raises
        ------
        ConfigError
            The task asks for a finer time unit than the node shares.
        """
        units = [u for u in (self.time_unit, None if self.config is None else self.config.time_unit) if u]
        coarsest = max(units, key=TIME_UNITS.index, default=None)
        if coarsest is not None and TIME_UNITS.index(settings.time_unit) < TIME_UNITS.index(coarsest):
            raise ConfigError(f"this node shares counts per {coarsest} or coarser only; the task asked per "
                              f"{settings.time_unit}: run the pool with time_unit {coarsest!r}")
        for name in ("min_patients", "min_cell"):
            floors = [int(v) for v in (getattr(self, name), getattr(self.config, name, None)) if v is not None]
            if floors and max(floors) > getattr(settings, name):
                settings = dataclasses.replace(settings, **{name: max(floors)})
        return settings


def _from_environment() -> tuple[str, str, str | None, NodeLimits, str | None]:
    """The first requested database's URI, type, mapping, the node's limits and configuration
    file, as the node sets them (the wrapper has decoded the variables)."""
    labels = [x for x in os.environ.get("USER_REQUESTED_DATABASE_LABELS", "").split(",") if x]
    if not labels:
        raise ConfigError("the task names no database: create it with the label of the node's toh export")
    label = labels[0].upper()
    uri = os.environ.get(f"{label}_DATABASE_URI")
    if not uri:
        raise ConfigError(f"the node has no database labelled {labels[0]!r}")
    limits = NodeLimits(os.environ.get(f"{label}_DB_PARAM_MIN_PATIENTS"), os.environ.get(f"{label}_DB_PARAM_TIME_UNIT"),
                        os.environ.get(f"{label}_DB_PARAM_MIN_CELL"))
    return (uri, os.environ.get(f"{label}_DATABASE_TYPE", "folder"), os.environ.get(f"{label}_DB_PARAM_MAPPING"),
            limits, os.environ.get(f"{label}_DB_PARAM_CONFIG"))


def _inside(folder: Path, name: str, what: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ConfigError(f"the database's {what} {name!r} is not inside the export's folder")
    return path


def _node_config(export: Path, name: str | None) -> Any:
    """The node's report configuration (``env: {config: FILE}`` or ``toh-config.toml`` in the
    export's folder), read and checked; None without one."""
    from toh.reports.config import load_report_config

    folder = export if export.is_dir() else export.parent
    path = _inside(folder, name, "config") if name else folder / CONFIG_FILE
    if not name and not (export.is_dir() and path.is_file()):
        return None
    try:
        return load_report_config(path)
    except ConfigError as exc:
        raise ConfigError(f"the node's configuration cannot be used: {exc}") from None


def _export(uri: str, kind: str, mapping: str | None) -> tuple[Path, Path | None]:
    """The export and its mapping file (inside the export's folder)."""
    if str(kind).lower() not in _EXPORT_TYPES:
        raise ConfigError(f"the node's database is of type {kind!r}; a toh export is a folder (type: folder) or a "
                          "workbook (type: excel)")
    export = Path(uri)
    folder = export if export.is_dir() else export.parent
    if mapping:
        return export, _inside(folder, mapping, "mapping")
    default = folder / MAPPING_FILE
    return export, (default if export.is_dir() and default.is_file() else None)


def _node_export(func: Callable[..., Any]) -> Callable[..., Any]:
    """Hand ``func`` the node's export (path, mapping) before its task arguments; with
    ``mock_data`` (a ``MockAlgorithmClient``), the first DataFrame's ``uri``, ``type`` and
    ``mapping``."""

    @functools.wraps(func)
    def wrapper(*args: Any, mock_data: list[Any] | None = None, **kwargs: Any) -> Any:
        try:
            if mock_data is not None:
                row = {k: (v if isinstance(v, str) else None) for k, v in mock_data[0].iloc[0].items()}
                uri, kind, mapping = str(row["uri"]), row.get("type") or "folder", row.get("mapping")
                config = row.get("config")
                limits = NodeLimits(row.get("min_patients"), row.get("time_unit"), row.get("min_cell"))
            else:
                uri, kind, mapping, limits, config = _from_environment()
            export, mapping_file = _export(uri, kind, mapping)
            limits = dataclasses.replace(limits, config=_node_config(export, config))
            inspect.signature(func).bind(export, mapping_file, limits, *args, **kwargs)
        except ConfigError as exc:
            return node_error(str(exc))
        except TypeError as exc:  # the task's arguments do not fit
            return node_error(f"{func.__name__}: {exc}")
        return func(export, mapping_file, limits, *args, **kwargs)

    wrapper.wrapped_in_data_decorator = True  # type: ignore[attr-defined]  # the mock client's hook
    return wrapper


@_node_export
def partial_bundle(export: Path, mapping: Path | None, limits: NodeLimits, site: str, time_unit: str = "day",
                   min_patients: int = DEFAULT_MIN_PATIENTS, validation_date: str | None = None,
                   min_cell: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """The node's step: its site's bundle members (see :func:`toh.reports.sites.federated.node_result`).

    Parameters
    ----------
    export, mapping, limits
        Given by the node (its database entry), not by the task.
    site, time_unit, min_patients, validation_date
        As ``toh bundle --site --time-unit --min-patients --validation-date``; the node's
        limits may raise ``min_patients`` and refuse a finer ``time_unit``.
    min_cell
        The site's small-cell rule written in its bundle (``[privacy] min_cell`` of ``toh
        bundle --config``); the node's limit may raise it.
    """
    try:
        settings = limits.apply(SiteSettings(site, time_unit, min_patients, validation_date, min_cell))
    except ConfigError as exc:
        return node_error(str(exc))
    return node_result(export, mapping, settings, limits.config)


def _organisations(client: Any, settings: PoolSettings) -> dict[int, str]:
    """Organisation id -> site name, for every organisation asked."""
    known = {int(o["id"]): o.get("name") for o in client.organization.list()}
    wanted = settings.organizations or tuple(sorted(known))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise ConfigError(f"organizations: {unknown[0]} is not an organisation of this collaboration")
    unused = sorted(set((settings.sites or {})) - {str(i) for i in wanted})
    if unused:
        raise ConfigError(f"sites: organisation {unused[0]} is not among the organisations asked")
    return {i: settings.site_for(i, known[i]) for i in wanted}


@algorithm_client
def central_pool(client: Any, time_unit: str = "day", min_patients: int = DEFAULT_MIN_PATIENTS,
                 seed: int = DEFAULT_SEED, draws: int = DEFAULT_DRAWS, sites: dict[str, str] | None = None,
                 organizations: list[int] | None = None, validation_date: str | None = None,
                 min_cell: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """The central step: a ``partial_bundle`` task per organisation, then ``toh pool`` of the results.

    Parameters
    ----------
    client
        vantage6's algorithm client (given by the decorator).
    time_unit, min_patients, validation_date
        Passed to every node.
    seed, draws
        As ``toh pool --seed --bootstrap``.
    sites
        Organisation id -> site name (default: each organisation's name).
    organizations
        Organisation ids to ask (default: every organisation of the collaboration).
    min_cell
        The small-cell rule each node writes in its bundle (a node's own may be larger).

    Returns
    -------
    dict
        ``toh pool``'s ``results.json`` document plus ``tables`` (CSV name -> text) and
        ``bundle_members`` (the nodes' bundles, for ``toh pool --report``:
        :func:`toh.reports.sites.federated.write_node_bundles`); or
        ``{"error": ..., "nodes": {site: message}}`` when a setting is wrong, a node could not
        make its bundle, or the bundles cannot be pooled together.
    """
    try:
        settings = PoolSettings(time_unit, min_patients, seed, draws, sites,
                                None if organizations is None else tuple(organizations), validation_date, min_cell)
        asked = _organisations(client, settings)
    except ConfigError as exc:
        return {"error": str(exc), "nodes": {}}
    tasks = {}
    for organisation, site in asked.items():
        task = client.task.create(input_={"method": PARTIAL_METHOD, "kwargs": settings.node_arguments(site)},
                                  organizations=[organisation], name=f"toh bundle {site}",
                                  description=f"toh-cohort: the bundle of site {site} (aggregates only)")
        tasks[organisation] = task["id"]
    results: dict[str, Any] = {}
    for organisation, task_id in tasks.items():
        returned = client.wait_for_results(task_id)
        results[f"organisation {organisation} ({asked[organisation]})"] = returned[0] if returned else None
    failed = {where: result["error"] if isinstance(result, dict) and "error" in result else _NO_RESULT
              for where, result in results.items() if result is None or isinstance(result, dict) and "error" in result}
    if failed:
        return {"error": f"{len(failed)} of {len(results)} node(s) shared no bundle, so nothing was pooled",
                "nodes": failed, "failures": {where: (results[where] or {}).get("failures", []) for where in failed}}
    try:
        return pool_node_results(results, settings.draws, settings.seed)
    except ConfigError as exc:
        return {"error": str(exc), "nodes": {}}
