"""A fast version of tests/simulation/coverage_study.py: on generator cohorts, estimates land near
the recorded truth and the 95% intervals cover it at about the nominal rate.

12 replicates x 8 quantities = 96 intervals at 1,500 patients.  With true coverage 0.95 the count
covered is Binomial(96, 0.95): mean 91.2, SD 2.1; requiring at least 84 (3.4 SD below) fails only
when coverage is clearly off.  The seeds are fixed, so the outcome is deterministic.
"""

from __future__ import annotations

import pytest

from simulation.coverage_study import run_study, summarise


@pytest.mark.slow  # the coverage study's fast cut: 12 registries x 1,500 patients
def test_estimates_near_truth_and_intervals_cover() -> None:
    frame = run_study(reps=12, n_patients=1500, seed=500, draws=100)
    assert int(frame["covered"].sum()) >= 84, summarise(frame).to_string()
    summary = summarise(frame)
    # mean estimate within 3 standard errors of the mean (SD / sqrt(reps)) of the truth, or 0.01
    tolerance = (3 * summary["sd"] / summary["reps"] ** 0.5).clip(lower=0.01)
    assert (summary["bias"].abs() <= tolerance).all(), summary.to_string()
