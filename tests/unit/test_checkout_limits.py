"""The checkout's in-process limits: a token bucket per client and a cap on open status streams."""

from __future__ import annotations

from bridge.ratelimit import StreamSlots, TokenBucket, retry_after


def test_bucket_allows_a_burst_then_the_sustained_rate() -> None:
    bucket = TokenBucket(per_minute=60, burst=3)
    assert [bucket.take("a", now=0.0) for _ in range(3)] == [0, 0, 0]
    wait = bucket.take("a", now=0.0)
    assert 0.99 < wait <= 1.0 and retry_after(wait) == "1"
    assert bucket.take("b", now=0.0) == 0  # per client
    assert bucket.take("a", now=1.5) == 0  # refilled at one a second
    assert bucket.take("a", now=1.5) > 0


def test_bucket_memory_is_bounded() -> None:
    bucket = TokenBucket(per_minute=60, max_keys=100)
    for n in range(1000):
        bucket.take(f"client-{n}", now=0.0)
    assert len(bucket._buckets) == 100


def test_stream_slots() -> None:
    slots = StreamSlots(2)
    assert slots.acquire() and slots.acquire() and not slots.acquire()
    slots.release()
    assert slots.acquire()
    slots.release()
    slots.release()
    slots.release()
    assert slots.open == 0
