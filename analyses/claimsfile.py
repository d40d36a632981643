"""The claims file: published statements about TOH as data, read and checked once.

The package ships one file, ``claims.toml`` (package data of ``toh.analyses``); a user's own file
(``--claims FILE``, ``[analysis] claims`` of the report configuration, or
``AnalysisOptions(claims=...)``) adds claims and replaces those with the same id.  The format
is described in the README ("The claims file") and in the shipped file itself.  Every mistake
is a :class:`toh.cohort.errors.ConfigError` (exit code 2) naming the file, the claim and the
field.  Whether each results key exists is checked against the run's results
(:func:`toh.analyses.claims.check_claims`), since the keys depend on the analysis options.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toh.cohort.errors import ConfigError
from toh.cohort.tomlfile import read_toml

__all__ = ["CLAIMS_FORMAT_VERSION", "RULE_KINDS", "Rule", "Citation", "Claim", "ClaimSet", "load_claims",
           "bundled_claims_path"]

#: The version of the claims-file format this package reads (the file's ``version``).
CLAIMS_FORMAT_VERSION = 1
#: rule kind -> the fields it requires (``direction`` is "above" or "below").
RULE_KINDS: dict[str, tuple[str, ...]] = {
    "point": ("value",),
    "range": ("low", "high"),
    "threshold": ("direction", "value"),
    "equivalence": ("value", "margin"),
    "at_least_one_event": ("events",),
    "no_events": ("events",),
}
_CLAIM_FIELDS = {"id", "text", "source", "quantity", "estimate", "lower", "upper", "unit", "scale", "digits",
                 "rule", "counts", "note"}
_REQUIRED = ("id", "text", "source", "quantity", "estimate", "lower", "upper", "unit", "rule")
_SOURCE_FIELDS = {"authors", "title", "container", "year", "volume", "pages", "doi", "url", "short", "note"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_KEY = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$")


@dataclass(frozen=True)
class Rule:
    """How a claim is judged against the registry's interval (see :func:`toh.analyses.claims.verdict`).

    ``value``, ``low``, ``high`` and ``margin`` are on the claim's scale; ``events`` is the
    results key of an event count (event kinds only).
    """

    kind: str
    value: float = math.nan
    low: float = math.nan
    high: float = math.nan
    margin: float = math.nan
    direction: str = ""
    events: str = ""


@dataclass(frozen=True)
class Citation:
    """A published source, as the claims file gives it."""

    id: str
    title: str
    container: str
    year: str
    authors: tuple[str, ...] = ()
    volume: str = ""
    pages: str = ""
    doi: str = ""
    url: str = ""
    short: str = ""
    note: str = ""

    def short_text(self) -> str:
        """"Asadipooya et al. 2017"; the site or book when there are no authors."""
        if self.short:
            return self.short
        if not self.authors:
            return self.container
        first = self.authors[0].split()[0]
        return f"{first}{' et al.' if len(self.authors) > 1 else ''} {self.year}"

    def full_text(self) -> str:
        """The full reference: authors. Title. Container. Year;volume:pages. doi / URL."""
        parts = [", ".join(self.authors) + "." if self.authors else "", f"{self.title}.", f"{self.container}."]
        where = self.year + (f";{self.volume}" if self.volume else "") + (f":{self.pages}" if self.pages else "")
        parts.append(where if where.endswith(".") else where + ".")
        if self.doi:
            parts.append(f"doi:{self.doi}")
        if self.url:
            parts.append(self.url)
        if self.note:
            parts.append(f"({self.note})")
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Claim:
    """One published statement and how the registry is checked against it.

    ``estimate``, ``lower`` and ``upper`` are results.json keys; the registry's numbers are
    multiplied by ``scale`` onto the claim's scale (``unit``: "share" is a fraction shown in %,
    "ratio" is drawn on a log axis, anything else is a label such as "months").  ``counts`` are
    (numerator, denominator) key pairs whose small counts would be revealed by the estimate.
    """

    id: str
    text: str
    source: Citation
    quantity: str
    estimate: str
    lower: str
    upper: str
    unit: str
    rule: Rule
    scale: float = 1.0
    digits: int = 2
    counts: tuple[tuple[str, str], ...] = ()
    note: str = ""
    file: str = ""

    def keys(self) -> dict[str, str]:
        """field -> results key, for every results key the claim names."""
        out = {"estimate": self.estimate, "lower": self.lower, "upper": self.upper}
        if self.rule.events:
            out["rule.events"] = self.rule.events
        for i, (x, n) in enumerate(self.counts):
            out[f"counts[{i}][0]"], out[f"counts[{i}][1]"] = x, n
        return out


@dataclass(frozen=True)
class ClaimSet:
    """The claims of a run, in order, with the files they came from and their SHA-256."""

    claims: tuple[Claim, ...]
    files: tuple[tuple[str, str], ...]

    def by_id(self, claim_id: str) -> Claim:
        """The claim with this id (KeyError when there is none)."""
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        raise KeyError(claim_id)


def bundled_claims_path() -> Path:
    """The claims file shipped with the package."""
    from importlib.resources import files

    return Path(str(files("toh.analyses") / "claims.toml"))


def _fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}")


def _text(raw: Mapping[str, Any], key: str, path: Path, where: str, required: bool = True) -> str:
    if key not in raw:
        if required:
            raise _fail(path, where, f"field {key!r} is missing")
        return ""
    value = raw[key]
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(path, where, f"field {key!r} must be a non-empty text, got {value!r}")
    return value.strip()


def _number(raw: Mapping[str, Any], key: str, path: Path, where: str) -> float:
    value = raw.get(key)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9.]+\s*/\s*[0-9.]+\s*", value):
        num, den = (float(v) for v in value.split("/"))
        value = num / den if den else math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise _fail(path, where, f"field {key!r} must be a finite number (or a fraction such as \"12/365.25\"), "
                                 f"got {value!r}")
    return float(value)


def _key(value: Any, path: Path, where: str, field: str) -> str:
    if not isinstance(value, str) or not _KEY.match(value):
        raise _fail(path, where, f"field {field!r} must be a results key such as "
                                 f"'demographics.sex_ratio.ratio', got {value!r}")
    return value


def _rule(raw: Any, path: Path, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise _fail(path, where, f"field 'rule' must be a table such as {{ kind = \"point\", value = 3 }}, got {raw!r}")
    kind = raw.get("kind")
    if kind not in RULE_KINDS:
        raise _fail(path, where, f"field 'rule.kind' must be one of {', '.join(RULE_KINDS)}; got {kind!r}")
    allowed = {"kind", *RULE_KINDS[kind]}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise _fail(path, where, f"field 'rule.{extra[0]}' is not used by a {kind} rule (it takes "
                                 f"{', '.join(RULE_KINDS[kind])})")
    for name in RULE_KINDS[kind]:
        if name not in raw:
            raise _fail(path, where, f"field 'rule.{name}' is missing (a {kind} rule needs "
                                     f"{', '.join(RULE_KINDS[kind])})")
    if kind in ("at_least_one_event", "no_events"):
        return Rule(kind, events=_key(raw["events"], path, where, "rule.events"))
    values = {name: _number(raw, name, path, f"{where}, field 'rule'") for name in RULE_KINDS[kind]
              if name != "direction"}
    if kind == "range" and not values["low"] < values["high"]:
        raise _fail(path, where, f"field 'rule.low' must be below 'rule.high'; got low = {values['low']:g}, "
                                 f"high = {values['high']:g}")
    if kind == "equivalence" and not values["margin"] > 0:
        raise _fail(path, where, f"field 'rule.margin' must be above 0, got {values['margin']:g}")
    if kind == "threshold":
        direction = raw["direction"]
        if direction not in ("above", "below"):
            raise _fail(path, where, f"field 'rule.direction' must be 'above' or 'below', got {direction!r}")
        return Rule(kind, value=values["value"], direction=direction)
    return Rule(kind, **values)


def _citation(source_id: str, raw: Any, path: Path) -> Citation:
    where = f"source {source_id!r}"
    if not isinstance(raw, Mapping):
        raise _fail(path, where, "must be a table")
    extra = sorted(set(raw) - _SOURCE_FIELDS)
    if extra:
        raise _fail(path, where, f"field {extra[0]!r} is unknown; fields are {', '.join(sorted(_SOURCE_FIELDS))}")
    authors = raw.get("authors", [])
    if not isinstance(authors, list) or not all(isinstance(a, str) and a.strip() for a in authors):
        raise _fail(path, where, f"field 'authors' must be a list of names, got {authors!r}")
    year = raw.get("year")
    if isinstance(year, bool) or not isinstance(year, (int, str)) or not str(year).strip():
        raise _fail(path, where, f"field 'year' must be a year (or \"n.d.\" for an undated web page), got {year!r}")
    text = {k: _text(raw, k, path, where, required=k in ("title", "container"))
            for k in ("title", "container", "volume", "pages", "doi", "url", "short", "note")}
    return Citation(source_id, year=str(year), authors=tuple(a.strip() for a in authors), **text)


def _claim(raw: Any, number: int, sources: Mapping[str, Citation], path: Path) -> Claim:
    if not isinstance(raw, Mapping):
        raise _fail(path, f"claim number {number}", "must be a table ([[claims]])")
    claim_id = raw.get("id")
    if not isinstance(claim_id, str) or not _ID.match(claim_id):
        raise _fail(path, f"claim number {number}", f"field 'id' must be a lower-case name such as 'sex_ratio', "
                                                     f"got {claim_id!r}")
    where = f"claim {claim_id!r}"
    extra = sorted(set(raw) - _CLAIM_FIELDS)
    if extra:
        raise _fail(path, where, f"field {extra[0]!r} is unknown; fields are {', '.join(sorted(_CLAIM_FIELDS))}")
    for name in _REQUIRED:
        if name not in raw:
            raise _fail(path, where, f"field {name!r} is missing")
    source = _text(raw, "source", path, where)
    if source not in sources:
        raise _fail(path, where, f"field 'source' names {source!r}, which is not among the [sources] "
                                 f"({', '.join(sorted(sources)) or 'none'})")
    counts = raw.get("counts", [])
    if not isinstance(counts, list) or not all(isinstance(c, list) and len(c) == 2 for c in counts):
        raise _fail(path, where, f"field 'counts' must be a list of [numerator key, denominator key] pairs, "
                                 f"got {counts!r}")
    digits = raw.get("digits", 2)
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 6:
        raise _fail(path, where, f"field 'digits' must be a whole number from 0 to 6, got {digits!r}")
    scale = _number(raw, "scale", path, where) if "scale" in raw else 1.0
    if not scale > 0:
        raise _fail(path, where, f"field 'scale' must be above 0, got {scale:g}")
    return Claim(
        id=claim_id, text=_text(raw, "text", path, where), source=sources[source],
        quantity=_text(raw, "quantity", path, where),
        estimate=_key(raw["estimate"], path, where, "estimate"), lower=_key(raw["lower"], path, where, "lower"),
        upper=_key(raw["upper"], path, where, "upper"), unit=_text(raw, "unit", path, where),
        rule=_rule(raw["rule"], path, where), scale=scale, digits=digits,
        counts=tuple((_key(x, path, where, f"counts[{i}][0]"), _key(n, path, where, f"counts[{i}][1]"))
                     for i, (x, n) in enumerate(counts)),
        note=_text(raw, "note", path, where, required=False), file=str(path))


def _read(path: Path, known: Mapping[str, Citation]) -> tuple[list[Claim], dict[str, Citation]]:
    raw = read_toml(path, "claims file")
    extra = sorted(set(raw) - {"version", "sources", "claims"})
    if extra:
        raise ConfigError(f"{path}: unknown top-level key {extra[0]!r}; the keys are version, sources and claims")
    version = raw.get("version")
    if version != CLAIMS_FORMAT_VERSION:
        raise ConfigError(f"{path}: field 'version' must be {CLAIMS_FORMAT_VERSION} (the claims-file format this "
                          f"toh-cohort reads), got {version!r}")
    body = raw.get("sources", {})
    if not isinstance(body, Mapping):
        raise ConfigError(f"{path}: [sources] must be a table of [sources.<id>] tables")
    sources = {**known, **{sid: _citation(sid, value, path) for sid, value in body.items()}}
    items = raw.get("claims", [])
    if not isinstance(items, list):
        raise ConfigError(f"{path}: 'claims' must be an array of [[claims]] tables")
    claims = [_claim(item, i + 1, sources, path) for i, item in enumerate(items)]
    seen: set[str] = set()
    for claim in claims:
        if claim.id in seen:
            raise ConfigError(f"{path}: claim {claim.id!r}: field 'id' is used twice in this file")
        seen.add(claim.id)
    return claims, sources


def load_claims(extra: str | Path | None = None) -> ClaimSet:
    """The package's claims, with those of ``extra`` added (a claim with an existing id replaces it,
    in place; new ones follow in the file's order).

    Parameters
    ----------
    extra
        A claims file of the same format, or None.  Its claims may cite the bundled sources by
        id; a source it defines under a bundled id is the one its own claims cite (the bundled
        claims keep their sources).

    Returns
    -------
    ClaimSet

    Raises
    ------
    ConfigError
        A missing or malformed file: the message names the file, the claim and the field.
    """
    import hashlib

    paths = [bundled_claims_path()] + ([Path(extra)] if extra is not None else [])
    claims: dict[str, Claim] = {}
    sources: dict[str, Citation] = {}
    files = []
    for path in paths:
        found, sources = _read(path, sources)
        for claim in found:
            claims[claim.id] = claim
        files.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    return ClaimSet(tuple(claims.values()), tuple(files))
