"""API keys' "last used" marks are kept in memory and written at most once a minute (issue 22)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway_core.clock import FrozenClock
from gateway_core.keys.usage import KeyUsage


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_marks_wait_for_the_minute_and_nothing_is_due_without_them() -> None:
    ticks = Ticks()
    usage = KeyUsage(every=60, monotonic=ticks)
    assert not usage.due()
    usage.seen("a" * 64)
    usage.seen("a" * 64)
    assert not usage.due()  # the first minute since the last write has not passed
    ticks.now += 60
    assert usage.due()
    down = lambda: (_ for _ in ()).throw(RuntimeError("db down"))  # noqa: E731
    assert usage.flush(down, FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))) == 0
    assert not usage.due()  # a failed write is dropped, not retried on every request
