# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""Issue 4 point 10: the dispatcher claims in one statement (FOR UPDATE SKIP LOCKED on PostgreSQL) and records a
batch of attempts in three, without giving up ordering per invoice, the cap per endpoint, or leases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from gateway_core.adapters.jsonwire import dumps
from gateway_core.adapters.models import Delivery, DeliveryAttempt
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.domain.identifiers import new_event_id
from gateway_core.notifications.dispatch_rows import Attempt, claim, record
from gateway_core.notifications.outbox import endpoint_for
from gateway_core.ports import HttpResult
from tests.fakes.receiver import Receiver
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    deliveries,
    dispatcher,
    enqueue_raw,
    nsettings,
    nsvc,
    receiver,
    shop,
)

LEASE = timedelta(seconds=90)


@contextmanager
def statements(svc: Services) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (not BEGIN/COMMIT, not the pool's liveness ping)."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    assert svc.engine is not None
    event.listen(svc.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(svc.engine, "before_cursor_execute", note)


def add(svc: Services, store_id: int, url: str, invoices: list[str], kind: str = "store") -> list[int]:
    """One delivery per entry of `invoices` (an invoice number; repeat one for its later events), in order."""
    with svc.uow() as uow:
        now = svc.clock.now()
        endpoint = endpoint_for(uow.session, store_id, kind, url, now)
        rows = [Delivery(store_id=store_id, event_id=new_event_id(), event_type="payment_received",
                         invoice_number=number, channel=kind, endpoint=endpoint, body=dumps({"n": n}),
                         headers={}, next_attempt_at=now, created_at=now, updated_at=now)
                for n, number in enumerate(invoices)]
        uow.session.add_all(rows)
        uow.session.flush()
        return [row.id for row in rows]


def claim_now(svc: Services, limit: int = 32, token: str = "worker-a") -> list[int]:
    with svc.uow() as uow:
        return [row.id for row in claim(uow.session, now=svc.clock.now(), token=token, lease=LEASE, limit=limit)]


def record_now(svc: Services, results: dict[int, HttpResult], token: str = "worker-a") -> None:
    with svc.uow() as uow:
        record(uow.session, [Attempt(i, token, svc.clock.now(), r) for i, r in results.items()], svc.clock.now())


def test_one_claim_is_one_statement_and_a_batch_of_outcomes_is_recorded_in_three(nsvc, shop, dispatcher):
    add(nsvc, shop.id, "http://127.0.0.1:9/hook", [f"S{n}" for n in range(40)])
    # The first claim for a store also reads its signing key (then cached). Which delivery it takes among
    # equally due ones is the database's choice (PostgreSQL's order of ties is not the ids').
    first, _ = dispatcher._claim(1, {})
    ids = [first[0].delivery_id]
    with statements(nsvc) as sent:
        jobs, _ = dispatcher._claim(100, {})
    assert len(sent) == 1 and "UPDATE deliveries SET" in sent[0] and "RETURNING" in sent[0], sent
    assert len(jobs) == dispatcher.claim_cap == 32  # a fresh endpoint takes up to its cap, no more
    assert all(job.url == "http://127.0.0.1:9/hook" and job.secret and job.api_key for job in jobs)

    claimed = [ids[0]] + [job.delivery_id for job in jobs]
    ok, refused = HttpResult(200, b"ok", 0.01), HttpResult(503, b"busy", 0.02)
    with statements(nsvc) as sent:
        with nsvc.uow() as uow:
            record(uow.session, [Attempt(i, jobs[0].token if i != ids[0] else "other", nsvc.clock.now(),
                                         ok if n % 3 else refused) for n, i in enumerate(claimed)],
                   nsvc.clock.now())
    assert [s.lstrip().split()[0].upper() for s in sent] == ["SELECT", "INSERT", "UPDATE"]  # executemany counts 1
    rows = {d.id: d for d in deliveries(nsvc)}
    with nsvc.uow() as uow:
        attempts = uow.session.execute(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).scalars().all()
    assert [a.delivery_id for a in attempts] == claimed and all(a.number == 1 for a in attempts)
    for n, delivery_id in enumerate(claimed[1:], start=1):
        row = rows[delivery_id]
        assert row.attempts == 1 and row.claimed_by is None and row.first_attempt_at == nsvc.clock.now()
        if n % 3:
            assert row.status == "delivered" and row.last_status_code == 200
        else:
            assert row.status == "pending" and row.next_attempt_at == nsvc.clock.now() + timedelta(seconds=10)
            assert row.last_status_code == 503
    assert rows[ids[0]].status == "sending" and rows[ids[0]].attempts == 1  # not ours: the attempt is kept only


def test_a_later_event_waits_while_an_earlier_one_to_the_same_endpoint_is_unsettled(nsvc, shop, clock):
    store_hook, callback = "http://127.0.0.1:9/store", "http://127.0.0.1:9/cb"
    a1, a2, b1 = add(nsvc, shop.id, store_hook, ["A", "A", "B"])
    (a1_callback,) = add(nsvc, shop.id, callback, ["A"], kind="callback")
    assert sorted(claim_now(nsvc)) == [a1, b1, a1_callback]  # A's second event waits; other endpoints do not
    record_now(nsvc, {a1: HttpResult(500, b"", 0.01), b1: HttpResult(200, b"", 0.01)})
    assert claim_now(nsvc) == []  # A's first event is due again in 10 s: its second still waits
    clock.advance(seconds=10)
    assert claim_now(nsvc) == [a1]
    record_now(nsvc, {a1: HttpResult(200, b"", 0.01)})
    assert claim_now(nsvc) == [a2]


def test_an_expired_lease_is_claimed_again_and_a_live_one_is_not(nsvc, shop, clock):
    first, second = add(nsvc, shop.id, "http://127.0.0.1:9/hook", ["A", "B"])
    assert sorted(claim_now(nsvc, token="dead-worker")) == [first, second]
    assert claim_now(nsvc) == []
    clock.advance(seconds=91)
    assert sorted(claim_now(nsvc, token="worker-b")) == [first, second]
    with nsvc.uow() as uow:
        owners = set(uow.session.execute(select(Delivery.claimed_by)).scalars())
    assert owners == {"worker-b"}


def test_a_claim_skips_rows_another_worker_holds_instead_of_waiting(nsvc, shop, database_url):
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite has one writer at a time: there is no row lock to skip")
    ids = add(nsvc, shop.id, "http://127.0.0.1:9/hook", [f"L{n}" for n in range(6)])
    locked, entered, release = ids[:2], threading.Event(), threading.Event()

    def other_worker() -> None:  # mid-claim: its candidates locked, not yet marked as claimed
        with nsvc.uow() as uow:
            uow.session.execute(select(Delivery.id).where(Delivery.id.in_(locked)).with_for_update())
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=other_worker)
    holder.start()
    try:
        assert entered.wait(5)
        with nsvc.uow() as uow:
            uow.session.execute(text("SET LOCAL lock_timeout = '3s'"))  # waiting would fail the test, not hang it
            got = [row.id for row in claim(uow.session, now=nsvc.clock.now(), token="worker-b", lease=LEASE,
                                           limit=32)]
        assert sorted(got) == ids[2:]
    finally:
        release.set()
        holder.join()
    assert sorted(claim_now(nsvc)) == locked  # released: the other worker did not claim them after all


def test_no_endpoint_ever_has_more_than_its_cap_claimed(nsvc, shop):
    dispatcher = dispatcher_for(nsvc, timeout=300.0)  # the dead endpoint's sends never end while the test runs
    with Receiver() as dead, Receiver() as healthy:
        dead.default.hang = True
        enqueue_raw(nsvc, shop.id, dead.url("/never"), 100)
        enqueue_raw(nsvc, shop.id, healthy.url("/fast"), 60)
        pump = threading.Thread(target=dispatcher.pump, kwargs={"budget": 1.5})
        pump.start()
        healthy.wait_for(60)
        dead.wait_for(dispatcher.per_endpoint)
        pump.join()
        with nsvc.uow() as uow:
            sending = dict(uow.session.execute(select(Delivery.endpoint_id, func.count()).where(
                Delivery.status == "sending").group_by(Delivery.endpoint_id)).all())
        # Only the dead endpoint's: at most its cap, and topped up until a claim could no longer add a full
        # per_endpoint to it (how close to the cap depends on how the first claims split the two endpoints).
        assert len(sending) == 1
        (held,) = sending.values()
        assert dispatcher.claim_cap - dispatcher.per_endpoint < held <= dispatcher.claim_cap
        assert len(dead.received) == dispatcher.per_endpoint
    assert dispatcher.drain(timeout=60)  # hung up on: the dead endpoint's sends fail at once
    dispatcher.shutdown(wait=False)
    assert len([d for d in deliveries(nsvc) if d.status == "delivered"]) == 60
