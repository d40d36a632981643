"""What every analysis result shares: tidy tables, headline numbers and readable display."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

__all__ = ["AnalysisResult", "SummaryDisplay", "ci_columns", "name_limits", "level_free", "records", "clean_number",
           "blank_not_estimable", "reason_for", "NOT_ESTIMABLE"]

#: Last segment of the results key that holds the reason an estimate is not estimable.
NOT_ESTIMABLE = "not_estimable"


def reason_for(key: str, reasons: Mapping[str, str]) -> str:
    """Why the estimate under ``key`` cannot be made ('' when it can): a reason recorded for the
    key itself or for a prefix of it (whole segments)."""
    for prefix, reason in reasons.items():
        if key == prefix or key.startswith(prefix + "."):
            return reason
    return ""


def blank_not_estimable(headline: Mapping[str, Any], reasons: Mapping[str, str]) -> dict[str, Any]:
    """``headline`` with every key under a not-estimable prefix set to None, plus
    ``<prefix>.not_estimable`` holding the reason.

    Missing data is never evidence: a count of events in a table the export does not have is not
    zero, so it is not kept as one.  A prefix is a whole key segment path (``complications.avn``
    blanks ``complications.avn.all.events``, not ``complications.avn_x``).
    """
    out = dict(headline)
    for prefix, reason in reasons.items():
        for key in out:
            if key == prefix or key.startswith(prefix + "."):
                out[key] = None
        out[f"{prefix}.{NOT_ESTIMABLE}"] = reason
    return out


def clean_number(value: Any) -> float | int | str | None:
    """A JSON-friendly scalar: NaN/inf become None, numpy scalars plain Python (full precision)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool,)):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number) or math.isinf(number):
        return None
    if float(number).is_integer() and not isinstance(value, float) and abs(number) < 2**53:
        return int(number)
    return number


def ci_columns(conf_level: float) -> tuple[str, str]:
    """Names of the lower and upper confidence-limit columns at ``conf_level``: ``lower_95`` and
    ``upper_95`` at 0.95, ``lower_90`` at 0.9, ``lower_97.5`` at 0.975."""
    level = f"{round(conf_level * 100, 10):g}"
    return f"lower_{level}", f"upper_{level}"


_LIMIT = re.compile(r"(^|_)(lower|upper)(?=_|$)")


def name_limits(frame: pd.DataFrame, conf_level: float) -> pd.DataFrame:
    """``frame`` with its confidence limits named by the level (README, "Result tables"):
    ``lower`` -> ``lower_95``, ``upper_days`` -> ``upper_95_days``,
    ``rate_lower_per_100py`` -> ``rate_lower_95_per_100py`` at 0.95.

    The analyses build their tables with level-free names and name them here, once, so a
    column never says 95 of an interval at another level.
    """
    level = ci_columns(conf_level)[0][len("lower_"):]
    return frame.rename(columns={c: _LIMIT.sub(rf"\1\2_{level}", c) for c in frame.columns
                                 if isinstance(c, str) and _LIMIT.search(c)})


_LEVELLED = re.compile(r"(^|_)(lower|upper)_[0-9.]+(?=_|$)")


def level_free(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the level taken out of its limits' names (``lower_95_days`` -> ``lower_days``):
    the inverse of :func:`name_limits`, for code that reads a table whose level it states
    elsewhere (a report's header says "95% CI" once)."""
    return frame.rename(columns={c: _LEVELLED.sub(r"\1\2", c) for c in frame.columns
                                 if isinstance(c, str) and _LEVELLED.search(c)})


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts (column names as keys, whatever characters they hold: a
    ``lower_97.5`` column is no attribute of an ``itertuples`` row)."""
    return frame.to_dict("records")


class SummaryDisplay:
    """Mixin: a notebook shows a result whose ``summary`` property is a DataFrame as that table."""

    def _repr_html_(self) -> str:
        summary: pd.DataFrame = getattr(self, "summary")
        return f"<p><b>{type(self).__name__}</b></p>" + summary.to_html(index=False, max_rows=20)


class AnalysisResult:
    """Mixin for the frozen result dataclasses of :mod:`analyses`.

    Subclasses set ``name`` and implement :meth:`tables` (tidy frames with fixed columns, written
    as CSV by ``toh analyze``) and :meth:`headline` (the numbers a sentence needs, under stable
    keys, written to results.json).  The first table is the summary shown by ``repr``.
    """

    name: str = "analysis"
    #: results-key prefix -> why the estimates under it cannot be made (subclasses set a field).
    not_estimable: Mapping[str, str] = MappingProxyType({})

    def tables(self) -> dict[str, pd.DataFrame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def headline(self) -> dict[str, float | int | str | None]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def summary(self) -> pd.DataFrame:
        """The main table of the result."""
        return next(iter(self.tables().values()))

    def __repr__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return f"<{type(self).__name__}: {self.name}>\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p><b>{type(self).__name__}</b>: {self.name}</p>" + self.summary.to_html(index=False)
