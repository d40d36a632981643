"""The seeded synthetic registry generator (cohort.simulate).

Reproducibility, the export contract (columns, dtypes, CSV form, pandera models, cross-table rules
checked directly with pandas) and calibration against the parameters on 20,000 patients.

Calibration tolerances are stated in binomial standard errors, SE = sqrt(p (1 - p) / n), of the
proportion at the expected n.  Each is about 4-6 SE: wide enough that a change of seed or of draw
order does not fail them, narrow enough that a wrong parameter (e.g. a share off by a quarter)
does.  The seeds are fixed, so the tests are deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special

from budget import examples
from toh.cohort.simulate import (
    DEMO_N_PATIENTS,
    DEMO_SEED,
    SimulatedRegistry,
    SimulationParameters,
    make_demo,
    simulate_registry,
    write_registry,
)
from toh.schemas.context import validating_on
from toh.schemas.codes import BOOLEAN_FINDINGS, EVENT_TYPES, MRI_FINDINGS, NM_FINDINGS, TABLES, XR_FINDINGS
from toh.schemas.episodes import EpisodesSchema
from toh.schemas.events import EventsSchema
from toh.schemas.imaging import ImagingSchema
from toh.schemas.patients import PatientsSchema

COLUMNS = {
    "patients": ["patient_id", "sex", "birth_date", "birth_year", "death_date", "site"],
    "episodes": ["episode_id", "patient_id", "joint", "side", "onset_date", "diagnosis_date",
                 "pregnancy", "trimester", "treatment", "resolution_date", "last_followup_date"],
    "imaging": ["exam_id", "episode_id", "exam_date", "modality", *XR_FINDINGS, *MRI_FINDINGS,
                "edema_extent", *NM_FINDINGS],
    "events": ["event_id", "episode_id", "event_date", "event_type"],
}
ID_PREFIX = {"patients": "patient_id", "episodes": "episode_id", "imaging": "exam_id",
             "events": "event_id"}


@pytest.fixture(scope="module")
def small() -> SimulatedRegistry:
    return simulate_registry(500, seed=11)


@pytest.fixture(scope="module")
def big() -> SimulatedRegistry:
    return simulate_registry(20_000, seed=12345)


def cross_table_violations(reg: SimulatedRegistry) -> list[str]:
    """Every docs/contract.md validation rule (and the generator's own promises), checked with pandas."""
    pa, ep, im, ev = reg.patients, reg.episodes, reg.imaging, reg.events
    export = pd.Timestamp(reg.parameters.export_date)
    bad: list[str] = []

    def check(name: str, ok: pd.Series | bool) -> None:
        if not bool(np.all(ok)):
            bad.append(name)

    for table, df in reg.tables().items():
        ids = df[ID_PREFIX[table]]
        check(f"{table}: ids unique", ids.is_unique)
        check(f"{table}: rows sorted by id", ids.is_monotonic_increasing)
        check(f"{table}: id form", ids.str.fullmatch(r"[PEXV]\d{7,}"))
        for column in df.columns:
            if column.endswith("_date"):
                check(f"{table}.{column}: not after export", df[column].isna() | (df[column] <= export))
    check("episodes: patient exists", ep["patient_id"].isin(pa["patient_id"]))
    check("imaging: episode exists", im["episode_id"].isin(ep["episode_id"]))
    check("events: episode exists", ev["episode_id"].isin(ep["episode_id"]))

    person = pa.set_index("patient_id")
    sex = ep["patient_id"].map(person["sex"])
    for column in ("diagnosis_date", "resolution_date", "last_followup_date"):
        check(f"{column} not before onset", ep[column].isna() | (ep[column] >= ep["onset_date"]))
    for column in ("diagnosis_date", "resolution_date"):
        check(f"{column} not after last follow-up",
              ep[column].isna() | (ep[column] <= ep["last_followup_date"]))
    death = ep["patient_id"].map(person["death_date"])
    check("death not before onset", death.isna() | (death >= ep["onset_date"]))
    check("dead: last follow-up is the death date", death.isna() | (death == ep["last_followup_date"]))
    july = pd.to_datetime(pa["birth_year"].astype("int64").astype(str) + "-07-01")
    birth = pa["birth_date"].fillna(july).set_axis(pa["patient_id"])
    age = (ep["onset_date"] - ep["patient_id"].map(birth)).dt.days / 365.25
    check("age at onset 10-110", age.between(10, 110))
    check("birth before onset", ep["patient_id"].map(birth) < ep["onset_date"])
    check("birth_year always given", pa["birth_year"].notna())
    check("birth_year is the year of birth_date",
          pa["birth_date"].isna() | (pa["birth_date"].dt.year == pa["birth_year"]))
    check("pregnancy women only", ep["pregnancy"].isna() | (sex == "F"))
    check("pregnancy given for women", ep["pregnancy"].notna() | (sex == "M"))
    check("trimester only when pregnant", ep["trimester"].isna() | (ep["pregnancy"] == "pregnant"))
    check("trimester given when pregnant", ep["trimester"].notna() | (ep["pregnancy"] != "pregnant"))
    check("hip episodes have a side", (ep["joint"] != "hip") | ep["side"].notna())
    check("one end of contact per patient", ep.groupby("patient_id")["last_followup_date"].nunique() == 1)
    check("every patient has episodes", pa["patient_id"].isin(ep["patient_id"]))
    first = ep.drop_duplicates("patient_id", keep="first")
    check("first episode is the index hip", first["joint"] == "hip")

    window = ep.set_index("episode_id")[["onset_date", "last_followup_date"]]
    exam = window.reindex(im["episode_id"]).set_axis(im.index)
    check("exam in episode window", im["exam_date"].between(exam["onset_date"], exam["last_followup_date"]))
    when = window.reindex(ev["episode_id"]).set_axis(ev.index)
    ev_death = ev["episode_id"].map(ep.set_index("episode_id")["patient_id"]).map(person["death_date"])
    in_window = ev["event_date"].between(when["onset_date"], when["last_followup_date"])
    check("event in episode window", in_window | ((ev["event_type"] == "death")
                                                  & (ev["event_date"] == ev_death)))
    deaths = ev[ev["event_type"] == "death"]
    dead_patient = deaths["episode_id"].map(ep.set_index("episode_id")["patient_id"])
    check("one death event per dead patient",
          sorted(dead_patient) == sorted(pa.loc[pa["death_date"].notna(), "patient_id"]))
    check("death event on the death date", deaths["event_date"].to_numpy() == ev_death[deaths.index].to_numpy())
    latest = ep.drop_duplicates("patient_id", keep="last")["episode_id"]
    check("death event on the latest episode", deaths["episode_id"].isin(latest))
    check("event types", ev["event_type"].isin(EVENT_TYPES))

    for modality, own in (("XR", XR_FINDINGS), ("MRI", MRI_FINDINGS + ("edema_extent",)),
                          ("NM", NM_FINDINGS), ("CT", ())):
        rows = im[im["modality"] == modality]
        for column in BOOLEAN_FINDINGS + ("edema_extent",):
            if column not in own:
                check(f"{column} empty on {modality}", rows[column].isna())
    mri_joint = im.loc[im["modality"] == "MRI", "episode_id"].map(ep.set_index("episode_id")["joint"])
    check("edema_extent only for hips", im.loc[mri_joint.index, "edema_extent"].isna() | (mri_joint == "hip"))
    return bad


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_same_frames_and_same_bytes(tmp_path: Path) -> None:
    one, two = simulate_registry(300, seed=5), simulate_registry(300, seed=5)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(one, table), getattr(two, table))
    assert one.truth == two.truth
    for fmt in ("csv", "parquet"):
        first = write_registry(one, tmp_path / f"a-{fmt}", fmt)
        second = write_registry(two, tmp_path / f"b-{fmt}", fmt)
        assert [p.name for p in first] == [p.name for p in second]
        for a, b in zip(first, second):
            assert a.read_bytes() == b.read_bytes(), a.name


def test_different_seed_differs() -> None:
    one, two = simulate_registry(300, seed=5), simulate_registry(300, seed=6)
    for table in ("patients", "episodes", "imaging"):
        assert not getattr(one, table).equals(getattr(two, table))


def test_parameters_change_the_output_and_round_trip() -> None:
    params = SimulationParameters(share_men=1.0, bilateral_share=0.0)
    reg = simulate_registry(200, seed=1, parameters=params)
    assert (reg.patients["sex"] == "M").all() and reg.episodes["pregnancy"].isna().all()
    assert SimulationParameters.from_dict(json.loads(json.dumps(params.to_dict()))) == params
    with pytest.raises(ValueError, match="sum to 1"):
        SimulationParameters(treatment_other_share=0.5)
    with pytest.raises(ValueError, match="n_patients"):
        simulate_registry(-1, seed=1)


def test_no_patients_gives_empty_tables_of_the_right_form() -> None:
    reg = simulate_registry(0, seed=1)
    for table in TABLES:
        df = getattr(reg, table)
        assert df.empty and list(df.columns) == COLUMNS[table]


# ----------------------------------------------------------------------------- the contract


def test_columns_and_dtypes(small: SimulatedRegistry) -> None:
    for table in TABLES:
        df = getattr(small, table)
        assert list(df.columns) == COLUMNS[table]
        assert isinstance(df.index, pd.RangeIndex) and df.index.start == 0
        for column in df.columns:
            dtype = df[column].dtype
            if column.endswith("_date"):
                assert dtype == "datetime64[ns]", column
            elif column in BOOLEAN_FINDINGS:
                assert isinstance(dtype, pd.BooleanDtype), column
            elif column in ("trimester", "birth_year"):
                assert isinstance(dtype, pd.Int64Dtype), column
            else:
                assert dtype == object, column
    assert small.patients["patient_id"].iloc[0] == "P0000001"
    assert small.episodes["episode_id"].iloc[0] == "E0000001"


def test_tables_pass_their_pandera_models(big: SimulatedRegistry) -> None:
    models = {"patients": PatientsSchema, "episodes": EpisodesSchema,
              "imaging": ImagingSchema, "events": EventsSchema}
    with validating_on(big.parameters.export_date):
        for table, model in models.items():
            df = getattr(big, table)
            df_with_index = df.set_axis(pd.RangeIndex(2, len(df) + 2))  # source row: CSV line
            model.validate(df_with_index, lazy=True)


def test_cross_table_rules(big: SimulatedRegistry) -> None:
    assert cross_table_violations(big) == []


def test_the_project_validator_accepts_the_written_export(small: SimulatedRegistry,
                                                          tmp_path: Path) -> None:
    from toh.cohort.validate import validate_export

    write_registry(small, tmp_path)
    report = validate_export(tmp_path, validation_date=small.parameters.export_date)
    assert report.is_valid, report.failures.head(20).to_string()
    assert report.failures.empty  # no warnings either (no extra columns)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(min_value=1, max_value=30), seed=st.integers(min_value=0, max_value=2**63))
def test_property_small_registries_satisfy_the_rules(n: int, seed: int) -> None:
    reg = simulate_registry(n, seed)
    assert len(reg.patients) == n
    assert cross_table_violations(reg) == []


def test_csv_form(small: SimulatedRegistry, tmp_path: Path) -> None:
    paths = write_registry(small, tmp_path)
    assert paths == sorted([tmp_path / f"{t}.csv" for t in TABLES] + [tmp_path / "truth.json"])
    raw = {t: pd.read_csv(tmp_path / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES}
    for table in TABLES:
        assert list(raw[table].columns) == COLUMNS[table]
        assert len(raw[table]) == len(getattr(small, table))
        for column in COLUMNS[table]:
            values = raw[table][column]
            if column.endswith("_date"):
                assert values.str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all(), column
                assert ((values == "") == getattr(small, table)[column].isna().to_numpy()).all()
            if column in BOOLEAN_FINDINGS:
                assert set(values) <= {"true", "false", ""}, column
    assert set(raw["episodes"]["trimester"]) <= {"", "1", "2", "3"}
    assert (tmp_path / "patients.csv").read_bytes().count(b"\r") == 0
    back = pd.read_csv(tmp_path / "episodes.csv", parse_dates=["onset_date", "last_followup_date"])
    pd.testing.assert_series_equal(back["onset_date"], small.episodes["onset_date"])


def test_truth_json(small: SimulatedRegistry, tmp_path: Path) -> None:
    write_registry(small, tmp_path)
    text = (tmp_path / "truth.json").read_text()
    truth = json.loads(text)
    assert truth == small.truth
    assert json.dumps(truth, sort_keys=True, indent=2) + "\n" == text  # keys sorted
    assert truth["n_patients"] == 500 and truth["seed"] == 11
    assert truth["generator"].startswith("toh-cohort ")
    assert set(truth["parameters"]) == {f.name for f in dataclasses.fields(SimulationParameters)}
    derived = truth["derived"]
    for key in ("share_men", "male_to_female_ratio", "radiographic_change_by_28_days",
                "radiographic_change_by_56_days", "radiographic_change_by_84_days",
                "radiographic_change_median_days", "resolution_median_days",
                "resolution_survival_6_months", "resolution_survival_8_months",
                "resolution_survival_12_months", "recurrence_cumulative_incidence_1y",
                "recurrence_cumulative_incidence_2y", "migration_cumulative_incidence_1y",
                "migration_cumulative_incidence_2y", "fracture_probability",
                "fracture_probability_pregnancy_associated",
                "fracture_probability_not_pregnancy_associated", "avn_probability",
                "recurrence_probability", "migration_probability"):
        assert isinstance(derived[key]["value"], float) and derived[key]["method"], key
    assert derived["male_to_female_ratio"]["value"] == pytest.approx(3.0)
    # 42 days is the median: half the changes by day 42; 4-8 weeks hold about 80% (docs/definitions.md)
    between = derived["radiographic_change_by_56_days"]["value"] - derived["radiographic_change_by_28_days"]["value"]
    assert 0.8 < between < 0.9
    # the calibration meets its target; death as a competing risk takes a little off it
    assert 0.049 < derived["recurrence_cumulative_incidence_2y"]["value"] < 0.05
    assert 0.119 < derived["migration_cumulative_incidence_2y"]["value"] < 0.12
    assert 182.625 < derived["resolution_median_days"]["value"] < 200  # bisphosphonate shortens


def test_bundled_demo_is_current(tmp_path: Path) -> None:
    """cohort/demo holds exactly what make_demo writes (400 patients, seed 20240229)."""
    written = make_demo(tmp_path)
    bundled = Path(__file__).resolve().parents[2] / "cohort" / "demo"
    for path in written:
        assert path.read_bytes() == (bundled / path.name).read_bytes(), path.name
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert (truth["n_patients"], truth["seed"]) == (DEMO_N_PATIENTS, DEMO_SEED) == (400, 20240229)


# ----------------------------------------------------------------------------- calibration


def _within(observed: float, expected: float, n: int, k: float) -> None:
    """|observed - expected| <= k binomial standard errors at ``n``."""
    se = math.sqrt(expected * (1 - expected) / n)
    assert abs(observed - expected) <= k * se, (observed, expected, n, k * se)


def test_calibration_patients(big: SimulatedRegistry) -> None:
    pa, ep = big.patients, big.episodes
    men = (pa["sex"] == "M").mean()
    assert abs(men - 0.75) <= 0.02  # the brief's tolerance: 6.5 SE (SE 0.0031 at n = 20,000)
    _within(pa["birth_date"].isna().mean(), 0.10, len(pa), 5)
    index = ep.drop_duplicates("patient_id", keep="first")
    women = index[index["pregnancy"].notna()]
    _within((women["pregnancy"] == "pregnant").mean(), 0.55, len(women), 5)
    pregnant = women[women["pregnancy"] == "pregnant"]
    _within((pregnant["trimester"] == 3).mean(), 0.80, len(pregnant), 5)
    associated = women["pregnancy"].isin(["pregnant", "postpartum"])
    _within((women.loc[associated, "side"] == "L").mean(), 0.65, int(associated.sum()), 5)
    men_index = index[index["pregnancy"].isna()]
    _within((men_index["side"] == "L").mean(), 0.5, len(men_index), 5)
    birth = pa.set_index("patient_id")["birth_date"]
    age = (index["onset_date"] - index["patient_id"].map(birth)).dt.days / 365.25
    age_men = age[index["pregnancy"].isna()].dropna()
    assert abs(age_men.mean() - 47) < 0.25  # normal(47, 7) barely truncated: SE 0.05 years
    treated = ep["treatment"].value_counts(normalize=True)
    assert treated.index[0] == "conservative"
    _within(treated["bisphosphonate"], 0.30, len(ep), 5)


def test_calibration_episodes_and_events(big: SimulatedRegistry) -> None:
    ep, ev, derived = big.episodes, big.events, big.truth["derived"]
    index = ep.drop_duplicates("patient_id", keep="first")
    later = ep[~ep["episode_id"].isin(index["episode_id"])].merge(
        index[["patient_id", "onset_date", "side", "resolution_date"]], on="patient_id",
        suffixes=("", "_index"))
    days = (later["onset_date"] - later["onset_date_index"]).dt.days
    opposite_hip = (later["joint"] == "hip") & (later["side"] != later["side_index"])
    bilateral = opposite_hip & (days <= 30)
    _within(bilateral.sum() / len(index), 0.03, len(index), 5)
    # fully observed 2 years: onset at least 731 days before export and still in contact then
    fu = (index["last_followup_date"] - index["onset_date"]).dt.days
    died = index["patient_id"].isin(big.patients.loc[big.patients["death_date"].notna(), "patient_id"])
    full = index[(fu >= 730) | died]
    sub = later[later["patient_id"].isin(full["patient_id"]) & (days <= 730)]
    migration = sub[(sub["joint"] != "hip") | ((sub["side"] != sub["side_index"])
                                               & ((sub["onset_date"] - sub["onset_date_index"]).dt.days > 30))]
    recurrence = sub[(sub["joint"] == "hip") & (sub["side"] == sub["side_index"])
                     & (sub["onset_date"] > sub["resolution_date_index"])]
    _within(migration["patient_id"].nunique() / len(full),
            derived["migration_cumulative_incidence_2y"]["value"], len(full), 5)
    _within(recurrence["patient_id"].nunique() / len(full),
            derived["recurrence_cumulative_incidence_2y"]["value"], len(full), 5)
    # resolution: fully observed index episodes resolve by the whole-day median half the time
    resolved = full[full["resolution_date"].notna()]
    assert len(resolved) > 0.98 * len(full)
    by_median = ((resolved["resolution_date"] - resolved["onset_date"]).dt.days
                 <= derived["resolution_median_days_whole"]["value"]).mean()
    _within(by_median, 0.5, len(resolved), 5)
    # fractures: more often in pregnancy-associated index episodes (10% vs 2%)
    fracture_eps = ev.loc[ev["event_type"].isin(["insufficiency_fracture", "subcapital_fracture"]), "episode_id"]
    fractured = index["episode_id"].isin(fracture_eps)
    associated = index["pregnancy"].isin(["pregnant", "postpartum"])
    in_preg, outside = fractured[associated].mean(), fractured[~associated].mean()
    assert in_preg > outside
    _within(in_preg, 0.10, int(associated.sum()), 5)  # SE 0.005 at n ~ 3,500
    _within(outside, 0.02, int((~associated).sum()), 5)  # SE 0.0011 at n ~ 16,500
    assert ev.loc[ev["event_type"] == "avascular_necrosis", "episode_id"].isin(index["episode_id"]).all()
    _within(index["episode_id"].isin(ev.loc[ev["event_type"] == "avascular_necrosis", "episode_id"]).mean(),
            0.01, len(index), 5)


def test_calibration_imaging(big: SimulatedRegistry) -> None:
    im, ep, p = big.imaging, big.episodes, big.parameters
    films = im[im["modality"] == "XR"]
    cells = films[list(XR_FINDINGS)]
    # 5% of finding cells empty: SE 0.0005 at ~ 170,000 cells
    _within(float(cells.isna().to_numpy().mean()), 0.05, cells.size, 5)
    assert (films["joint_space_preserved"].dropna().mean()) > 0.9
    # first film (at diagnosis, day 7-42 uniform) already abnormal: expected from the change model
    delays = np.arange(p.diagnosis_delay_days[0], p.diagnosis_delay_days[1] + 1)
    changed = special.ndtr(np.log(delays / p.change_median_days) / p.change_log_sd).mean()
    m = p.missing_finding_share
    shown = changed * ((1 - m) + m * p.subchondral_loss_share * (1 - m))
    first = films.drop_duplicates("episode_id", keep="first")
    abnormal = (first["osteopenia"].fillna(False) | first["subchondral_cortical_loss"].fillna(False)).mean()
    _within(float(abnormal), float(shown), len(first), 5)
    index = ep.drop_duplicates("patient_id", keep="first")
    n_films = films.groupby("episode_id").size().reindex(index["episode_id"], fill_value=0)
    assert (n_films >= 1).all()  # every index episode has its film at diagnosis
    mri = im.loc[im["modality"] == "MRI", "episode_id"]
    _within(index["episode_id"].isin(mri).mean(), p.mri_share, len(index), 6)  # a few lost before
    assert im.loc[im["modality"] == "MRI", "t2_high"].dropna().mean() > 0.9
