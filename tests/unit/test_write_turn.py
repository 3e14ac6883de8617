"""SQLite's write turn is handed to waiters in arrival order (adapters/db.py Turn): a thread that writes in a
loop cannot win it back ahead of a thread already waiting (a pushed payment behind a finality pass)."""

from __future__ import annotations

import threading
import time

from gateway_core.adapters.db import Turn


def _queued(turn: Turn, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(turn._waiters) < count:  # wait on the condition: the other thread is queued
        assert time.monotonic() < deadline, "the waiter never queued"
        time.sleep(0.001)


def test_a_released_turn_goes_to_the_waiter_not_back_to_the_releaser() -> None:
    turn = Turn()
    assert turn.acquire()
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append("waiter") if turn.acquire(timeout=10) else None)
    waiter.start()
    _queued(turn, 1)
    turn.release()
    assert not turn.acquire(timeout=0)  # the releaser asks again at once: the turn is the waiter's already
    waiter.join(10)
    assert got == ["waiter"]
    turn.release()
    assert turn.acquire(timeout=0)
    turn.release()


def test_waiters_are_served_in_arrival_order_and_a_timed_out_one_leaves_the_queue() -> None:
    turn = Turn()
    assert turn.acquire()
    order: list[int] = []
    threads = []
    for n in range(3):
        thread = threading.Thread(target=lambda n=n: (turn.acquire(timeout=10), order.append(n), turn.release()))
        thread.start()
        threads.append(thread)
        _queued(turn, n + 1)
    assert not turn.acquire(timeout=0.01)  # timed out: leaves the queue, takes nothing
    assert len(turn._waiters) == 3
    turn.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2]
    assert turn.acquire(timeout=0)
