"""Bootstrap refits in lockstep (``_turnbull_batch.refit_draws``): a draw's masses do not depend
on which draws share its batch (bitwise), and each equals the one-at-a-time refit the bootstrap
made before (``_maximise(..., cumulative=True)`` per draw) to 1e-7 and meets the KKT conditions
to ``tol``; the bootstrap's draws equal plain warm-started refits (``turnbull(..., start=fit)``,
the definition) on a simulated registry of 1,000 patients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from toh.analyses import _bootstrap
from toh.analyses._bootstrap import bootstrap_cdf
from toh.analyses._turnbull import TurnbullFit, _maximise, _Problem, _project, _spans, turnbull
from toh.analyses._turnbull_batch import LOCKSTEP_MAX_INTERVALS, LOCKSTEP_STEPS, refit_draws

HERE = Path(__file__).parent
TIMES = np.array([28.0, 56.0, 84.0])
TOL = 1e-8


def _runs(lo: np.ndarray, hi: np.ndarray, fit: TurnbullFit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bootstrap's rows (as ``start_bootstrap_cdf`` sets them up): the runs of innermost
    intervals (first, last) and the run of each distinct interval."""
    first, last = _spans(lo, hi, fit.left, fit.right)
    runs, run = np.unique(first * (len(fit.p) + 1) + last, return_inverse=True)
    first, last = np.divmod(runs, len(fit.p) + 1)
    return first, last, run.ravel()


def _one_at_a_time(first: np.ndarray, last: np.ndarray, weights: np.ndarray,
                   p0: np.ndarray) -> tuple[np.ndarray, _Problem]:
    """The refit of one draw as the bootstrap made it before the lockstep."""
    keep = weights > 0
    problem = _Problem(first[keep], last[keep], weights[keep], len(p0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p, _ = _maximise(problem, p0, TOL, 100_000, cumulative=True)
    return p, problem


def _registry(patients: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct plain-film intervals (onset-day changes as (0, 0.5]) of a simulated registry."""
    from toh.analyses.radiographic import interval_counts
    from toh.cohort.derive import derive_cohort
    from toh.cohort.simulate import simulate_registry

    registry = simulate_registry(patients, seed)
    tables = {}
    for name in ("patients", "episodes", "imaging", "events"):
        frame = getattr(registry, name).reset_index(drop=True)
        frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
        tables[name] = frame
    counts = interval_counts(derive_cohort(tables).index)
    lo, hi = counts["lower"].to_numpy(float), counts["upper"].to_numpy(float)
    return lo, np.where(hi <= lo, lo + 0.5, hi), counts["n"].to_numpy(float)


@pytest.fixture(scope="module")
def thousand() -> tuple[np.ndarray, np.ndarray, np.ndarray, TurnbullFit]:
    lo, hi, w = _registry(1000, 3)
    return lo, hi, w, turnbull(lo, hi, w)


def _draw_weights(w: np.ndarray, run: np.ndarray, rows: int, draws: int, seed: int) -> np.ndarray:
    total = int(w.sum())
    children = np.random.SeedSequence(seed).spawn(draws)
    return np.stack([np.bincount(run, np.random.default_rng(child).multinomial(total, w / total), rows)
                     for child in children]).astype(float)


def test_a_draw_is_the_same_to_the_bit_in_any_batch(thousand) -> None:
    lo, hi, w, fit = thousand
    first, last, run = _runs(lo, hi, fit)
    weights = _draw_weights(w, run, len(first), 100, 5)
    p0 = _project(fit.p + 1e-10)
    alone = refit_draws(first, last, weights[:1], p0, TOL)
    whole = refit_draws(first, last, weights, p0, TOL)
    for size in (1, 7, 10):
        parts = [refit_draws(first, last, weights[i:i + size], p0, TOL) for i in range(0, len(weights), size)]
        for whole_part, part in zip(whole, (np.concatenate(column) for column in zip(*parts))):
            assert np.array_equal(whole_part, part)
    # and in another company: draw 0 beside other draws, after them
    for mixed in (refit_draws(first, last, weights[[0, 50, 99]], p0, TOL),
                  refit_draws(first, last, weights[[99, 0]], p0, TOL)):
        row = 0 if len(mixed[0]) == 3 else 1
        assert np.array_equal(mixed[0][row], alone[0][0]) and mixed[1][row] == alone[1][0]
    assert (whole[1] <= TOL).all()


@pytest.mark.parametrize("batch", [1, 7, 10, 100])
def test_bootstrap_draws_do_not_depend_on_the_batch(monkeypatch: pytest.MonkeyPatch, thousand, batch: int) -> None:
    lo, hi, w, fit = thousand
    reference = bootstrap_cdf(lo, hi, fit, TIMES, 100, 17, workers=1, weights=w)
    monkeypatch.setattr(_bootstrap, "_BATCH", batch)
    assert np.array_equal(bootstrap_cdf(lo, hi, fit, TIMES, 100, 17, workers=1, weights=w), reference)


def test_bootstrap_draws_equal_plain_warm_started_refits(thousand) -> None:
    lo, hi, w, fit = thousand
    draws, seed = 40, 23
    boot = bootstrap_cdf(lo, hi, fit, TIMES, draws, seed, workers=1, weights=w)
    total = int(w.sum())
    for b, child in enumerate(np.random.SeedSequence(seed).spawn(draws)):
        resample = np.random.default_rng(child).multinomial(total, w / total).astype(float)
        with np.errstate(divide="ignore"):
            plain = turnbull(lo, hi, resample, start=fit)
        np.testing.assert_allclose(boot[b], plain.cdf(TIMES), atol=1e-7)


def test_lockstep_equals_one_at_a_time_at_1000_patients(thousand) -> None:
    lo, hi, w, fit = thousand
    first, last, run = _runs(lo, hi, fit)
    weights = _draw_weights(w, run, len(first), 30, 8)
    p0 = _project(fit.p + 1e-10)
    p, kkt, _ = refit_draws(first, last, weights, p0, TOL)
    for row in range(len(weights)):
        single, problem = _one_at_a_time(first, last, weights[row], p0)
        np.testing.assert_allclose(np.cumsum(p[row]), np.cumsum(single), atol=1e-8)
        assert kkt[row] == problem.kkt(p[row], TOL) <= TOL


def test_the_draw_that_broke_lapack_in_a_batch() -> None:
    """The LAPACK draw of test_radiographic (an observed interval without mass at the warm
    start), between two ordinary draws of the same registry: KKT met, the one-at-a-time F."""
    data = np.load(HERE / "data" / "turnbull_lapack_draw.npz")
    lo, hi, counts = data["lower"], data["upper"], data["counts"].astype(float)
    full = turnbull(lo, hi, counts)
    first, last, run = _runs(lo, hi, full)
    ordinary = _draw_weights(counts, run, len(first), 2, 1)
    broken = np.bincount(run, data["weights"].astype(float), len(first))
    weights = np.vstack([ordinary[0], broken, ordinary[1]])
    p0 = _project(full.p + 1e-10)
    p, kkt, _ = refit_draws(first, last, weights, p0, TOL)
    assert (kkt <= TOL).all() and np.allclose(p.sum(axis=1), 1, atol=1e-12) and (p >= 0).all()
    for row in range(3):
        single, _ = _one_at_a_time(first, last, weights[row], p0)
        np.testing.assert_allclose(np.cumsum(p[row]), np.cumsum(single), atol=1e-7)


@pytest.mark.slow  # about 40 s: 424 innermost intervals, 11,703 distinct intervals
def test_the_draw_whose_refit_went_nan_converges_alone_and_in_lockstep() -> None:
    """data/turnbull_nan_draw.npz (make_turnbull_nan_draw.py, quarter-day intervals): a Newton
    step emptied two observed intervals as far as the cumulative sums could tell, the gradient
    became NaN, and the KKT measure read 0, so the NaN draw counted as converged.  Now such a
    step is refused: refitted as the bootstrap does (alone, above LOCKSTEP_MAX_INTERVALS) and in
    lockstep, the masses are finite, KKT is met and F is the plain warm-started fit's."""
    data = np.load(HERE / "data" / "turnbull_nan_draw.npz")
    lo, hi, draw = data["lower"], data["upper"], data["weights"]
    full = turnbull(lo, hi, data["counts"])
    first, last, run = _runs(lo, hi, full)
    weights = np.bincount(run, draw, len(first))[None, :]
    p0 = _project(full.p + 1e-10)
    with np.errstate(divide="ignore", invalid="ignore"):  # the plain fit passes the same kind of step
        plain = turnbull(lo, hi, draw, start=full)
    for steps in (None, LOCKSTEP_STEPS):
        p, kkt, _ = refit_draws(first, last, weights, p0, TOL, steps=steps)
        assert np.isfinite(p).all() and kkt[0] <= TOL and abs(p.sum() - 1) < 1e-12 and (p >= 0).all()
        np.testing.assert_allclose(np.cumsum(p[0]), np.cumsum(plain.p), atol=1e-7)


@st.composite
def _data_and_draws(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Small interval data (ties, right-censoring, nested and identical intervals) and a few
    bootstrap draws of it, one of which may empty chosen intervals."""
    count = draw(st.integers(1, 14))
    lo = np.array(draw(st.lists(st.integers(0, 8), min_size=count, max_size=count)), float)
    width = draw(st.lists(st.one_of(st.integers(1, 6), st.none()), min_size=count, max_size=count))
    hi = np.array([lo[i] + wd if wd is not None else np.inf for i, wd in enumerate(width)])
    w = np.array(draw(st.lists(st.integers(1, 4), min_size=count, max_size=count)), float)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(int(w.sum()), w / w.sum(), size=draw(st.integers(1, 6))).astype(float)
    emptied = draw(st.lists(st.integers(0, count - 1), max_size=3))
    if emptied and len(set(emptied)) < count:
        draws[0, emptied] = 0.0
    return lo, hi, w, draws


@settings(max_examples=examples(150), deadline=None)
@given(_data_and_draws())
def test_lockstep_equals_one_at_a_time_on_small_data(case: tuple) -> None:
    lo, hi, w, resamples = case
    pairs, inverse = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), w, len(pairs))
    resamples = np.stack([np.bincount(inverse.ravel(), r, len(pairs)) for r in resamples])
    lo, hi = pairs[:, 0], pairs[:, 1]
    fit = turnbull(lo, hi, w)
    first, last, run = _runs(lo, hi, fit)
    weights = np.stack([np.bincount(run, r, len(first)) for r in resamples])
    weights = weights[weights.sum(axis=1) > 0]
    p0 = _project(fit.p + 1e-10)
    p, kkt, _ = refit_draws(first, last, weights, p0, TOL)
    for row in range(len(weights)):
        single, problem = _one_at_a_time(first, last, weights[row], p0)
        assert kkt[row] == problem.kkt(p[row], TOL) <= TOL
        assert abs(p[row].sum() - 1) < 1e-12 and (p[row] >= 0).all()
        np.testing.assert_allclose(np.cumsum(p[row]), np.cumsum(single), atol=1e-7)
        alone = refit_draws(first, last, weights[row:row + 1], p0, TOL)
        assert np.array_equal(alone[0][0], p[row])


def test_a_step_that_empties_an_observed_interval_is_finished_alone() -> None:
    """A synthetic registry of 20,000 (123 innermost intervals): the first Newton step of
    these draws is accepted (its gain is positive) yet leaves an observed interval without mass,
    so the KKT measure is nan; the draw must not count as converged but go on alone (where EM
    restores the mass), as the one-at-a-time refit does."""
    rng = np.random.default_rng(0)
    size = 20_000
    times = rng.weibull(1.5, size) * 40
    lo = np.floor(times * rng.uniform(0.2, 1, size))
    hi = lo + np.ceil(rng.uniform(1, 30, size))
    hi[rng.random(size) < 0.2] = np.inf
    pairs, inverse = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel()).astype(float)
    lo, hi = pairs[:, 0], pairs[:, 1]
    fit = turnbull(lo, hi, w)
    assert len(fit.p) > LOCKSTEP_MAX_INTERVALS  # so the lockstep is asked for
    first, last, run = _runs(lo, hi, fit)
    weights = _draw_weights(w, run, len(first), 26, 1)[[20, 21, 23, 25]]
    p0 = _project(fit.p + 1e-10)
    p, kkt, _ = refit_draws(first, last, weights, p0, TOL, steps=25)
    assert np.isfinite(p).all() and (kkt <= TOL).all()
    for row in range(len(weights)):
        single, _ = _one_at_a_time(first, last, weights[row], p0)
        np.testing.assert_allclose(np.cumsum(p[row]), np.cumsum(single), atol=1e-7)
