"""The shared counter through which processes claim work: every piece once, whichever process;
and the channel through which a worker forked ahead gets its work."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from toh.cohort.workers import Channel, claim, receive


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


def _read_two(reader: int, sizes: tuple[int, int], out: object) -> None:
    out.put([bytes(receive(reader, size)) for size in sizes])


def test_a_channel_delivers_what_was_sent_in_order_and_a_gone_worker_blocks_nothing() -> None:
    context = multiprocessing.get_context("fork")
    channel, out = Channel(), context.SimpleQueue()
    first, second = os.urandom(3_000_000), b"second"  # the first far larger than a pipe holds
    worker = context.Process(target=_read_two, args=(channel.reader, (len(first), len(second)), out))
    worker.start()
    channel.forked()
    channel.send(first)  # returns at once: written in the background, in order
    channel.send(second)
    assert out.get() == [first, second]
    worker.join()
    channel.close()
    # a worker that never reads and is ended: the write fails at once, close() returns
    channel = Channel()
    idle = context.Process(target=time.sleep, args=(60,))
    idle.start()
    channel.forked()
    channel.send(os.urandom(5_000_000))
    began = time.monotonic()
    idle.terminate()
    idle.join()
    channel.close()
    assert time.monotonic() - began < 5


def test_a_claim_leaves_the_last_pieces_it_is_told_to_leave() -> None:
    """With ``leave``, a process claims only while more than that many pieces are unclaimed; the
    pieces left are still there for a process that claims without it."""
    counter = multiprocessing.Value("l", 0)
    assert [claim(counter, 5, leave=2) for _ in range(4)] == [0, 1, 2, None]
    assert claim(counter, 5, leave=5) is None
    assert [claim(counter, 5) for _ in range(3)] == [3, 4, None]
    assert claim(counter, 5, leave=0) is None and counter.value == 5


def _exit_hard() -> None:
    os._exit(9)


def test_a_watched_result_raises_when_its_worker_dies_instead_of_waiting_for_ever() -> None:
    import multiprocessing

    from toh.cohort.workers import WatchedPool, WorkerDied

    context = multiprocessing.get_context("fork")
    pool = WatchedPool(lambda: context.Pool(1))
    try:
        assert len(pool.processes) == 1
        assert pool.apply_async(pow, (2, 5)).get() == 32
        assert pool.map_async(abs, [-1, 2]).get() == [1, 2]
        with pytest.raises(WorkerDied):
            pool.apply_async(_exit_hard).get()  # a plain Pool waits for ever here
    finally:
        pool.terminate()
