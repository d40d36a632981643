"""The site bundle (``.tohb``): what one site shares for a pooled analysis, and nothing else.

A bundle is a plain zip archive of JSON files (``docs/bundle.md``): ``manifest.json`` (format
version, toh-cohort version, site name, definitions and analysis options, time unit, validation
and attrition counts, the SHA-256 of every other member and a content hash over the manifest)
and one member per table of sufficient statistics (:class:`toh.analyses.aggregates.SiteAggregates`).
Each member is ``{"table": name, "columns": {column: [values...]}}``; an infinite upper end of an
interval is written as null.  No member holds a row, an identifier, a date or free text.

The hashes detect a bundle damaged or edited after it was written (integrity); they do not say
who wrote it (a bundle is not signed).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toh.cohort.errors import ConfigError
from toh.reports.config import DEFAULT_MIN_PATIENTS

__all__ = ["FORMAT", "FORMAT_VERSION", "DEFAULT_MIN_PATIENTS", "MEMBERS", "Bundle", "bundle_members",
           "write_bundle", "zip_bytes", "read_bundle", "is_bundle", "canonical_json", "content_hash"]

FORMAT, FORMAT_VERSION = "toh-bundle", 5
MANIFEST = "manifest.json"
#: member file -> (table of SiteAggregates, what it holds, its count columns)
MEMBERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "resolution_km.json": ("resolution_km", "time to resolution: resolutions and censorings per distinct time, "
                           "overall and per level of sex, pregnancy and treatment", ("n_event", "n_censor")),
    "recurrence_cif.json": ("recurrence_cif", "same-hip recurrence: patients censored, with a recurrence, and dying "
                            "first, per distinct time", ("censored", "event", "death")),
    "migration_cif.json": ("migration_cif", "migration: patients censored, with a migration, and dying first, per "
                           "distinct time", ("censored", "event", "death")),
    "radiographic_intervals.json": ("radiographic_intervals", "radiographic change: index episodes per distinct "
                                    "interval (lower, upper] in days (upper null: never abnormal)", ("n",)),
    "complications.json": ("complications", "fracture and AVN: events, index episodes and days at risk, overall "
                           "and by pregnancy association", ("events", "n")),
    "proportions.json": ("proportions", "demographic shares: x and n of each", ("x", "n")),
    "migration_sites.json": ("migration_sites", "where the first migration went: patients per joint", ("n",)),
    "recurrence_cif_strata.json": ("recurrence_cif_strata", "same-hip recurrence: patients censored, with a "
                                   "recurrence, and dying first, per distinct time within each level of sex, "
                                   "pregnancy and treatment", ("censored", "event", "death")),
    "migration_cif_strata.json": ("migration_cif_strata", "migration: patients censored, with a migration, and dying "
                                  "first, per distinct time within each level of sex, pregnancy and treatment",
                                  ("censored", "event", "death")),
    "cox_coefficients.json": ("cox_coefficients", "the site's Cox model of resolution: each term's log hazard ratio, "
                              "with the episodes and resolutions it was fitted on and the episodes in the two "
                              "groups it compares", ("n", "events", "n_group", "n_compared")),
    "cox_covariance.json": ("cox_covariance", "the covariance matrix of those coefficients", ()),
    "baseline.json": ("baseline", "Table 1: patients per level of each characteristic (age group, side, pregnancy "
                      "status, trimester, treatment, bilateral presentation, resolved), its denominator and missing, "
                      "overall and by sex; no median or quartile", ("n", "denominator", "missing")),
}
#: table -> (text columns, time columns in days, count columns, other finite numbers): what each
#: member must hold
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "resolution_km": (("variable", "stratum"), ("time",), ("n_event", "n_censor"), ()),
    "recurrence_cif": ((), ("time",), ("censored", "event", "death"), ()),
    "migration_cif": ((), ("time",), ("censored", "event", "death"), ()),
    "radiographic_intervals": ((), ("lower", "upper"), ("n",), ()),
    "complications": (("outcome", "stratum"), ("days",), ("events", "n"), ()),
    "proportions": (("quantity", "description", "method"), (), ("x", "n"), ()),
    "migration_sites": (("site",), (), ("n",), ()),
    "recurrence_cif_strata": (("variable", "stratum"), ("time",), ("censored", "event", "death"), ()),
    "migration_cif_strata": (("variable", "stratum"), ("time",), ("censored", "event", "death"), ()),
    "cox_coefficients": (("term", "variable", "reference"), (), ("n", "events", "n_group", "n_compared"), ("coef",)),
    "cox_covariance": (("term", "other"), (), (), ("covariance",)),
    "baseline": (("variable", "level", "kind", "stratum"), (), ("n", "denominator", "missing"), ()),
}
_SITE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # no ".": the name is a results-key segment
_RESERVED = ("logrank", "gray")  # results-key segments of the tests stratified by site
_MAX_MEMBER_BYTES = 256 << 20
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same counts give the same bytes


def canonical_json(value: Any) -> bytes:
    """``value`` as compact JSON with sorted keys (the bytes the hashes are taken of)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def content_hash(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest without its own ``content_hash`` (it covers the member hashes)."""
    return hashlib.sha256(canonical_json({k: v for k, v in manifest.items() if k != "content_hash"})).hexdigest()


def _cell(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def _member(name: str, frame: Any) -> bytes:
    columns = {c: [_cell(v) for v in frame[c].tolist()] for c in frame.columns}
    return json.dumps({"table": name, "columns": columns}, indent=1, allow_nan=False).encode("utf-8") + b"\n"


def bundle_members(aggregates: Any, site: str, *, manifest_facts: dict[str, Any], min_patients: int,
                   min_cell: int = 5) -> dict[str, bytes]:
    """The bytes of every member of a site's bundle, the manifest included.

    Parameters
    ----------
    aggregates
        The site's :class:`toh.analyses.aggregates.SiteAggregates`.
    site
        Site name: letters, digits, ``_`` and ``-``, at most 64 characters (a segment of the
        results key ``sites.<name>.patients``).
    manifest_facts
        toh_version, time_unit, unit_days, definitions, options, validation, attrition.
    min_patients
        Fewest patients a site may share aggregates of.
    min_cell
        The site's own small-cell rule (``[privacy] min_cell``): written in the manifest
        (``disclosure``), so that ``toh pool --report`` never shows counts below it.

    Raises
    ------
    ConfigError
        A bad site name, or fewer patients than ``min_patients``.
    """
    if not _SITE.fullmatch(site):
        raise ConfigError(f"--site {site!r} is not a site name: use letters, digits, '_' and '-' (at most 64 "
                          "characters, starting with a letter or digit)")
    if site.lower() in _RESERVED:
        raise ConfigError(f"--site {site!r} is reserved (results.json has sites.logrank.* and sites.gray.* for the "
                          "tests stratified by site): choose another site name")
    if aggregates.patients < min_patients:
        raise ConfigError(f"the site has {aggregates.patients} patient(s), fewer than the minimum of {min_patients} "
                          "(--min-patients): counts this small could identify patients, so no bundle is written")
    tables = aggregates.tables()
    members = {name: _member(table, tables[table]) for name, (table, _, _) in MEMBERS.items()}
    manifest: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "site": site, "patients": int(aggregates.patients),
        "absent": sorted(aggregates.absent), "withheld_treatment_levels": int(aggregates.withheld_levels),
        **manifest_facts, "disclosure": {"min_cell": int(min_cell), "min_patients": int(min_patients)},
        "members": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(members.items())},
    }
    manifest = json.loads(canonical_json(manifest))  # plain JSON values only (tuples become lists)
    manifest["content_hash"] = content_hash(manifest)
    return {MANIFEST: json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8") + b"\n", **members}


def is_bundle(path: Path) -> bool:
    """Whether ``path`` is a readable zip whose manifest names this format (any version)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(MANIFEST)).get("format") == FORMAT
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, AttributeError):
        return False


def write_bundle(members: dict[str, bytes], path: str | Path, inputs: tuple[Path | None, ...] = ()) -> Path:
    """Write ``members`` as a zip at ``path`` through a temporary file and one atomic rename.

    An existing file is replaced only when it is a toh bundle; the bundle may not lie inside an
    input (the export).
    """
    from toh.cohort.outputs import output_file

    path = Path(path)
    if path.exists() and not path.is_dir() and not is_bundle(path):
        raise ConfigError(f"{path} exists and is not a toh bundle; it is left untouched: choose another --out file")
    with output_file(path, inputs=inputs, own_header="PK") as temporary:
        Path(temporary).write_bytes(zip_bytes(members))
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """The bundle file of ``members``, in their order: a zip whose members are stored (not
    compressed, so the bytes do not depend on the zlib of the machine) with a fixed time, so the
    same members give the same bytes anywhere, and :func:`read_bundle` can refuse a file with
    any byte changed, in a member or in the zip's own headers."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class Bundle:
    """A bundle read back and checked: its manifest and its aggregates."""

    path: Path
    manifest: dict[str, Any]
    aggregates: Any  # SiteAggregates

    @property
    def site(self) -> str:
        """The site's name."""
        return str(self.manifest["site"])

    @property
    def min_cell(self) -> int:
        """The site's own small-cell rule (``disclosure.min_cell`` of the manifest)."""
        return int(self.manifest["disclosure"]["min_cell"])

    def __repr__(self) -> str:
        return f"<Bundle {self.path.name}: site {self.site}, {self.aggregates.patients} patients>"


def _refuse(path: Path, why: str) -> ConfigError:
    return ConfigError(f"bundle {path}: {why}; it was not pooled")


def _read_members(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            big = [i.filename for i in infos if i.file_size > _MAX_MEMBER_BYTES]
            if big:
                raise _refuse(path, f"member {big[0]} is larger than any bundle member can be")
            return {info.filename: archive.read(info) for info in infos}
    except FileNotFoundError:
        raise ConfigError(f"bundle {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"bundle {path} is a folder, not a .tohb file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise _refuse(path, f"it is corrupt or not a toh bundle (not a readable zip archive: {exc})") from None


def read_bundle(path: str | Path) -> Bundle:
    """Read and check one bundle: a zip with the manifest and every member, the format version,
    the content hash and each member's SHA-256, then the tables.

    Raises
    ------
    ConfigError
        Corrupt (not a zip, a member missing or unreadable), tampered (a hash differs, an
        unexpected member), or of another format version.
    """
    from toh.analyses.aggregates import SiteAggregates

    path = Path(path)
    members = _read_members(path)
    if MANIFEST not in members:
        raise _refuse(path, f"it is corrupt or not a toh bundle (no {MANIFEST})")
    try:
        manifest = json.loads(members[MANIFEST])
        kind, version = manifest["format"], manifest["format_version"]
    except (ValueError, KeyError, TypeError):
        raise _refuse(path, f"its {MANIFEST} is corrupt (not the JSON of a bundle manifest)") from None
    if kind != FORMAT:
        raise _refuse(path, f"it is not a toh bundle (format {kind!r})")
    if version != FORMAT_VERSION:
        raise _refuse(path, f"it has format version {version!r}, and this toh-cohort reads version {FORMAT_VERSION} "
                            "only: make every bundle with the same toh-cohort release")
    if manifest.get("content_hash") != content_hash(manifest):
        raise _refuse(path, f"it was changed after it was written ({MANIFEST} does not match its content hash)")
    listed = manifest.get("members", {})
    missing = sorted(set(MEMBERS) - set(members))
    if missing:
        raise _refuse(path, f"it is corrupt: member {missing[0]} is missing")
    extra = sorted(set(members) - set(MEMBERS) - {MANIFEST})
    if extra or set(listed) != set(MEMBERS):
        raise _refuse(path, f"it was changed after it was written (unexpected member {(extra or sorted(listed))[0]})")
    for name in MEMBERS:
        if hashlib.sha256(members[name]).hexdigest() != listed[name]:
            raise _refuse(path, f"it was changed after it was written (SHA-256 of {name} does not match the manifest)")
    try:
        _check_disclosure(manifest.get("disclosure"))
        tables = {table: _frame(members[name], table) for name, (table, _, _) in MEMBERS.items()}
        aggregates = SiteAggregates(
            survival=tables["resolution_km"], recurrence=tables["recurrence_cif"], migration=tables["migration_cif"],
            intervals=tables["radiographic_intervals"], complications=tables["complications"],
            proportions=tables["proportions"], migration_sites=tables["migration_sites"],
            patients=int(manifest["patients"]), absent=frozenset(manifest["absent"]),
            withheld_levels=int(manifest["withheld_treatment_levels"]),
            recurrence_strata=tables["recurrence_cif_strata"], migration_strata=tables["migration_cif_strata"],
            cox=tables["cox_coefficients"], cox_covariance=tables["cox_covariance"], baseline=tables["baseline"])
        terms = list(aggregates.cox["term"])
        if sorted(zip(aggregates.cox_covariance["term"], aggregates.cox_covariance["other"])) != \
                sorted((a, b) for a in terms for b in terms) or len(set(terms)) != len(terms):
            raise ValueError("cox_covariance does not hold one value per pair of the Cox terms")
    except (ValueError, KeyError, TypeError) as exc:
        raise _refuse(path, f"it is corrupt ({type(exc).__name__}: {exc})") from None
    if path.read_bytes() != zip_bytes(members):  # a byte changed outside the members (the zip's own headers)
        raise _refuse(path, "it was changed after it was written (its bytes are not those toh writes for its "
                            "members)")
    return Bundle(path, manifest, aggregates)


def _check_disclosure(value: Any) -> None:
    """The manifest's ``disclosure``: whole numbers min_cell >= 0 and min_patients >= 1."""
    if not isinstance(value, dict) or set(value) != {"min_cell", "min_patients"}:
        raise ValueError("its manifest has no disclosure settings (min_cell, min_patients)")
    for key, least in (("min_cell", 0), ("min_patients", 1)):
        if type(value[key]) is not int or value[key] < least:
            raise ValueError(f"disclosure.{key} of its manifest is not a whole number of at least {least}")


def _frame(data: bytes, table: str) -> Any:
    """One member as a DataFrame, after checking its columns: text where text belongs, finite
    times >= 0 (an upper end may be null: infinite), whole counts >= 0."""
    import numpy as np
    import pandas as pd

    document = json.loads(data)
    if document.get("table") != table:
        raise ValueError(f"member holds table {document.get('table')!r}, not {table!r}")
    text, times, counts, reals = _COLUMNS[table]
    columns = document["columns"]
    if set(columns) != {*text, *times, *counts, *reals}:
        raise ValueError(f"{table} has the columns {sorted(columns)}, not {sorted({*text, *times, *counts, *reals})}")
    arrays: dict[str, Any] = {}
    for name in text:
        if not set(map(type, columns[name])) <= {str}:
            raise ValueError(f"{table}.{name} holds a value that is not text")
        arrays[name] = columns[name]
    for name in (*reals, *times, *counts):  # type(v), not isinstance: a JSON true is no number
        found = set(map(type, columns[name]))
        if not found <= ({int, float, type(None)} if name == "upper" else {int, float}):
            raise ValueError(f"{table}.{name} holds a value that is not a number")
        values = np.array(columns[name], dtype=float)
        if name == "upper":  # null upper end: never abnormal
            values = np.where(np.isnan(values), math.inf, values)
        if name in reals:
            if not np.all(np.isfinite(values)):
                raise ValueError(f"{table}.{name} holds a value that is not a finite number")
        elif np.any(np.isnan(values)) or np.any(values < 0) or (name != "upper" and not np.all(np.isfinite(values))):
            raise ValueError(f"{table}.{name} holds a missing, negative or infinite value")
        if name in counts and np.any(values != np.floor(values)):
            raise ValueError(f"{table}.{name} holds a count that is not a whole number")
        arrays[name] = values.astype(np.int64) if found == {int} and name not in reals else values
    frame = pd.DataFrame({name: arrays[name] for name in columns})
    if table == "complications":
        from toh.analyses.complications import GROUPS, OUTCOMES

        if sorted(zip(frame["outcome"], frame["stratum"])) != sorted((o, g) for o in OUTCOMES for g in GROUPS):
            raise ValueError("complications does not hold one row per outcome and stratum")
    return frame
