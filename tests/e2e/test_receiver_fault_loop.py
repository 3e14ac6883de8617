# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""Fault loop (issue 23 point 7): a webhook receiver answers 500, then hangs beyond the send timeout, then
recovers. Its delivery is tried again exactly on the documented schedule (attempt times read against the
injected clock), and deliveries to another endpoint go out at once meanwhile, in every phase.

The clock is frozen between steps and moved to each retry's due time: the loop runs as many pumps as the
schedule has attempts, and stops by itself once the delivery is delivered (or at its bound, failing). Only a
hung send costs real time: the send timeout, a second.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from gateway_core.adapters.models import Delivery, DeliveryAttempt
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.domain.delivery import schedule
from gateway_core.stores.manage import NewStore
from tests.fakes.receiver import Receiver
from tests.integration.notify_support import enqueue_raw, nsettings, nsvc, shop  # noqa: F401 - fixtures

TIMEOUT = 1.0  # the send timeout (real seconds): a hung attempt costs this much
PHASES = ("500", "500", "500", "hang", "hang", "ok")  # what the receiver does at each attempt
OTHERS_PER_PHASE = 3  # deliveries to the healthy endpoint created while the faulty one fails


def attempts(svc: Services, event_id: str) -> list[DeliveryAttempt]:
    with svc.uow() as uow:
        rows = list(uow.session.scalars(select(DeliveryAttempt).join(Delivery)
                                        .where(Delivery.event_id == event_id).order_by(DeliveryAttempt.number)))
        uow.session.expunge_all()
        return rows


def delivery(svc: Services, event_id: str) -> Delivery:
    with svc.uow() as uow:
        row = uow.session.scalars(select(Delivery).where(Delivery.event_id == event_id)).one()
        uow.session.expunge(row)
        return row


def test_retries_follow_the_schedule_through_500_hang_and_recovery_without_delaying_others(
        nsvc: Services, shop: NewStore, clock: FrozenClock) -> None:
    worker = dispatcher_for(nsvc, timeout=TIMEOUT)
    others: list[str] = []
    try:
        with Receiver() as faulty, Receiver() as healthy:
            (event_id,) = enqueue_raw(nsvc, shop.id, faulty.url("/hook"), 1)
            first = clock.now()
            due = [first] + [first + offset for offset in schedule()]
            for number, phase in enumerate(PHASES, start=1):
                assert delivery(nsvc, event_id).next_attempt_at == due[number - 1]
                if number > 1:  # a second early, nothing is due: the pump sends nothing
                    clock.current = due[number - 1] - timedelta(seconds=1)
                    worker.run_until_idle(timeout=30)
                    assert len(attempts(nsvc, event_id)) == number - 1
                    clock.current = due[number - 1]
                if phase == "ok":
                    faulty.on("/hook", status=200)
                else:
                    faulty.on("/hook", status=500, hang=phase == "hang")
                sent = threading.Thread(target=worker.pump)  # as the scheduler runs it
                sent.start()
                faulty.wait_for(number, "/hook")  # the attempt is on the wire (and, hung, stays there)
                sent.join()
                # Meanwhile another endpoint's deliveries go out at once, while the faulty one is still being
                # tried: its attempt is not on record until its answer, or its timeout, comes.
                ids = enqueue_raw(nsvc, shop.id, healthy.url("/fast"), OTHERS_PER_PHASE)
                others += ids
                worker.pump()
                healthy.wait_for(len(others), "/fast")
                if phase == "hang":
                    assert len(attempts(nsvc, event_id)) == number - 1, "another endpoint waited for the hang"
                assert worker.drain(timeout=30)
                tried = attempts(nsvc, event_id)
                assert len(tried) == number
                assert tried[-1].started_at == due[number - 1]  # on the schedule, to the second
                assert tried[-1].ok == (phase == "ok")
                if phase == "hang":
                    assert tried[-1].error == f"timed out after {TIMEOUT:g}s"
                for other in ids:  # sent once, at once: when created, not at any retry of the faulty one
                    (only,) = attempts(nsvc, other)
                    assert only.ok and only.started_at == clock.now()
            done = delivery(nsvc, event_id)
            assert done.status == "delivered" and done.attempts == len(PHASES)
            faulty_ids = Counter(r.header("webhook-id") for r in faulty.posts("/hook"))
            healthy_ids = Counter(r.header("webhook-id") for r in healthy.posts("/fast"))
    finally:
        worker.shutdown(wait=False)
    assert faulty_ids == {event_id: len(PHASES)}  # the same event id on every attempt
    assert healthy_ids == dict.fromkeys(others, 1)  # each exactly once
    print(f"receiver fault loop: 1 faulty delivery in {len(PHASES)} attempts {PHASES}, on schedule "
          f"{[str(d - first) for d in due[:len(PHASES)]]}; {len(others)} deliveries to another endpoint, each "
          f"sent once at once; lost 0, duplicated 0")
