"""The report of a pool of sites (``toh pool --report``), section by section.

The sections of the single-registry report that the pooled numbers support are written by the
same section builders (:mod:`toh.reports.document._sections_analyses`, :mod:`toh.reports.document._sections_resolution`)
from :func:`pooled_view`, the face of a :class:`toh.analyses.aggregates.PooledAnalysis` those
builders read; a section that needs rows the bundles do not carry says "Not pooled: <why>".
The sites section (:mod:`toh.reports.document._sections_sites`) shows the patients per site, each site's
estimates, the random-effects meta-analyses and a forest plot per estimand.  As in
:func:`toh.reports.document.build_document`, the document is written twice: the first pass
declares every audited count, :func:`toh.reports.document.disclosure.protect` audits them, the second
hides what the audit says to hide.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toh.reports.document._writer import ReportDocument, Section, Writer
from toh.reports.document.disclosure import Protection, protect
from toh.reports.figures.names import FIGURE_NEEDS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from toh.analyses.aggregates import PooledAnalysis
    from toh.reports.sites.bundle import Bundle

__all__ = ["PooledView", "pooled_view", "pool_reasons", "build_pool_document", "NOT_POOLED", "POOLED_WORDS"]

#: What a section of the single-registry report that the bundles cannot support says instead.
NOT_POOLED = "Not pooled: "


@dataclass(frozen=True)
class _Demographics:
    """The pooled shares; no ages (the bundles carry none), so no age histogram."""

    proportions: pd.DataFrame
    age_distribution: pd.DataFrame


@dataclass(frozen=True)
class PooledView:
    """A :class:`toh.analyses.aggregates.PooledAnalysis` as the section builders of the
    single-registry report read a :class:`toh.analyses.run.CohortAnalysis`: the pooled results,
    a resolution result without Cox model (its log-rank tests stratified by site), Gray's tests
    stratified by site, the claims checked on the pooled numbers, and no ages."""

    demographics: _Demographics
    radiographic: Any
    resolution: Any
    recurrence: Any
    migration: Any
    complications: Any
    claims: Any
    baseline: Any
    definitions: Any
    options: Any
    not_estimable: Mapping[str, str]
    results: Mapping[str, Any]

    def headline(self) -> dict[str, Any]:
        """The pooled headline numbers (``results`` of the pool's results.json)."""
        return dict(self.results)

    def reason(self, *keys: str) -> str:
        """Why none of the estimates under ``keys`` can be made ('' when one can)."""
        from toh.analyses.result import reason_for

        found = [reason_for(key, self.not_estimable) for key in keys]
        return "" if not all(found) else "; ".join(dict.fromkeys(found))


def pool_reasons(results: Mapping[str, Any]) -> dict[str, str]:
    """Key prefix -> why its estimates cannot be made, from the ``<prefix>.not_estimable``
    entries of a pool's headline."""
    tail = ".not_estimable"
    return {k[: -len(tail)]: str(v) for k, v in results.items() if k.endswith(tail)}


def pooled_view(pooled: PooledAnalysis) -> PooledView:
    """The face of ``pooled`` that the single-registry section builders read."""
    import pandas as pd

    from toh.analyses.baseline import BASELINE_COLUMNS, BaselineResult
    from toh.analyses.resolution import ResolutionResult

    results = pooled.headline()
    res = pooled.resolution
    resolution = ResolutionResult(
        medians=res["medians"], landmarks=res["landmarks"], rmst=res["rmst"], curves=res["curves"],
        logrank=pooled.logrank, cox=pd.DataFrame(), ph_test=pd.DataFrame(), excluded=pd.DataFrame(),
        cox_stratified=pd.DataFrame(), options=pooled.options.resolution, conf=pooled.definitions.confidence)
    gray = pooled.gray

    def by_site(result: Any, outcome: str) -> Any:
        return dataclasses.replace(result, gray=gray[gray["outcome"] == outcome].reset_index(drop=True))

    return PooledView(
        demographics=_Demographics(pooled.demographics["proportions"],
                                   pd.DataFrame({"stratum": pd.Series(dtype=str), "n": pd.Series(dtype=int)})),
        radiographic=pooled.radiographic, resolution=resolution,
        recurrence=by_site(pooled.recurrence, "recurrence"), migration=by_site(pooled.migration, "migration"),
        complications=pooled.complications, claims=pooled.claims(),
        baseline=BaselineResult(pooled.baseline.assign(median=float("nan"), q1=float("nan"), q3=float("nan"))
                                [BASELINE_COLUMNS]),
        definitions=pooled.definitions, options=pooled.options, not_estimable=pool_reasons(results),
        results=results)


def _estimable(section: Section, view: PooledView) -> Section:
    """``section``, or its reason alone when none of its figures' estimates can be made."""
    needs = [need for f in section.figures for need in FIGURE_NEEDS.get(f.name, ())]
    reason = view.reason(*needs) if needs else ""
    return section if not reason else Section(section.id, section.title, ((f"Not estimable: {reason}.",),))


def _with(section: Section, *paragraphs: str, captions: Mapping[str, str] | None = None,
          drop: Sequence[str] = ()) -> Section:
    """``section`` with ``paragraphs`` added, tables renamed by ``captions`` and ``drop`` left out."""
    captions = captions or {}
    tables = tuple(dataclasses.replace(t, caption=captions.get(t.name, t.caption)) for t in section.tables
                   if t.name not in drop)
    return dataclasses.replace(section, paragraphs=(*section.paragraphs, *((p,) for p in paragraphs)),
                               tables=tables)


#: The single-registry builders' words for the cohort -> the pool's (tests/reports/test_pool_report.py
#: checks that each is still found, and that the pooled report speaks of no registry of its own).
POOLED_WORDS = (
    ("Against the registry's ", "Against the pooled cohort's "),
    ("consistent with this registry (", "consistent with the pooled cohort ("),
    ("beside the registry's estimate", "beside the pooled estimate"),
    ("registry quantity", "pooled quantity"),
    ("not assessable from this export: ", "not assessable from the bundles: "),
    ("when the export lacks the data the estimate needs", "when the bundles lack the data the estimate needs"),
    ("The cohort has ", "The pooled cohort has "),
)


def _reworded(text: str) -> str:
    for single, pooled in POOLED_WORDS:
        text = text.replace(single, pooled)
    return text


def _pooled_words(section: Section) -> Section:
    """``section`` (written by a single-registry builder) speaking of the pooled cohort, not of a registry."""
    def text(fragments: Any) -> Any:
        return tuple(_reworded(f) if isinstance(f, str) else f for f in fragments)

    tables = tuple(dataclasses.replace(t, caption=_reworded(t.caption), note=_reworded(t.note),
                                       columns=tuple(_reworded(c) for c in t.columns))
                   for t in section.tables)
    figures = tuple(dataclasses.replace(f, caption=_reworded(f.caption), alt=_reworded(f.alt))
                    for f in section.figures)
    return dataclasses.replace(section, paragraphs=tuple(text(p) for p in section.paragraphs), tables=tables,
                               figures=figures)


def _not_pooled(section_id: str, title: str, why: str) -> Section:
    return Section(section_id, title, ((NOT_POOLED + why,),))


def build_pool_document(pooled: PooledAnalysis, bundles: Sequence[Bundle], min_cell: int,
                        title: str = "Transient osteoporosis of the hip: pooled analysis of several sites",
                        settings: Mapping[str, Any] | None = None) -> ReportDocument:
    """The pooled report, section by section.

    Parameters
    ----------
    pooled
        :func:`toh.reports.sites.pool.pool_bundles`'s pooled analysis.
    bundles
        The bundles pooled (site names, manifests: validation counts, versions, hashes).
    min_cell
        Smallest count of people shown (the small-cell rule and audit of the single report).
    title
        Title of the report.
    settings
        Settings stated in the manifest section (bootstrap draws, seed, time unit).

    Returns
    -------
    ReportDocument
    """
    from toh.reports.document._sections_analyses import complications_section, demographics_section, \
        radiographic_section, recurrence_migration_section
    from toh.reports.document._sections_data import cohort_section
    from toh.reports.document._sections_methods import claims_section
    from toh.reports.document._sections_resolution import resolution_section
    from toh.reports.document._sections_sites import pool_attrition_section, pool_data_section, pool_manifest_section, \
        pool_methods_section, sites_section

    view = pooled_view(pooled)
    rows = "the bundles carry counts, never rows"

    def sections(w: Writer) -> tuple[Section, ...]:
        return tuple(_pooled_words(s) for s in body(w))

    def body(w: Writer) -> tuple[Section, ...]:
        return (
            pool_data_section(bundles, w),
            sites_section(pooled, bundles, w),
            pool_attrition_section(bundles, w, pooled.definitions.index_joint),
            _with(cohort_section(view.baseline, w, ages=False), NOT_POOLED + "the medians [IQR] of age at onset "
                  "and of follow-up: the bundles carry counts, no individual values, so Table 1 shows the sites' "
                  "counts added up."),
            _with(demographics_section(view, w), NOT_POOLED + "ages at onset (their distribution by sex and the age "
                  "histogram): the bundles carry only the count of men aged 40 to 55, no age."),
            _estimable(radiographic_section(view, w), view),
            _with(resolution_section(view, w), NOT_POOLED + "the Cox model of resolution over all patients: it "
                  f"needs each patient's covariates and {rows}; the sites' own hazard ratios are meta-analysed in "
                  "the sites section.",
                  captions={"resolution_logrank": "Log-rank tests stratified by site (each site its own baseline)"}),
            _with(recurrence_migration_section(view, w),
                  captions={"gray_tests": "Gray's test of equal cumulative incidence across groups, stratified "
                                          "by site"}),
            _estimable(complications_section(view, w), view),
            _not_pooled("imaging", "Imaging findings", f"the findings of each examination are rows, and {rows}"),
            claims_section(view, w),
            pool_methods_section(pooled, bundles, min_cell),
            pool_manifest_section(bundles, settings or {}),
        )

    def writer(protection: Protection | None = None) -> Writer:
        return Writer(view.results, min_cell, pooled.definitions.confidence, view.not_estimable, protection)

    first = writer()
    sections(first)
    protection = protect(list(first.cells.values()), first.relations, min_cell)
    w = writer(protection)
    written = sections(w)
    patients = sum(b.aggregates.patients for b in bundles)
    subtitle = (f"{patients:,} patients from {len(bundles)} sites ({', '.join(b.site for b in bundles)}); "
                f"toh pool of bundles made with toh-cohort {bundles[0].manifest['toh_version']}")
    implied = tuple((c.key, c.value) for c in w.cells.values() if not c.published)
    return ReportDocument(title, subtitle, written, min_cell, tuple(w.relations), implied, protection)

