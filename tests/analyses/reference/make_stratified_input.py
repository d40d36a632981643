"""Write stratified_input.csv, the rows of tests/analyses/test_stratified.py (and of
make_stratified_reference.R): a simulated consortium of three sites (toh.cohort.simulate_sites,
seed 12) derived, plus a fourth site of men only, without any recurrence, and without the
treatment "other" (disjoint strata: within it, sex, pregnancy and treatment have one or two
groups).  Run from the repository root:  python tests/analyses/reference/make_stratified_input.py
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd

from toh.analyses.pipeline import derive_export
from toh.cohort.simulate_sites import simulate_sites, write_sites

COLUMNS = ["site", "sex", "pregnancy_associated", "treatment", "resolution_days", "resolved", "recurrence_days",
           "recurrence_status", "migration_days", "migration_status"]


def main() -> None:
    frames = []
    with tempfile.TemporaryDirectory() as folder:
        consortium = simulate_sites(4, 150, 12)
        write_sites(consortium, folder)
        for name in consortium.sites:
            index = derive_export(Path(folder) / name, validation_date=dt.date(2026, 6, 30))[1].index
            frames.append(index.assign(site=name)[COLUMNS])
    last = frames[-1]
    last = last[(last["sex"] == "M") & (last["treatment"] != "other")].copy()
    last["recurrence_status"] = last["recurrence_status"].where(last["recurrence_status"] != 1, 0)
    frames[-1] = last
    rows = pd.concat(frames, ignore_index=True)
    rows["pregnancy_associated"] = rows["pregnancy_associated"].map({True: "TRUE", False: "FALSE"})
    rows["resolved"] = rows["resolved"].astype(int)
    rows.to_csv(Path(__file__).parent / "stratified_input.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
