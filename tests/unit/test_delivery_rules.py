"""Acceptance 4 and 5 of issue 4 (the pure parts): the retry schedule, percentiles and endpoint health."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from gateway_core.domain.delivery import GIVE_UP_AFTER, health, next_retry, percentile, schedule


def test_retries_after_10_30_60_seconds_then_every_30_minutes_until_6_hours() -> None:
    offsets = [int(o.total_seconds()) for o in schedule()]
    assert offsets[:3] == [10, 40, 100]  # 10 s, then 30 s, then 60 s after the previous try
    later = [b - a for a, b in pairwise(offsets[2:])]
    assert later and set(later) == {1800}
    assert offsets[-1] <= GIVE_UP_AFTER.total_seconds() < offsets[-1] + 1800
    assert next_retry(len(offsets) + 1, timedelta(seconds=offsets[-1])) is None


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (50, 95, 99)
    assert percentile([7], 0.95) == 7 and percentile([], 0.5) is None


def test_health_from_recent_outcomes() -> None:
    assert health([]) == "healthy"
    assert health([True] * 40) == "healthy"
    assert health([True] * 40 + [False]) == "degraded"  # the last try failed
    assert health([True, False] * 10 + [True]) == "degraded"  # about half failing
    assert health([True] * 40 + [False] * 3) == "failing"  # three failures in a row
    assert health([False, False, True, False, True, False, False, True]) == "failing"  # under half succeed
