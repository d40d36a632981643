"""Imaging findings per modality: plain films, MRI, scintigraphy (and CT, which has no findings
in the contract), among the exams of index episodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toh.analyses._exact import clopper_pearson
from toh.analyses.result import AnalysisResult, clean_number, level_free, name_limits, records
from toh.cohort.derive import DerivedCohort
from toh.schemas.codes import EDEMA_EXTENT, MODALITIES, MRI_FINDINGS, NM_FINDINGS, XR_FINDINGS
from toh.schemas.text import isin, stable_order

__all__ = ["ImagingResult", "analyse_imaging", "FINDINGS_BY_MODALITY"]

#: The findings the contract records for each modality (joint_effusion is also read on MRI).
FINDINGS_BY_MODALITY: dict[str, tuple[str, ...]] = {
    "XR": XR_FINDINGS,
    "MRI": MRI_FINDINGS + ("joint_effusion",),
    "NM": NM_FINDINGS,
    "CT": (),
}


@dataclass(frozen=True)
class ImagingResult(AnalysisResult):
    """How often each finding was present, per modality."""

    findings: pd.DataFrame
    modalities: pd.DataFrame
    edema_extent: pd.DataFrame
    first_film: pd.DataFrame
    conf: float
    name: str = "imaging"
    not_estimable: Mapping[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"imaging_findings": self.findings, "imaging_modalities": self.modalities,
                "imaging_edema_extent": self.edema_extent, "imaging_first_film": self.first_film}

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        for row in records(level_free(self.findings)):  # keys are the column names without the CI level
            for key in ("recorded", "positive", "estimate", "lower", "upper"):
                out[f"imaging.{row['modality']}.{row['finding']}.{key}"] = clean_number(row[key])
        for row in self.first_film.itertuples():
            out[f"imaging.first_film.{row.status}"] = clean_number(row.n)
        return out


def _reasons(cohort: DerivedCohort, findings: pd.DataFrame) -> dict[str, str]:
    """Why a share cannot be given: no imaging table, no exam of a modality, a finding never recorded."""
    if "imaging" in cohort.absent:
        return {"imaging": "the export has no imaging table"}
    reasons: dict[str, str] = {}
    for row in findings.itertuples():
        if row.episodes == 0:
            reasons[f"imaging.{row.modality}"] = f"no {row.modality} examination of an index episode"
        elif row.recorded == 0:
            reasons[f"imaging.{row.modality}.{row.finding}"] = f"not recorded on any {row.modality} examination"
    if "imaging.XR" in reasons:
        reasons["imaging.first_film"] = "no plain film (XR) of an index episode"
    return reasons


def analyse_imaging(cohort: DerivedCohort) -> ImagingResult:
    """Tabulate findings on the exams of index episodes.

    The unit is the index episode: each episode's first examination of a modality (by day, then
    exam_id) stands for it, since repeat films of one patient are not independent observations.
    A finding's share is among the episodes whose first examination of that modality recorded it
    (true or false), with a Clopper-Pearson interval; ``episodes`` counts the index episodes with
    an examination of the modality.  ``modalities`` still counts every examination.  ``first_film`` gives the status of each index
    episode's first plain film (the literature: normal at first).
    """
    conf = cohort.definitions.confidence
    exams = cohort.imaging
    if len(exams):
        wanted = (cohort.index["index_episode_id"] if "index_episode_id" in cohort.index
                  else pd.Series([], dtype=object)).dropna()
        exams = exams[isin(exams["episode_id"], wanted)]  # in Arrow: pandas' isin on Arrow text is slow
        # sorted once, in Arrow (pandas' sort of Arrow text took 0.2-0.5 s at 100,000 patients):
        # an episode's rows are then contiguous, and its first examination of a modality is its
        # first row of that modality
        exams = exams.iloc[stable_order(exams, ["episode_id", "day", "exam_id"])]

    def column(name: str, dtype: type) -> np.ndarray:  # an absent table may lack the columns
        return exams[name].to_numpy(dtype) if len(exams) else np.array([], dtype)

    def at(name: str, positions: np.ndarray, dtype: str) -> pd.Series:
        return exams[name].iloc[positions] if len(exams) and name in exams.columns else pd.Series(dtype=dtype)

    episode, modality, days = column("episode_id", object), column("modality", object), column("day", float)
    new_episode = np.ones(len(exams), bool)
    new_episode[1:] = episode[1:] != episode[:-1]
    episode_code = np.cumsum(new_episode)
    firsts: dict[str, np.ndarray] = {}  # positions of each episode's first examination of a modality
    rows, modalities = [], []
    for name in MODALITIES:
        mine = np.flatnonzero(modality == name)
        code = episode_code[mine]
        leads = np.ones(len(mine), bool)
        leads[1:] = code[1:] != code[:-1]
        firsts[name] = mine[leads]
        quart = np.percentile(days[mine], [50, 25, 75]) if len(mine) else (np.nan,) * 3
        modalities.append((name, len(mine), len(firsts[name]), *quart))
        # one examination per episode, the first of the modality: repeat films of the same patient
        # are not independent observations, so a share with an exact interval counts episodes
        for finding in FINDINGS_BY_MODALITY[name]:
            values = at(finding, firsts[name], "boolean")
            recorded = int(values.notna().sum())
            positive = int(values.fillna(False).astype(bool).sum())
            rows.append((name, finding, len(firsts[name]), recorded, positive,
                         *clopper_pearson(positive, recorded, conf)))
    findings = name_limits(pd.DataFrame(rows, columns=["modality", "finding", "episodes", "recorded", "positive",
                                                       "estimate", "lower", "upper"]), conf)
    extent = at("edema_extent", np.flatnonzero(modality == "MRI"), "object")
    known = int(extent.notna().sum())
    edema = pd.DataFrame([(e, int((extent == e).sum()), (extent == e).sum() / known if known else np.nan)
                          for e in EDEMA_EXTENT] + [("not recorded", int(extent.isna().sum()), np.nan)],
                         columns=["extent", "n", "share_of_recorded"])
    films = at("film_status", firsts["XR"], "object")
    counts = films.astype(object).value_counts()
    first = pd.DataFrame([(s, int(counts.get(s, 0))) for s in ("normal", "abnormal", "indeterminate")],
                         columns=["status", "n"])
    return ImagingResult(
        not_estimable=_reasons(cohort, findings),
        findings=findings,
        modalities=pd.DataFrame(modalities, columns=["modality", "exams", "episodes", "median_days", "q1_days",
                                                     "q3_days"]),
        edema_extent=edema,
        first_film=first,
        conf=conf,
    )
