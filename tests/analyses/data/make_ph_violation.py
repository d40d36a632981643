"""How tests/analyses/data/ph_violation_index.csv was made: an index table built to violate
proportional hazards, the input of tests/analyses/reference/make_cox_ph_violation_reference.R.

600 patients, seed 20261203.  Resolution follows a piecewise-exponential hazard: men 1.2x,
0.9x per 10 years of age, pregnancy-associated 1.3x, 0.85x per 5 units of BMI (an extra number,
5% missing), smoking (an extra category: never, the most frequent, then former 1.1x, current
0.7x; 4% missing), and treatment whose effect reverses: bisphosphonate 3x before day 90 and
0.4x after (cox.zph rejects it), other 1.0x.  Times are whole days (rounded up, so resolutions
tie); censoring uniform on 100-700 days.  Rerun from the project root; the committed CSV is the
reference input, so later changes here do not move the references.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N, SEED, BASE, CHANGE = 600, 20261203, 1 / 180, 90.0


def main() -> None:
    rng = np.random.default_rng(SEED)
    male = rng.random(N) < 0.7
    age = np.round(rng.normal(45, 9, N).clip(18, 85), 2)
    pregnancy = ~male & (rng.random(N) < 0.3)
    treatment = rng.choice(["conservative", "bisphosphonate", "other"], N, p=[0.5, 0.3, 0.2])
    bmi = np.round(rng.normal(26, 4, N), 1)
    smoking = rng.choice(["never", "former", "current"], N, p=[0.5, 0.3, 0.2])
    lp = (np.log(1.2) * male + np.log(0.9) * (age - 45) / 10 + np.log(1.3) * pregnancy
          + np.log(0.85) * (bmi - 26) / 5 + np.log(1.1) * (smoking == "former") + np.log(0.7) * (smoking == "current")
          + np.log(1.0) * (treatment == "other"))
    early = BASE * np.exp(lp + np.log(3.0) * (treatment == "bisphosphonate"))
    late = BASE * np.exp(lp + np.log(0.4) * (treatment == "bisphosphonate"))
    target = rng.exponential(1.0, N)  # cumulative hazard at the event
    t = np.where(target < early * CHANGE, target / early, CHANGE + (target - early * CHANGE) / late)
    censor = rng.uniform(100, 700, N)
    days = np.ceil(np.minimum(t, censor))
    frame = pd.DataFrame({
        "id": np.arange(1, N + 1), "sex": np.where(male, "M", "F"), "age_at_onset": age,
        "pregnancy_associated": pregnancy, "treatment": treatment, "resolved": t <= censor,
        "resolution_days": days, "bmi": np.where(rng.random(N) < 0.05, np.nan, bmi),
        "smoking": np.where(rng.random(N) < 0.04, None, smoking),
    })
    frame.to_csv("tests/analyses/data/ph_violation_index.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
