"""Coverage study: do the estimates land near the generator's truth, and do the 95% intervals
cover it at about the nominal rate?

Run from the project root (takes a few minutes at the defaults):

    .venv/bin/python tests/simulation/coverage_study.py --reps 200 --patients 2000

It draws ``reps`` registries with the generator (seeds seed, seed + 1, ...), runs the analyses,
and prints, per quantity, the truth (cohort/simulate's truth.json "derived" values), the mean
estimate and the share of intervals that contain the truth.  tests/analyses/test_simulation.py
runs a small version.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from toh.analyses.demographics import analyse_demographics  # noqa: E402
from toh.analyses.migration import analyse_migration  # noqa: E402
from toh.analyses.radiographic import RadiographicOptions, analyse_radiographic  # noqa: E402
from toh.analyses.recurrence import analyse_recurrence  # noqa: E402
from toh.analyses.resolution import ResolutionOptions, analyse_resolution  # noqa: E402
from toh.cohort.derive import derive_cohort  # noqa: E402
from toh.cohort.simulate import simulate_registry  # noqa: E402

#: truth key -> how to read (estimate, lower, upper) from the results
QUANTITIES = {
    "share_men": lambda r: tuple(r["demographics"].proportions.set_index("quantity").loc["share_men", ["estimate", "lower_95", "upper_95"]]),
    "radiographic_change_by_28_days": lambda r: tuple(r["radiographic"].at.set_index("weeks").loc[4.0, ["estimate", "lower_95", "upper_95"]]),
    "radiographic_change_by_56_days": lambda r: tuple(r["radiographic"].at.set_index("weeks").loc[8.0, ["estimate", "lower_95", "upper_95"]]),
    "resolution_survival_6_months": lambda r: _landmark(r, 6.0),
    "resolution_survival_8_months": lambda r: _landmark(r, 8.0),
    "resolution_survival_12_months": lambda r: _landmark(r, 12.0),
    "recurrence_cumulative_incidence_2y": lambda r: _cif(r["recurrence"], "recurrence"),
    "migration_cumulative_incidence_2y": lambda r: _cif(r["migration"], "migration"),
}


def _landmark(results: dict, months: float) -> tuple[float, float, float]:
    lm = results["resolution"].landmarks
    row = lm[(lm["variable"] == "all") & (lm["months"] == months)].iloc[0]
    return row["estimate"], row["lower_95"], row["upper_95"]


def _cif(result, cause: str) -> tuple[float, float, float]:
    inc = result.incidence
    row = inc[(inc["cause"] == cause) & (inc["months"] == 24.0)].iloc[0]
    return row["estimate"], row["lower_95"], row["upper_95"]


def one_replicate(n_patients: int, seed: int, draws: int) -> tuple[dict, dict]:
    """Estimates (estimate, lower, upper) per quantity, and the truth, for one simulated registry."""
    registry = simulate_registry(n_patients, seed)
    tables = {}
    for name in ("patients", "episodes", "imaging", "events"):
        frame = getattr(registry, name).reset_index(drop=True)
        frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
        tables[name] = frame
    cohort = derive_cohort(tables)
    results = {
        "demographics": analyse_demographics(cohort),
        "radiographic": analyse_radiographic(cohort, RadiographicOptions(bootstrap_draws=draws, seed=seed, workers=1)),
        "resolution": analyse_resolution(cohort, ResolutionOptions(strata=(), cox_covariates=())),
        "recurrence": analyse_recurrence(cohort),
        "migration": analyse_migration(cohort),
    }
    truth = {k: registry.truth["derived"][k]["value"] for k in QUANTITIES}
    return {k: read(results) for k, read in QUANTITIES.items()}, truth


def run_study(reps: int, n_patients: int, seed: int, draws: int) -> pd.DataFrame:
    """One row per replicate and quantity: estimate, lower, upper, truth, covered."""
    rows = []
    for rep in range(reps):
        estimates, truth = one_replicate(n_patients, seed + rep, draws)
        for key, (est, lo, hi) in estimates.items():
            rows.append((rep, key, est, lo, hi, truth[key], bool(lo <= truth[key] <= hi)))
    return pd.DataFrame(rows, columns=["rep", "quantity", "estimate", "lower", "upper", "truth", "covered"])


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: truth, mean estimate, bias, empirical SD, coverage."""
    grouped = frame.groupby("quantity", sort=False)
    return pd.DataFrame({
        "truth": grouped["truth"].first(),
        "mean_estimate": grouped["estimate"].mean(),
        "bias": grouped["estimate"].mean() - grouped["truth"].first(),
        "sd": grouped["estimate"].std(ddof=1),
        "coverage": grouped["covered"].mean(),
        "reps": grouped.size(),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--bootstrap", type=int, default=300)
    args = parser.parse_args()
    frame = run_study(args.reps, args.patients, args.seed, args.bootstrap)
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(summarise(frame).to_string())
    covered = frame["covered"].mean()
    print(f"\noverall coverage of nominal 95% intervals: {covered:.3f} over {len(frame)} intervals")
    se = np.sqrt(0.95 * 0.05 / len(frame))
    print(f"(binomial SE at 0.95: {se:.4f})")


if __name__ == "__main__":
    main()
