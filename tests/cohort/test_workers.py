"""The shared counter through which processes claim work: every piece once, whichever process."""

from __future__ import annotations

import multiprocessing

from toh.cohort.workers import claim


def _claim_all(counter: object, total: int, out: object) -> None:
    while (number := claim(counter, total)) is not None:
        out.put(number)


def test_two_processes_claim_every_piece_once_then_none() -> None:
    context = multiprocessing.get_context("fork")
    counter, out = context.Value("l", 0), context.SimpleQueue()
    worker = context.Process(target=_claim_all, args=(counter, 200, out))
    worker.start()
    mine = []
    while (number := claim(counter, 200)) is not None:
        mine.append(number)
    worker.join()
    theirs = []
    while not out.empty():
        theirs.append(out.get())
    assert sorted(mine + theirs) == list(range(200))  # none twice, none missed
    assert claim(counter, 200) is None and claim(counter, 0) is None
