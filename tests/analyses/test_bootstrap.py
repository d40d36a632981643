"""The Turnbull bootstrap's fast path: each draw equals a plain warm-started refit of the same
resample (``turnbull(..., start=fit)``, the definition), the cumulative-coordinate Newton solve
equals least squares on the model's rows, and the pool gives the same numbers as one process."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses import _bootstrap
from toh.analyses._bootstrap import bootstrap_cdf
from toh.analyses._turnbull import _collapsed_model, _cumulative_solve, _Problem, _spans, turnbull

HERE = Path(__file__).parent
FILMS = pd.read_csv(HERE / "data" / "ref_index.csv").dropna(subset=["xr_lower_day"])
TIMES = np.array([28.0, 56.0, 84.0])


def _films() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference films as distinct intervals with counts (onset-day changes as (0, 0.5])."""
    pairs = FILMS[["xr_lower_day", "xr_upper_day"]].to_numpy(float)
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    lo, hi = unique[:, 0], unique[:, 1]
    return lo, np.where(hi <= lo, lo + 0.5, hi), counts.astype(float)


def test_each_draw_equals_a_plain_refit_of_its_resample() -> None:
    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    draws, seed = 20, 11
    boot = bootstrap_cdf(lo, hi, fit, TIMES, draws, seed, workers=1, weights=w)
    total = int(w.sum())
    for b, child in enumerate(np.random.SeedSequence(seed).spawn(draws)):
        resample = np.random.default_rng(child).multinomial(total, w / total).astype(float)
        with np.errstate(divide="ignore"):
            plain = turnbull(lo, hi, resample, start=fit)
        # both meet the KKT conditions to 1e-8; F at the reading times agrees to that order
        np.testing.assert_allclose(boot[b], plain.cdf(TIMES), atol=1e-7)


def test_cumulative_solve_equals_least_squares_on_the_rows() -> None:
    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    first, last = _spans(lo, hi, fit.left, fit.right)
    problem = _Problem(first, last, w, len(fit.p))
    rng = np.random.default_rng(3)
    p = fit.p * rng.uniform(0.5, 1.5, len(fit.p)) + 1e-3
    p /= p.sum()
    d, ap = problem.gradient(p)
    support = np.flatnonzero(p > 0)
    scale, target = np.sqrt(w) / ap, 2 * np.sqrt(w)
    fast = _cumulative_solve(problem, support, scale, target)
    x, rhs = _collapsed_model(problem, support, scale, target)
    k = len(support)
    null = np.vstack([np.eye(k - 1), -np.ones((1, k - 1))])
    base = np.full(k, 1.0 / k)
    slow = base + null @ np.linalg.lstsq(x @ null, rhs - x @ base, rcond=None)[0]
    assert fast is not None and fast.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(fast, slow, atol=1e-9)


def test_pool_and_one_process_give_identical_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0)  # a pool even for a few draws
    one = bootstrap_cdf(lo, hi, fit, TIMES, 30, 7, workers=1, weights=w)
    two = bootstrap_cdf(lo, hi, fit, TIMES, 30, 7, workers=2, weights=w)
    three = bootstrap_cdf(lo, hi, fit, TIMES, 30, 7, workers=3, weights=w)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, three)


@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_draws_shared_by_chunks_between_the_caller_and_its_workers_are_the_same(
        monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # the caller draws the chunks its workers have not claimed when it collects: whoever draws
    # which chunk, and however the draws are cut, every draw is the one of a single process
    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    one = bootstrap_cdf(lo, hi, fit, TIMES, 23, 11, workers=1, weights=w)
    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0)
    monkeypatch.setattr(_bootstrap, "_CHUNK", chunk)
    for workers in (2, 3):
        np.testing.assert_array_equal(bootstrap_cdf(lo, hi, fit, TIMES, 23, 11, workers=workers, weights=w), one)


def test_rows_and_their_counts_give_the_same_draws() -> None:
    # one row per film (weights 1) and the distinct intervals with counts: the same draws
    lo, hi, w = _films()
    rows_lo, rows_hi = np.repeat(lo, w.astype(int)), np.repeat(hi, w.astype(int))
    fit = turnbull(lo, hi, w)
    by_rows = bootstrap_cdf(rows_lo, rows_hi, fit, TIMES, 20, 3, workers=1)
    by_counts = bootstrap_cdf(lo, hi, fit, TIMES, 20, 3, workers=1, weights=w)
    np.testing.assert_array_equal(by_rows, by_counts)


def test_started_draws_equal_the_waited_ones_and_cancel_leaves_no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    from toh.analyses._bootstrap import start_bootstrap_cdf

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0)
    waited = bootstrap_cdf(lo, hi, fit, TIMES, 30, 9, workers=2, weights=w)
    started = start_bootstrap_cdf(lo, hi, fit, TIMES, 30, 9, workers=2, weights=w)
    np.testing.assert_array_equal(started.result(), waited)
    assert multiprocessing.active_children() == []  # result() ends the pool
    abandoned = start_bootstrap_cdf(lo, hi, fit, TIMES, 3000, 9, workers=2, weights=w)
    abandoned.cancel()  # a caller that failed before collecting
    abandoned.cancel()  # idempotent
    assert multiprocessing.active_children() == []


def test_analysis_with_draws_in_the_background_equals_the_plain_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from builders import cohort_from_index
    from toh.analyses.radiographic import RadiographicOptions, analyse_radiographic, start_radiographic

    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0)
    cohort = cohort_from_index(pd.read_csv(HERE / "data" / "ref_index.csv"))
    options = RadiographicOptions(bootstrap_draws=40, seed=2, workers=2)
    pending = start_radiographic(cohort, options)
    plain = analyse_radiographic(cohort, RadiographicOptions(bootstrap_draws=40, seed=2, workers=1))
    started = pending.result()
    for name, table in plain.tables().items():
        pd.testing.assert_frame_equal(started.tables()[name], table)


def test_the_draw_that_broke_lapack_converges_in_cumulative_coordinates() -> None:
    """The bootstrap draw of test_radiographic's LAPACK case (an observed interval without mass
    at the warm start), refitted as the bootstrap refits it: KKT met, a distribution, and the
    same F as the least-squares refit to 1e-7."""
    from toh.analyses._turnbull import _maximise, _project

    data = np.load(HERE / "data" / "turnbull_lapack_draw.npz")
    lo, hi = data["lower"], data["upper"]
    full = turnbull(lo, hi, data["counts"])
    weights = data["weights"].astype(float)
    keep = weights > 0
    first, last = _spans(lo[keep], hi[keep], full.left, full.right)
    problem = _Problem(first, last, weights[keep], len(full.p))
    with np.errstate(divide="ignore", invalid="ignore"):
        p, _ = _maximise(problem, _project(full.p + 1e-10), 1e-8, 100_000, cumulative=True)
        plain = turnbull(lo, hi, weights, start=full)
    assert problem.kkt(p, 1e-8) <= 1e-8
    assert abs(p.sum() - 1) < 1e-12 and (p >= 0).all()
    cdf = np.concatenate([[0.0], np.cumsum(p)])[np.searchsorted(full.right, TIMES, side="right")]
    np.testing.assert_allclose(cdf, plain.cdf(TIMES), atol=1e-7)


def test_a_nan_kkt_measure_is_never_convergence() -> None:
    """A gradient ratio or a mass that is NaN (a step that failed) measures infinite, whatever
    the order of the maxima (Python's max over a NaN read 0 in the NaN draw of
    test_turnbull_batch, which counted as converged)."""
    assert _Problem.kkt_of(np.array([0.5, np.nan, -0.2]), np.array([0.5, 0.5, 0.0]), 1e-8) == np.inf
    assert _Problem.kkt_of(np.array([np.nan, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]), 1e-8) == np.inf
    assert _Problem.kkt_of(np.zeros(3), np.array([np.nan, 0.5, 0.5]), 1e-8) == np.inf
    assert _Problem.kkt_of(np.array([1e-3, -0.5, 2e-3]), np.array([0.5, 0.0, 0.5]), 1e-8) == 2e-3
    assert _Problem.kkt_of(np.array([-1e-3, 0.5]), np.array([1.0, 0.0]), 1e-8) == 0.5  # off the support: only > 0


def _warns_then_returns(value: int) -> int:
    import warnings

    from toh.cohort.errors import StatisticalWarning

    warnings.warn(f"first of task {value}", StatisticalWarning, stacklevel=1)
    warnings.warn(f"second of task {value}", StatisticalWarning, stacklevel=1)
    return value * 10


def _fails() -> int:
    from toh.cohort.errors import ConfigError

    raise ConfigError("the task's own error")


def _once(folder: str, value: int) -> int:
    with open(Path(folder) / "runs.txt", "a") as runs:
        runs.write(f"{value} {os.getpid()}\n")
    return _warns_then_returns(value)


@pytest.mark.parametrize("pool", [True, False])
def test_beside_tasks_run_once_and_give_their_results_and_warnings_in_order_with_or_without_a_worker(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pool: bool) -> None:
    import multiprocessing
    import warnings
    from functools import partial

    from toh.analyses._bootstrap import start_bootstrap_cdf

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0 if pool else 10**12)
    tasks = tuple(partial(_once, str(tmp_path), value) for value in (1, 2, 3, 4))
    started = start_bootstrap_cdf(lo, hi, fit, TIMES, 30, 9, workers=2, weights=w, beside=tasks)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draws = started.result()
        assert started.beside() == [10, 20, 30, 40]
        assert started.beside() == [10, 20, 30, 40]  # collected once: no second run, no second warning
    assert [str(item.message) for item in caught] == [f"{which} of task {value}" for value in (1, 2, 3, 4)
                                                      for which in ("first", "second")]
    runs = (tmp_path / "runs.txt").read_text().split()
    assert sorted(runs[::2]) == ["1", "2", "3", "4"]  # each task once, whichever process took it
    np.testing.assert_array_equal(draws, bootstrap_cdf(lo, hi, fit, TIMES, 30, 9, workers=1, weights=w))
    assert multiprocessing.active_children() == []


def test_a_worker_takes_the_tasks_first_then_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a worker does, run here: every unclaimed task (in order), then every unclaimed chunk;
    a task claimed by another process is left to it."""
    import multiprocessing
    from functools import partial

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    tasks = (partial(_warns_then_returns, 1), partial(_warns_then_returns, 2), partial(_warns_then_returns, 3))
    chunks, claimed = multiprocessing.Value("l", 0), multiprocessing.Value("l", 1)  # task 0: another's
    monkeypatch.setattr(_bootstrap, "_CHUNK", 10)
    job = _bootstrap.draws_job(lo, hi, fit, TIMES, 25, 4, weights=w)
    monkeypatch.setattr(_bootstrap, "_SHARED", [job, chunks, tasks, claimed])
    ran, drawn = _bootstrap._worker_chunks(0)
    assert sorted(ran) == [1, 2] and [ran[1][1], ran[2][1]] == [20, 30]
    assert [text for text, *_ in ran[1][2]] == ["first of task 2", "second of task 2"]
    assert [number for number, _ in drawn] == list(range(len(job[-1])))
    np.testing.assert_array_equal(np.vstack([out for _, (out, _) in drawn]),
                                  bootstrap_cdf(lo, hi, fit, TIMES, 25, 4, workers=1, weights=w))


def test_a_beside_task_that_fails_in_the_worker_raises_its_own_error_here(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing
    from functools import partial

    from toh.analyses._bootstrap import start_bootstrap_cdf
    from toh.cohort.errors import ConfigError

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0)
    started = start_bootstrap_cdf(lo, hi, fit, TIMES, 30, 9, workers=2, weights=w,
                                  beside=(partial(_warns_then_returns, 1), _fails))
    try:
        with pytest.raises(ConfigError, match="the task's own error"), pytest.warns(UserWarning, match="task 1"):
            started.beside()  # the first task's warnings, then the second task's error
    finally:
        started.cancel()
    assert multiprocessing.active_children() == []


def test_the_cohort_analysis_is_the_same_with_its_work_shared_by_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cox models and Table 1's data fitted in the bootstrap's worker equal those fitted here."""
    from builders import cohort_from_index
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions, analyse_cohort

    cohort = cohort_from_index(pd.read_csv(HERE / "data" / "ref_index.csv"))
    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0)
    shared = analyse_cohort(cohort, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=40, workers=2)))
    alone = analyse_cohort(cohort, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=40, workers=1)))
    assert shared.headline() == alone.headline()
    for name, table in alone.tables().items():
        pd.testing.assert_frame_equal(shared.tables()[name], table, check_exact=True)
    pd.testing.assert_frame_equal(shared.baseline.table, alone.baseline.table, check_exact=True)


def test_a_warm_worker_takes_its_share_and_a_worker_that_cannot_is_made_up_for(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """warm_worker forks first; the draws and tasks reach it pickled.  A task that cannot be
    pickled is not sent: this process runs it (the worker still draws its share), with the same
    results."""
    import multiprocessing
    from functools import partial

    from toh.analyses._bootstrap import start_bootstrap_cdf, warm_worker

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    plain = bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=1, weights=w)
    tasks = tuple(partial(_once, str(tmp_path), value) for value in (1, 2, 3))
    with warm_worker(preload=("json",)):
        started = start_bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=2, weights=w, beside=tasks)
        np.testing.assert_array_equal(started.result(), plain)
        with pytest.warns(UserWarning):
            assert started.beside() == [10, 20, 30]
    assert multiprocessing.active_children() == []
    unpicklable = (lambda: 7,)
    with warm_worker(preload=()):
        started = start_bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=2, weights=w, beside=unpicklable)
        np.testing.assert_array_equal(started.result(), plain)
        assert started.beside() == [7]
    with warm_worker(preload=()):
        pass  # never used: ended with the block
    assert multiprocessing.active_children() == []


def _started(folder: str, value: int) -> int:
    """Mark that the task started (and where), then wait until the test lets it finish."""
    import time

    Path(folder, f"started-{value}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not Path(folder, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return _once(folder, value)


def test_tasks_sent_ahead_start_in_the_warm_worker_before_the_bootstrap_and_run_once(tmp_path: Path) -> None:
    """send_ahead hands the tasks to the warm worker at once: it starts the first before this
    process has even started the bootstrap; then it draws its share.  Each task runs once, its
    result and warnings come back in order, and the draws are those of one process."""
    import multiprocessing
    import time
    import warnings
    from functools import partial

    from toh.analyses._bootstrap import send_ahead, start_bootstrap_cdf, warm_worker

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    plain = bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=1, weights=w)
    tasks = (partial(_started, str(tmp_path), 1), partial(_once, str(tmp_path), 2), partial(_once, str(tmp_path), 3))
    with warm_worker(preload=()):
        ahead = send_ahead(tasks)
        deadline = time.monotonic() + 60
        while not (tmp_path / "started-1").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (tmp_path / "started-1").read_text() != str(os.getpid())  # the worker took it, unasked
        (tmp_path / "go").touch()
        started = start_bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=2, weights=w, beside=ahead)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            np.testing.assert_array_equal(started.result(), plain)
            assert started.beside() == [10, 20, 30]
    assert [str(item.message) for item in caught] == [f"{which} of task {value}" for value in (1, 2, 3)
                                                      for which in ("first", "second")]
    assert sorted((tmp_path / "runs.txt").read_text().split()[::2]) == ["1", "2", "3"]
    assert multiprocessing.active_children() == []


def test_tasks_sent_ahead_without_a_bootstrap_are_collected_and_a_failure_raises_here(tmp_path: Path) -> None:
    """No bootstrap takes the warm worker (no imaging table, say): the results are collected from
    it all the same, this process taking the tasks it has not started; a task that failed there
    raises its own error here.  Tasks that cannot be pickled are not sent: they run here."""
    from functools import partial

    from toh.analyses._bootstrap import send_ahead, warm_worker
    from toh.cohort.errors import ConfigError

    tasks = tuple(partial(_once, str(tmp_path), value) for value in (1, 2, 3, 4))
    with warm_worker(preload=()):
        ahead = send_ahead(tasks)
        assert ahead.sent is not None
        with pytest.warns(UserWarning):
            assert ahead.results() == [10, 20, 30, 40]
    assert sorted((tmp_path / "runs.txt").read_text().split()[::2]) == ["1", "2", "3", "4"]
    with warm_worker(preload=()):
        ahead = send_ahead((partial(_warns_then_returns, 1), _fails))
        with pytest.raises(ConfigError, match="the task's own error"), pytest.warns(UserWarning, match="task 1"):
            ahead.results()
    with warm_worker(preload=()):
        ahead = send_ahead((lambda: 7,))
        assert ahead.sent is None and ahead.results() == [7]
    assert send_ahead((lambda: 8,)).results() == [8]  # no warm worker: here


def test_meanwhile_runs_once_after_this_process_has_drawn_what_it_could_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """result(meanwhile): the caller's remaining work (the Weibull fit) comes after this
    process's draws, when no chunk is left to claim, and before it waits for the worker."""
    from toh.analyses._bootstrap import start_bootstrap_cdf

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    monkeypatch.setattr(_bootstrap, "_POOL_MIN", 0)
    monkeypatch.setattr(_bootstrap, "_CHUNK", 5)
    started = start_bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=2, weights=w)
    seen: list[int] = []
    draws = started.result(lambda: seen.append(started._counter.value))
    assert len(seen) == 1 and seen[0] >= 60 // 5  # every chunk claimed by then
    np.testing.assert_array_equal(draws, bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=1, weights=w))
    started.result(lambda: seen.append(-1))  # collected already: not called again
    assert seen == [seen[0]]


@pytest.mark.parametrize("after", [-1.0, 1e9])
def test_this_process_takes_the_tasks_left_only_after_long_drawing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                   after: float) -> None:
    """Past _TAKE_TASKS_AFTER CPU seconds of its own drawing (a large registry) this process
    also runs the tasks no worker has started but the last _LEAVE_TO_WORKER, before its
    remaining work; below it it leaves them all to the worker (here: none, so they run when the
    results are asked for)."""
    import multiprocessing
    from functools import partial

    from toh.analyses._bootstrap import PendingDraws
    from toh.analyses._tasks import PendingTasks

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    monkeypatch.setattr(_bootstrap, "_TAKE_TASKS_AFTER", after)
    monkeypatch.setattr(_bootstrap, "_LEAVE_TO_WORKER", 1)
    job = _bootstrap.draws_job(lo, hi, fit, TIMES, 20, 4, weights=w)
    tasks = PendingTasks((partial(_once, str(tmp_path), 1), partial(_once, str(tmp_path), 2)),
                         counter=multiprocessing.Value("l", 0))
    pending = PendingDraws(1e-8, job=job, counter=multiprocessing.Value("l", 0), tasks=tasks)
    ran_before: list[str] = []
    runs = tmp_path / "runs.txt"
    pending.result(lambda: ran_before.append(runs.read_text().split()[::2] if runs.exists() else []))
    assert ran_before == ([["1"]] if after < 0 else [[]])  # the first task only: the last is left to the worker
    with pytest.warns(UserWarning):
        assert pending.beside() == [10, 20]
    assert len(runs.read_text().split()) == 4  # each task once


_SLOW_IMPORT = """
import time
time.sleep(60)
"""

_ENDED = """
import sys, time
from functools import partial
from toh.analyses._bootstrap import send_ahead, warm_worker
began = time.monotonic()
with warm_worker(preload=("toh_slow_import",)):  # the worker is still importing when the block ends
    send_ahead((partial(len, b"x" * 30_000_000),))
print(round(time.monotonic() - began, 2))
"""


def test_ending_a_warm_worker_that_has_not_read_its_work_does_not_hang(tmp_path: Path) -> None:
    """The block ends at once while the warm worker still imports and tens of megabytes of work
    wait for it in its channel."""
    import subprocess
    import sys

    (tmp_path / "toh_slow_import.py").write_text(_SLOW_IMPORT)
    done = subprocess.run([sys.executable, "-c", _ENDED], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 10


def test_a_warm_worker_gets_only_small_messages_through_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM once hung the command: ending the pool drains its pipe only while something is
    in it, and its feeder thread then began writing a large piece of work (a pickled cohort, or
    the job of 40,000 draws) that nobody would read, and the pool waited for that thread forever.
    What goes through the pool to a warm worker is now a size (the work itself through the
    worker's own channel), far below what a pipe holds, so its feeder never waits for a reader."""
    import pickle
    from functools import partial

    from toh.analyses._bootstrap import send_ahead, start_bootstrap_cdf, warm_worker

    lo, hi, w = _films()
    fit = turnbull(lo, hi, w)
    sizes: list[int] = []
    with warm_worker(preload=()):
        pool = _bootstrap._WARM[0]
        submit = pool.apply_async
        monkeypatch.setattr(pool, "apply_async", lambda func, args=(): (sizes.append(len(pickle.dumps((func, args)))),
                                                                        submit(func, args))[1])
        ahead = send_ahead((partial(len, b"x" * 5_000_000),))
        started = start_bootstrap_cdf(lo, hi, fit, TIMES, 4000, 9, workers=2, weights=w, beside=ahead)
        started.result()
        assert started.beside() == [5_000_000]
    assert len(sizes) == 2 and max(sizes) < 1_000


def test_a_warm_worker_that_cannot_be_forked_leaves_no_pipe_open(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    from toh.analyses._bootstrap import warm_worker

    class _NoFork:
        def Value(self, *args: object) -> object:  # noqa: N802 - multiprocessing's name
            return multiprocessing.Value(*args)

        def Pool(self, *args: object, **kwargs: object) -> object:  # noqa: N802
            raise OSError("fork failed: out of memory")

    def pipes() -> list[str]:
        return sorted(fd for fd in os.listdir("/proc/self/fd")
                      if os.path.exists(f"/proc/self/fd/{fd}") and os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"))

    monkeypatch.setattr(multiprocessing, "get_context", lambda method: _NoFork())
    before = pipes()
    with pytest.raises(OSError, match="fork failed"):
        with warm_worker(preload=()):
            pass
    assert pipes() == before


def _dies_in_a_worker(parent: int, value: int) -> int:
    """A task that kills the process running it unless that is the test's own (as the kernel's
    out-of-memory killer would end a worker)."""
    import signal

    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return value


_KILLED_WORKER = """
import multiprocessing, os, sys
from contextlib import nullcontext
from functools import partial
import numpy as np
from toh.analyses import _bootstrap
from toh.analyses._bootstrap import bootstrap_cdf, start_bootstrap_cdf, warm_worker
from toh.analyses._turnbull import turnbull
from test_bootstrap import TIMES, _dies_in_a_worker, _films

lo, hi, w = _films()
fit = turnbull(lo, hi, w)
plain = bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=1, weights=w)
_bootstrap._POOL_MIN = 0
tasks = (partial(_dies_in_a_worker, os.getpid(), 5),)
with warm_worker(preload=()) if sys.argv[1] != "forked" else nullcontext():
    if sys.argv[1] == "idle":  # killed while it waits for work, the pool's queue locked
        import signal, time
        time.sleep(0.5)
        worker = _bootstrap._WARM[0].processes[0]
        os.kill(worker.pid, signal.SIGKILL)
        worker.join()
        tasks = ()
    started = start_bootstrap_cdf(lo, hi, fit, TIMES, 60, 9, workers=2, weights=w, beside=tasks)
    try:
        np.testing.assert_array_equal(started.result(), plain)
        assert started.beside() == ([5] if tasks else [])
    finally:
        started.cancel()
assert multiprocessing.active_children() == []
print("same draws and results")
"""


@pytest.mark.parametrize("warm", ["warm", "forked", "idle"])
def test_a_worker_killed_mid_way_is_made_up_for_not_waited_for(warm: str) -> None:
    """A worker killed while it holds its share (as the kernel's out-of-memory killer would end
    it) ends the wait: this process draws what the worker did not return and runs its task, with
    the same draws and results, and the pool ends.  multiprocessing.Pool starts a worker in its
    place and would wait for the lost share for ever (``toh analyze`` hung), and that worker,
    dying with the pool's queue locked, made ``Pool.terminate`` wait for ever too; so did a
    worker killed while it waited for work (``idle``).  Run in a
    process of its own, so that a hang fails the test instead of stopping the run."""
    import subprocess
    import sys

    path = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    try:
        done = subprocess.run([sys.executable, "-c", _KILLED_WORKER, warm], capture_output=True, text=True,
                              timeout=90, cwd=HERE, env={**os.environ, "PYTHONPATH": path})
    except subprocess.TimeoutExpired:
        pytest.fail("the bootstrap waited for its killed worker for ever")
    assert done.returncode == 0 and "same draws and results" in done.stdout, done.stderr
