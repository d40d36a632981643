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
    index_ids = set(cohort.index["index_episode_id"]) if "index_episode_id" in cohort.index else set()
    exams = cohort.imaging
    # isin on Python objects: pandas' isin on Arrow text builds one Arrow scalar per wanted id
    # (1.1 s for the 100,000 ids of a large registry); a hash lookup of objects takes 0.05 s
    exams = exams[exams["episode_id"].astype(object).isin(index_ids)] if len(exams) else exams
    # sorted once (a subset keeps the order): an episode's first examination of a modality is
    # its first row of that modality (four sorts of Arrow text cost 0.35 s at 100,000 patients)
    exams = exams.sort_values(["episode_id", "day", "exam_id"]) if len(exams) else exams
    rows, modalities = [], []
    for modality in MODALITIES:
        mine = exams[exams["modality"] == modality] if len(exams) else exams
        days = mine["day"].to_numpy(float) if len(mine) else np.array([])
        quart = np.percentile(days, [50, 25, 75]) if len(days) else (np.nan,) * 3
        modalities.append((modality, len(mine), int(mine["episode_id"].nunique()) if len(mine) else 0, *quart))
        # one examination per episode, the first of the modality: repeat films of the same patient
        # are not independent observations, so a share with an exact interval counts episodes
        mine = mine.drop_duplicates("episode_id") if len(mine) else mine
        for finding in FINDINGS_BY_MODALITY[modality]:
            values = mine[finding] if finding in mine.columns else pd.Series(dtype="boolean")
            recorded = int(values.notna().sum())
            positive = int(values.fillna(False).astype(bool).sum())
            rows.append((modality, finding, len(mine), recorded, positive, *clopper_pearson(positive, recorded, conf)))
    findings = name_limits(pd.DataFrame(rows, columns=["modality", "finding", "episodes", "recorded", "positive",
                                                       "estimate", "lower", "upper"]), conf)
    mri = exams[exams["modality"] == "MRI"] if len(exams) else exams
    extent = mri["edema_extent"] if "edema_extent" in mri.columns else pd.Series(dtype=object)
    known = int(extent.notna().sum())
    edema = pd.DataFrame([(e, int((extent == e).sum()), (extent == e).sum() / known if known else np.nan)
                          for e in EDEMA_EXTENT] + [("not recorded", int(extent.isna().sum()), np.nan)],
                         columns=["extent", "n", "share_of_recorded"])
    films = exams[exams["modality"] == "XR"] if len(exams) else exams
    if len(films):
        films = films.drop_duplicates("episode_id")
        counts = films["film_status"].astype(object).value_counts()
    else:
        counts = pd.Series(dtype=int)
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
