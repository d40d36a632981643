"""Figures shared by two processes: results in job order, whichever process ran a job, jobs
claimed in the order given, the worker started before the jobs are known, and an error in the
worker raised in the parent."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from toh.reports.figures._workers import start_split, write_split


def _job(i: int, tmp_path: Path, seconds: float = 0.05, meet: bool = False):
    def write() -> list[Path]:
        time.sleep(seconds)  # long enough for the worker to claim some
        path = tmp_path / f"{i}.txt"
        path.write_text(f"{os.getpid()} {time.monotonic()}")
        # meet: the process that ran this job waits until another job is written; it claims
        # nothing meanwhile, so the other process writes it (on a busy machine a worker
        # scheduled late once found every job claimed)
        deadline = time.monotonic() + 30
        while meet and len(list(tmp_path.glob("*.txt"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        return [path]

    return write


@pytest.mark.parametrize("workers", [1, 2])
def test_paths_come_back_in_job_order(tmp_path: Path, workers: int) -> None:
    jobs = [_job(i, tmp_path, meet=i == 0 and workers == 2) for i in range(6)]
    assert write_split(jobs, workers) == [[tmp_path / f"{i}.txt"] for i in range(6)]
    pids = {(tmp_path / f"{i}.txt").read_text().split()[0] for i in range(6)}
    assert len(pids) == workers  # two processes wrote when asked to
    assert str(os.getpid()) in pids


def test_jobs_are_claimed_in_the_order_given(tmp_path: Path) -> None:
    """The job claimed first (the heaviest figure) starts first, whoever claims it."""
    jobs = [_job(i, tmp_path, 0.3 if i == 4 else 0.05) for i in range(5)]
    assert write_split(jobs, 2, order=[4, 0, 1, 2, 3]) == [[tmp_path / f"{i}.txt"] for i in range(5)]
    written = {i: [float(x) for x in (tmp_path / f"{i}.txt").read_text().split()] for i in range(5)}
    assert written[4][1] - 0.3 <= min(t for _, t in written.values())  # started before any other ended
    with pytest.raises(ValueError, match="order"):
        write_split(jobs, 2, order=[0, 1, 2])


def test_the_worker_starts_before_the_jobs_are_known(tmp_path: Path) -> None:
    """It warms up while this process works; the payload decides the jobs, in both processes."""
    made: list[object] = []

    def make(payload: object) -> list:
        made.append(payload)
        return [_job(i, tmp_path / str(payload), meet=i == 0) for i in range(4)]

    (tmp_path / "late").mkdir()
    split = start_split(make, 2, 4, warm=lambda: time.sleep(0.05))
    assert split.run("late") == [[tmp_path / "late" / f"{i}.txt"] for i in range(4)]
    assert made == ["late"]  # this process made its jobs once; the worker made its own copy
    assert len({(tmp_path / "late" / f"{i}.txt").read_text().split()[0] for i in range(4)}) == 2


def test_a_started_worker_is_ended_when_nothing_is_drawn(tmp_path: Path) -> None:
    split = start_split(lambda _: [], 2, 4)
    process = split._process
    split.close()
    assert not process.is_alive()
    split.close()  # twice is harmless


def test_an_error_in_the_worker_is_raised_here(tmp_path: Path) -> None:
    def fails() -> list[Path]:
        time.sleep(0.01)
        raise ValueError("figure 1 failed")

    # the worker claims the failing job: this process is busy with the first for long enough
    jobs = [_job(0, tmp_path, 0.5), fails, _job(2, tmp_path), _job(3, tmp_path)]
    with pytest.raises(ValueError, match="figure 1 failed"):
        write_split(jobs, 2)


def test_an_error_in_warming_up_is_raised_here(tmp_path: Path) -> None:
    def cold() -> None:
        raise ImportError("no matplotlib")

    jobs = [_job(i, tmp_path, 0.2) for i in range(4)]
    with pytest.raises(ImportError, match="no matplotlib"):
        start_split(lambda _: jobs, 2, 4, warm=cold).run()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_of_this_process_waits_for_the_jobs_it_reads(tmp_path: Path, workers: int) -> None:
    """The task (a report's PDF) runs once, here, and reads each job's file only once written."""
    jobs = [_job(i, tmp_path, 0.1) for i in range(6)]
    seen: list[tuple[int, str]] = []

    def task(ready) -> None:
        seen.append((-1, str(os.getpid())))
        for i in range(6):
            ready(i)
            seen.append((i, (tmp_path / f"{i}.txt").read_text()))

    split = start_split(lambda _: jobs, workers, 6)
    assert split.run(None, None, (2, task)) == [[tmp_path / f"{i}.txt"] for i in range(6)]
    assert seen[0] == (-1, str(os.getpid())) and [i for i, _ in seen[1:]] == list(range(6))
    assert all(text for _, text in seen[1:])
    if workers == 2:  # the worker drew the jobs claimed after the task's place while the task waited
        assert len({text.split()[0] for _, text in seen[1:]}) == 2


def _dies_in_the_worker(parent: int, tmp_path: Path):
    def write() -> list[Path]:
        if os.getpid() != parent:
            os._exit(3)  # the worker is killed while it draws (out of memory, a signal)
        return _job(9, tmp_path, 0.01)()

    return write


@pytest.mark.parametrize("with_task", [False, True])
def test_a_worker_that_dies_is_an_error_here_not_a_hang(tmp_path: Path, with_task: bool) -> None:
    """The worker dies on the job it claimed (this process is busy with the first one): run()
    raises, whether this process waits for the worker's reply or a task waits for that job."""
    jobs = [_job(0, tmp_path, 0.5), _dies_in_the_worker(os.getpid(), tmp_path), _job(2, tmp_path), _job(3, tmp_path)]
    waited: list[int] = []

    def task(ready) -> None:
        for i in range(4):
            ready(i)
            waited.append(i)

    split = start_split(lambda _: jobs, 2, 4)
    process = split._process
    with pytest.raises(RuntimeError, match="ended unexpectedly"):
        split.run(None, None, (1, task) if with_task else None)
    assert not process.is_alive() and process.exitcode == 3
    if with_task:
        assert waited == [0]  # it waited for job 1 (the dead worker's) and was told so


def test_the_task_may_wait_for_every_job_only_at_its_end(tmp_path: Path) -> None:
    """A report's PDF, laid out before any figure is written, waits for them all at the end:
    this process draws what is unclaimed meanwhile, and each job runs once."""
    jobs = [_job(i, tmp_path, 0.05) for i in range(8)]
    order: list[str] = []

    def task(ready) -> None:
        order.append("laid out")
        for i in range(8):
            ready(i)
        order.append("written")

    split = start_split(lambda _: jobs, 2, 8)
    assert split.run(None, [7, 6, 5, 4, 3, 2, 1, 0], (0, task)) == [[tmp_path / f"{i}.txt"] for i in range(8)]
    assert order == ["laid out", "written"]
    pids = [(tmp_path / f"{i}.txt").read_text().split()[0] for i in range(8)]
    assert len(set(pids)) == 2  # both processes drew
