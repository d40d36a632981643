"""Figures split over two processes: results in job order, whichever process ran a job, and an
error in the worker raised in the parent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toh.reports.figures._workers import write_split


def _job(i: int, tmp_path: Path):
    def write() -> list[Path]:
        path = tmp_path / f"{i}.txt"
        path.write_text(str(os.getpid()))
        return [path]

    return write


@pytest.mark.parametrize("workers", [1, 2])
def test_paths_come_back_in_job_order(tmp_path: Path, workers: int) -> None:
    jobs = [_job(i, tmp_path) for i in range(5)]
    assert write_split(jobs, workers) == [[tmp_path / f"{i}.txt"] for i in range(5)]
    pids = {(tmp_path / f"{i}.txt").read_text() for i in range(5)}
    assert len(pids) == workers  # two processes wrote when asked to
    assert str(os.getpid()) in pids


def test_an_error_in_the_worker_is_raised_here(tmp_path: Path) -> None:
    def fails() -> list[Path]:
        raise ValueError("figure 1 failed")

    jobs = [_job(0, tmp_path), fails, _job(2, tmp_path), _job(3, tmp_path)]
    with pytest.raises(ValueError, match="figure 1 failed"):
        write_split(jobs, 2)
