"""Make turnbull_nan_draw.npz: the bootstrap draw whose refit went NaN and was counted as converged.

Intervals at quarter days (which a registry's whole-day dates cannot give) with 424 innermost
intervals; draw 8 of ``draws_job(..., draws=50, seed=1)``.  A Newton step moved the masses off
two observed intervals as far as the cumulative sums could tell (about 1e-17), the next gradient
was infinite, and the KKT measure, taken with Python's ``max`` over a NaN, read 0.  Run from the
project folder: ``.venv/bin/python tests/analyses/data/make_turnbull_nan_draw.py``.
"""

from pathlib import Path

import numpy as np

from toh.analyses._bootstrap import draws_job
from toh.analyses._turnbull import turnbull

rng = np.random.default_rng(0)
n = 20_000
t = rng.weibull(1.5, n) * 40
lo = np.floor(t * 4 * rng.uniform(0.2, 1, n)) / 4
hi = lo + np.ceil(rng.uniform(1, 30, n) * 4) / 4
hi[rng.uniform(size=n) < 0.2] = np.inf
pairs, counts = np.unique(np.column_stack([lo, hi]), axis=0, return_counts=True)
fit = turnbull(pairs[:, 0], pairs[:, 1], counts)
job = draws_job(pairs[:, 0], pairs[:, 1], fit, np.array([28.0, 56.0, 84.0]), 50, 1, weights=counts)
total = int(counts.sum())
draw = np.random.default_rng(job[6][8]).multinomial(total, counts / total)
np.savez_compressed(Path(__file__).with_name("turnbull_nan_draw.npz"), lower=pairs[:, 0], upper=pairs[:, 1],
                    counts=counts.astype(float), weights=draw.astype(float))
