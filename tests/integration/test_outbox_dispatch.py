# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""Acceptance 1, 4 and 7 of issue 4: the outbox is written with the status change, claimed atomically, sent
outside transactions with every attempt recorded, retried on schedule, and guarded against SSRF."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway_core.adapters.models import Delivery, DeliveryAttempt, Email, Event, Invoice
from gateway_core.adapters.notify.webhooks import MAX_RESPONSE_BYTES, GuardedHttp
from gateway_core.bootstrap import build_services, dispatcher_for
from gateway_core.domain.lifecycle import Status
from gateway_core.payments.assess import lock_invoice, move
from tests.conftest import post_json
from tests.fakes.receiver import Receiver
from tests.fakes.tls import contexts
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    CREATE,
    configure,
    create,
    deliveries,
    dispatcher,
    enqueue_raw,
    napp,
    nclient,
    notify_settings_for,
    nsettings,
    nsvc,
    pay,
    receiver,
    shop,
)


def test_deliveries_are_written_in_the_status_change_transaction_or_not_at_all(nsvc, nclient, shop, receiver):
    configure(nsvc, shop.id, webhook_url=receiver.url("/store"), email_notifications=True)
    number = create(nclient, shop.api_key, callback_url=receiver.url("/cb"))["invoice_number"]
    with pytest.raises(RuntimeError), nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        move(uow.session, lock_invoice(uow.session, invoice.id), Status.CANCELLED, nsvc.clock.now())
        assert uow.session.execute(select(func.count()).select_from(Delivery)).scalar_one() == 3  # flushed
        raise RuntimeError("crash before commit")
    assert deliveries(nsvc) == []  # rolled back together with the status change
    with nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        move(uow.session, lock_invoice(uow.session, invoice.id), Status.CANCELLED, nsvc.clock.now())
    rows = deliveries(nsvc)
    assert sorted(d.channel for d in rows) == ["callback", "email", "store"]
    with nsvc.uow() as uow:
        event = uow.session.execute(select(Event).where(Event.type == "invoice.cancelled")).scalar_one()
    assert {d.event_id for d in rows} == {event.event_id} and {d.status for d in rows} == {"pending"}
    assert receiver.posts() == []  # nothing is sent from the request or the transaction


def test_failures_walk_the_whole_retry_schedule_then_dead_letter_and_email_the_merchant(
        nsvc, nclient, shop, receiver, dispatcher, clock):
    receiver.on("/cb", status=500, body=b'{"error":"down for maintenance"}')
    number = create(nclient, shop.api_key, callback_url=receiver.url("/cb"))["invoice_number"]
    with nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        move(uow.session, lock_invoice(uow.session, invoice.id), Status.CANCELLED, nsvc.clock.now())
    start = clock.now()
    (delivery,) = deliveries(nsvc, channel="callback")
    for _ in range(40):
        if delivery.status == "dead":
            break
        dispatcher.run_until_idle()
        (delivery,) = deliveries(nsvc, channel="callback")
        if delivery.status == "pending":
            clock.current = delivery.next_attempt_at
    with nsvc.uow() as uow:
        attempts = uow.session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
                                       .order_by(DeliveryAttempt.id)).scalars().all()
    offsets = [int((a.started_at - start).total_seconds()) for a in attempts]
    assert offsets == [0, 10, 40, 100] + [100 + 1800 * k for k in range(1, 12)]
    assert offsets[-1] <= 6 * 3600
    assert all(a.status_code == 500 and not a.ok and a.latency_ms >= 0 for a in attempts)
    assert attempts[0].response_excerpt == '{"error":"down for maintenance"}'
    assert [a.number for a in attempts] == list(range(1, 16))
    assert len(receiver.posts("/cb")) == 15
    assert len({r.header("webhook-id") for r in receiver.posts("/cb")}) == 1  # one event id on every retry

    # Dead-lettered: the merchant is told by email (the log mailer keeps it in the database).
    notice = deliveries(nsvc, event_type="delivery_failed")
    assert len(notice) == 1 and notice[0].recipient == "owner@shop.test"
    dispatcher.run_until_idle()
    with nsvc.uow() as uow:
        (email,) = uow.session.execute(select(Email)).scalars().all()
    assert email.subject == f"[Sandbox] Webhook failing: payment_cancelled, invoice {number}"
    assert number in email.text_body
    assert "15 attempts" in email.text_body and email.transport == "log"


@pytest.mark.parametrize(("status", "ok"), [(200, True), (204, True), (299, True), (302, False), (404, False),
                                            (410, False), (503, False)])
def test_success_is_a_2xx_answer_and_redirects_are_not_followed(nsvc, shop, receiver, dispatcher, status, ok):
    receiver.on("/hook", status=status, headers={"Location": receiver.url("/elsewhere")})
    enqueue_raw(nsvc, shop.id, receiver.url("/hook"), 1)
    dispatcher.run_until_idle()
    (delivery,) = deliveries(nsvc)
    assert delivery.status == ("delivered" if ok else "pending") and delivery.last_status_code == status
    assert [r.path for r in receiver.received] == ["/hook"]  # never the Location


def test_a_slow_answer_is_a_timeout_and_the_body_read_is_capped(nsvc, shop, receiver, dispatcher):
    receiver.on("/slow", hang=True)  # answers only when the receiver stops, long after the timeout
    receiver.on("/huge", body=b"x" * (10 * 1024 * 1024))
    transport = GuardedHttp(["127.0.0.1"])
    slow = transport.post(receiver.url("/slow"), b"{}", {}, timeout=0.5)
    assert not slow.ok and slow.error == "timed out after 0.5s" and slow.latency >= 0.5
    huge = transport.post(receiver.url("/huge"), b"{}", {}, timeout=5)
    assert huge.ok and len(huge.body) == MAX_RESPONSE_BYTES == 64 * 1024
    enqueue_raw(nsvc, shop.id, receiver.url("/huge"), 1)
    dispatcher.run_until_idle()
    with nsvc.uow() as uow:
        attempt = uow.session.execute(select(DeliveryAttempt)).scalar_one()
    assert attempt.ok and len(attempt.response_excerpt or "") == 500


def test_an_endpoint_that_hangs_never_delays_another(nsvc, shop):
    # No send times out while the test runs: whatever the healthy endpoint gets, it gets while the other hangs.
    worker = dispatcher_for(nsvc, timeout=300.0)
    try:
        with Receiver() as dead, Receiver() as healthy:
            dead.default.hang = True  # accepts, reads, never answers (until the receiver stops)
            enqueue_raw(nsvc, shop.id, dead.url("/never"), 20)  # queued first: the oldest deliveries
            enqueue_raw(nsvc, shop.id, healthy.url("/fast"), 5)
            pump = threading.Thread(target=worker.pump, kwargs={"budget": 2})  # as the scheduler runs it
            pump.start()
            assert len(healthy.wait_for(5)) == 5
            dead.wait_for(worker.per_endpoint)
            pump.join()
            # Its sends never end, so no slot frees: the dead endpoint got only its own slots' worth.
            assert len(dead.received) == worker.per_endpoint
        assert worker.drain(timeout=60)  # hung up on: the rest fail at once
    finally:
        worker.shutdown(wait=False)


def test_thirty_second_hang_does_not_hold_another_endpoints_webhook(nsvc, shop):
    """The acceptance wording: one endpoint sleeping 30 s, another receiving its webhook within 1 s.

    Here: the other receives it while the first still sleeps, which a wall clock on a busy machine cannot blur.
    """
    worker = dispatcher_for(nsvc)  # the production 30 s timeout
    try:
        with Receiver() as sleepy, Receiver() as healthy:
            sleepy.default.hang = True  # sleeps until the receiver stops, beyond the 30 s timeout
            enqueue_raw(nsvc, shop.id, sleepy.url("/sleep"), 1)
            enqueue_raw(nsvc, shop.id, healthy.url("/fast"), 1)
            pump = threading.Thread(target=worker.pump, kwargs={"budget": 1})
            pump.start()
            healthy.wait_for(1, timeout=20.0)  # under the 30 s a send behind the sleeping one would wait
            sleepy.wait_for(1)  # the sleeping endpoint got its request, and sleeps on it
            pump.join()
    finally:
        worker.shutdown(wait=False)


def test_two_dispatchers_claim_each_delivery_once(nsvc, shop, receiver, nsettings, clock):
    ids = enqueue_raw(nsvc, shop.id, receiver.url("/hook"), 200)
    other = build_services(nsettings, clock=clock)  # a second worker: its own engine and connections
    workers = [dispatcher_for(nsvc, per_endpoint=16), dispatcher_for(other, per_endpoint=16)]
    try:
        threads = [threading.Thread(target=w.run_until_idle, kwargs={"timeout": 30}) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for w in workers:
            w.shutdown()
        if other.engine is not None:
            other.engine.dispose()
    failed = [(d.status, d.last_error) for d in deliveries(nsvc) if d.status != "delivered"]
    assert not failed, failed[:3]
    seen = Counter(r.header("webhook-id") for r in receiver.posts("/hook"))
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    with nsvc.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(DeliveryAttempt)).scalar_one() == 200
    assert {d.status for d in deliveries(nsvc)} == {"delivered"}


def test_the_guard_refuses_loopback_by_default_and_allows_it_when_configured(
        database_url, tmp_path, clock, shop, receiver):
    strict = build_services(notify_settings_for(database_url, tmp_path, outbound_allowlist=()), clock=clock)
    worker = dispatcher_for(strict)
    try:
        enqueue_raw(strict, shop.id, receiver.url("/hook"), 1)
        worker.run_until_idle()
        (delivery,) = deliveries(strict)
        assert delivery.status == "pending" and delivery.last_status_code is None
        assert "refused by SSRF guard" in (delivery.last_error or "") and "loopback" in (delivery.last_error or "")
        assert receiver.received == []  # no connection was made
    finally:
        worker.shutdown()
    allowed = build_services(notify_settings_for(database_url, tmp_path), clock=clock)  # OUTBOUND_ALLOWLIST
    other = dispatcher_for(allowed)
    try:
        clock.advance(seconds=10)
        other.run_until_idle()
        assert deliveries(allowed)[0].status == "delivered" and len(receiver.posts("/hook")) == 1
    finally:
        other.shutdown()
        for svc in (strict, allowed):
            if svc.engine is not None:
                svc.engine.dispose()


def test_callback_urls_are_checked_at_invoice_creation(database_url, tmp_path, clock, shop, receiver):
    from bridge import create_app

    strict = create_app(notify_settings_for(database_url, tmp_path, outbound_allowlist=()), clock=clock)
    client: Any = strict.test_client()
    refused = ["http://127.0.0.1:9/cb", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/cb",
               "http://localhost/cb", "http://10.0.0.5/cb", "http://[64:ff9b::7f00:1]/cb", "http://[2002:7f00:1::]/"]
    for n, url in enumerate(refused):
        response = post_json(client, CREATE, {"api_key": shop.api_key, "external_invoice_id": f"r{n}",
                                              "amount": 10, "callback_url": url})
        body = response.get_json()
        assert response.status_code == 422 and body["error_code"] == "VALIDATION_ERROR", (url, body)
        assert "callback_url" in body["errors"], body
    # A name that does not resolve here is accepted (the guard checks again before every send).
    ok = post_json(client, CREATE, {"api_key": shop.api_key, "external_invoice_id": "ok", "amount": 10,
                                    "callback_url": "https://yourstore.com/webhook/voltxt"})
    assert ok.status_code == 201, ok.get_json()
    allowed = create_app(notify_settings_for(database_url, tmp_path), clock=clock).test_client()
    ok = post_json(allowed, CREATE, {"api_key": shop.api_key, "external_invoice_id": "loop", "amount": 10,
                                     "callback_url": receiver.url("/cb")})
    assert ok.status_code == 201, ok.get_json()


def test_the_request_goes_to_the_checked_address_with_the_host_name_and_sni_kept():
    server_tls, client_tls = contexts("hooks.example")
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    with Receiver(tls=server_tls) as secure:
        transport = GuardedHttp(["127.0.0.1"], resolver=resolver, ssl_context=client_tls)
        result = transport.post(f"https://hooks.example:{secure.port}/hook", b'{"a":1}',
                                {"Content-Type": "application/json"}, timeout=5)
        assert result.ok, result
        (request,) = secure.posts()
    assert lookups == ["hooks.example"]  # resolved once, by the guard; the connection used that answer
    assert names == ["hooks.example"]  # SNI is the URL's host, not the address
    assert request.header("Host") == f"hooks.example:{secure.port}" and request.body == b'{"a":1}'
    wrong_name = GuardedHttp(["127.0.0.1"], resolver=lambda h, p: ["127.0.0.1"], ssl_context=client_tls)
    with Receiver(tls=server_tls) as secure:
        failed = wrong_name.post(f"https://other.example:{secure.port}/hook", b"{}", {}, timeout=5)
    assert not failed.ok and "CERTIFICATE_VERIFY_FAILED" in (failed.error or "")


def test_an_expired_claim_is_sent_again_after_a_crash(nsvc, shop, receiver, dispatcher, clock):
    ids = enqueue_raw(nsvc, shop.id, receiver.url("/hook"), 3)
    with nsvc.uow() as uow:  # what a worker killed mid-send leaves behind: claimed, never recorded
        for d in uow.session.execute(select(Delivery)).scalars():
            d.status, d.claimed_by, d.claimed_until = "sending", "dead-worker", clock.now() + timedelta(seconds=90)
    dispatcher.run_until_idle()
    assert receiver.posts() == []  # the lease still holds
    clock.advance(seconds=91)
    dispatcher.run_until_idle()
    assert sorted(r.header("webhook-id") for r in receiver.posts()) == sorted(ids)
    assert {d.status for d in deliveries(nsvc)} == {"delivered"}
