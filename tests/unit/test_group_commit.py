"""Group commit (adapters/invoice_writers/group_commit.py) and the intake's key cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from gateway_core.adapters.invoice_writers.group_commit import GroupCommit
from gateway_core.services.invoice_intake import KeyCache


def _run_together(count: int, work: Any) -> tuple[dict[int, Any], dict[int, BaseException]]:
    results: dict[int, Any] = {}
    errors: dict[int, BaseException] = {}
    start = threading.Barrier(count)

    def one(index: int) -> None:
        start.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:
            errors[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive(), "a submitter was left waiting"
    return results, errors


def test_concurrent_items_share_batches_and_each_gets_its_own_result() -> None:
    batches: list[list[int]] = []

    def write_batch(items: list[int]) -> list[int]:
        time.sleep(0.01)  # a commit: others queue meanwhile
        batches.append(items)
        return [item * 10 for item in items]

    group: GroupCommit[int, int] = GroupCommit(write_batch, lambda item: write_batch([item])[0])
    results, errors = _run_together(24, group.submit)
    assert errors == {}
    assert results == {i: i * 10 for i in range(24)}
    assert sorted(item for batch in batches for item in batch) == list(range(24))  # each written once
    assert max(len(batch) for batch in batches) > 1


def test_one_bad_item_fails_alone() -> None:
    def write_batch(items: list[int]) -> list[int]:
        time.sleep(0.005)
        if 7 in items:
            raise ValueError("the batch rolls back")
        return items

    def write_one(item: int) -> int:
        if item == 7:
            raise ValueError("item 7 is bad")
        return item

    group: GroupCommit[int, int] = GroupCommit(write_batch, write_one)
    results, errors = _run_together(16, group.submit)
    assert set(errors) == {7} and str(errors[7]) == "item 7 is bad"
    assert results == {i: i for i in range(16) if i != 7}


def test_an_item_that_fails_alone_is_not_written_twice() -> None:
    calls: list[list[int]] = []

    def write_batch(items: list[int]) -> list[int]:
        calls.append(items)
        raise ValueError("refused")

    def write_one(item: int) -> int:
        calls.append([item])
        raise ValueError("refused")

    group: GroupCommit[int, int] = GroupCommit(write_batch, write_one)
    with pytest.raises(ValueError, match="refused"):
        group.submit(1)
    assert calls == [[1]]


class Interrupted(BaseException):
    pass


def test_an_interrupted_batch_releases_everyone_waiting_on_it() -> None:
    entered = threading.Event()
    release = threading.Event()

    def write_batch(items: list[int]) -> list[int]:
        entered.set()
        release.wait(5)
        raise Interrupted()

    group: GroupCommit[int, int] = GroupCommit(write_batch, lambda item: item)

    def submit(index: int) -> int:
        if index:
            entered.wait(5)  # queue behind the first batch, then let it fail
            threading.Timer(0.05, release.set).start()
        return group.submit(index)

    results, errors = _run_together(6, submit)
    # The interrupted batch's own items see the interruption; items queued behind it are written after.
    assert isinstance(errors.pop(0), Interrupted)
    assert all(isinstance(exc, Interrupted) for exc in errors.values())
    assert set(results) | set(errors) == set(range(1, 6))


def test_items_that_arrive_while_the_leader_waits_for_its_turn_join_its_batch() -> None:
    turn = threading.Lock()
    turns_taken: list[bool] = []
    batches: list[list[int]] = []

    @contextmanager
    def held() -> Iterator[None]:
        with turn:
            turns_taken.append(True)
            yield

    def write_batch(items: list[int]) -> list[int]:
        assert turn.locked()  # written inside the turn
        batches.append(items)
        return items

    group: GroupCommit[int, int] = GroupCommit(write_batch, lambda item: write_batch([item])[0], turn=held)
    turn.acquire()  # another process is writing
    try:
        threads = [threading.Thread(target=group.submit, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while len(group._queue) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        turn.release()
    for thread in threads:
        thread.join(timeout=5)
    assert len(batches) == 1 and sorted(batches[0]) == list(range(5))
    assert len(turns_taken) == 1


def test_a_leader_that_gets_no_turn_fails_and_its_item_is_never_written() -> None:
    written: list[int] = []
    refusals = [TimeoutError("no turn to write the database within 30 s")]

    @contextmanager
    def turn() -> Iterator[None]:
        if refusals:
            raise refusals.pop()
        yield

    def write_batch(items: list[int]) -> list[int]:
        written.extend(items)
        return items

    group: GroupCommit[int, int] = GroupCommit(write_batch, lambda item: write_batch([item])[0], turn=turn)
    with pytest.raises(TimeoutError):
        group.submit(1)
    assert group.submit(2) == 2
    assert written == [2]


def test_the_key_cache_forgets_after_its_lifetime_and_beyond_its_size() -> None:
    now = [0.0]
    cache = KeyCache(5.0, max_entries=2, monotonic=lambda: now[0])
    cache.put("a", "voltxt", "key-a")  # type: ignore[arg-type]
    cache.put("b", "voltxt", "key-b")  # type: ignore[arg-type]
    assert cache.get("a", "voltxt") == "key-a"
    cache.put("c", "voltxt", "key-c")  # type: ignore[arg-type]  # b was used least recently
    assert cache.get("b", "voltxt") is None and cache.get("c", "voltxt") == "key-c"
    assert cache.get("a", "virtexgate") is None  # kinds never share entries
    now[0] = 5.0
    assert cache.get("a", "voltxt") is None


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_a_key_cache_without_lifetime_keeps_nothing(seconds: float) -> None:
    cache = KeyCache(seconds)
    cache.put("a", "voltxt", "key-a")  # type: ignore[arg-type]
    assert cache.get("a", "voltxt") is None


def test_in_memory_sqlite_gets_no_driver_level_writer() -> None:
    """Each connection to ':memory:' is its own empty database: creates there take the general path."""
    from sqlalchemy import create_engine

    from gateway_core.adapters.invoice_writers import invoice_writer_for

    for url in ("sqlite://", "sqlite:///:memory:"):
        engine = create_engine(url)
        try:
            assert invoice_writer_for(engine) is None
        finally:
            engine.dispose()
