# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 7, points 4 and 5 (Saleor): invoice events reach the Saleor transaction through the outbox as
transactionEventReport calls (INFO, CHARGE_REQUEST, CHARGE_SUCCESS, CHARGE_FAILURE), retried until Saleor
accepts; the fake Saleor keeps the transaction's events and amounts as Saleor core does (issue 20)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from gateway_core.adapters.models import DeliveryAttempt
from gateway_core.invoices.manage import public_invoice
from gateway_core.payments.sandbox import simulate_payment
from storefront_adapters.saleor.adapter import SaleorAdapter
from tests.conftest import tick
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    deliveries,
    dispatcher,
    napp,
    nclient,
    nsvc,
    pay,
    shop,
)
from tests.integration.saleor_support import initialize, installed, nsettings, saleor  # noqa: F401 - fixtures


def run_due(dispatcher, svc, clock) -> None:
    """Send what is due, then walk the clock to each retry until nothing is pending."""
    for _ in range(10):
        dispatcher.run_until_idle()
        pending = [d for d in deliveries(svc, channel="saleor") if d.status == "pending"]
        if not pending:
            return
        clock.current = max(clock.current, min(d.next_attempt_at for d in pending))
    raise AssertionError("saleor deliveries still pending")


def test_a_sandbox_payment_is_reported_as_charge_request_then_charge_success(
        nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("99.99")
    number = initialize(nclient, installed, tx)["pspReference"]
    (opened,) = deliveries(nsvc, channel="saleor")  # the INFO that offers Cancel (issue 20, point 3)
    assert opened.event_type == "invoice.created"
    run_due(dispatcher, nsvc, clock)
    installed.fail_next("graphql_error", "http_500")  # Saleor has a bad moment: the outbox retries

    pay(nsvc, number)
    seen = deliveries(nsvc, channel="saleor")[-1]
    assert seen.event_type == "invoice.paid" and seen.endpoint.url == installed.api_url
    run_due(dispatcher, nsvc, clock)
    assert [r.answered for r in installed.reports] == ["ok", "graphql_error", "http_500", "ok"]
    info, request = installed.reported()
    assert info["type"] == "INFO" and info["availableActions"] == ["CANCEL"] and info["pspReference"] == number
    assert request["type"] == "CHARGE_REQUEST" and request["id"] == tx.id
    assert request["pspReference"] == f"{number}-paid"  # not Saleor's own request event's pspReference
    assert request["amount"] == Decimal("99.99") and request["availableActions"] == []
    assert request["externalUrl"] == f"https://gateway.test/pay/{number}" and "waiting" in request["message"]
    assert all(r.authorization == f"Bearer {installed.token}" for r in installed.reports)
    with nsvc.uow() as uow:
        attempts = uow.session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == seen.id)
                                       .order_by(DeliveryAttempt.number)).scalars().all()
        assert [a.ok for a in attempts] == [False, False, True]
        assert "GraphQL error: [OperationalError] Internal Server Error" in attempts[0].error
        assert "HTTP 500" in attempts[1].error
    assert installed.transactions[tx.id].amounts()["chargePending"] == Decimal("99.99")

    clock.advance(seconds=6)
    tick(nsvc)  # the transfer is final
    run_due(dispatcher, nsvc, clock)
    assert [r["type"] for r in installed.reported()] == ["INFO", "CHARGE_REQUEST", "CHARGE_SUCCESS"]
    success = installed.reported()[-1]
    assert success["amount"] == Decimal("99.99") and success["pspReference"] == f"{number}-paid"
    assert "final" in success["message"]
    saleor_tx = installed.transactions[tx.id]
    assert [e["type"] for e in saleor_tx.events] == [
        "CHARGE_REQUEST", "CHARGE_ACTION_REQUIRED", "INFO", "CHARGE_REQUEST", "CHARGE_SUCCESS"]
    assert saleor_tx.amounts()["charged"] == Decimal("99.99") and saleor_tx.amounts()["chargePending"] == 0
    assert {d.status for d in deliveries(nsvc, channel="saleor")} == {"delivered"}
    assert [d.event_type for d in deliveries(nsvc, channel="saleor")] == [
        "invoice.created", "invoice.paid", "invoice.confirmed"]
    with nsvc.uow() as uow:  # the same words through the storefront protocol (base.StorefrontAdapter)
        view = public_invoice(uow, number, nsvc.clock)
    update = SaleorAdapter().apply_event("invoice.confirmed", view)
    assert (update.order_id, update.action, update.detail) == (tx.id, "CHARGE_SUCCESS", success["message"])
    assert SaleorAdapter().apply_event("invoice.reopened", view).action == "ignored"


def test_expiry_and_underpayment_are_reported(nclient, nsvc, installed, dispatcher, clock):
    unpaid = installed.new_transaction("12.00")
    initialize(nclient, installed, unpaid)
    part = installed.new_transaction("12.00")
    part_number = initialize(nclient, installed, part)["pspReference"]
    with nsvc.uow() as uow:
        simulate_payment(uow, part_number, nsvc.clock, "USDC", Decimal("5"))
    tick(nsvc)
    clock.advance(hours=25)
    tick(nsvc)
    run_due(dispatcher, nsvc, clock)
    last = {r["id"]: r for r in installed.reported()}
    assert last[unpaid.id]["type"] == "CHARGE_FAILURE" and "expired unpaid" in last[unpaid.id]["message"]
    assert last[unpaid.id]["amount"] == Decimal("12.00") and last[unpaid.id]["availableActions"] == []
    closed = last[part.id]  # what was received is charged (issue 20, point 4)
    assert (closed["type"], closed["amount"], closed["pspReference"]) == (
        "CHARGE_SUCCESS", Decimal("5.00"), f"{part_number}-paid")
    assert "underpaid: 5.00 USD of 12.00 USD received" in closed["message"]
    assert installed.transactions[part.id].amounts()["charged"] == Decimal("5.00")
    assert installed.transactions[unpaid.id].amounts()["charged"] == 0


def test_refused_reports_are_retried_and_an_already_processed_one_counts_as_accepted(
        nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("8.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    run_due(dispatcher, nsvc, clock)
    # Saleor takes the report but its answer is lost (a proxy timed out): the retry finds our own event.
    installed.fail_next("mutation_error", "lost_answer")
    pay(nsvc, number)
    run_due(dispatcher, nsvc, clock)
    assert [r.answered for r in installed.reports][1:] == ["GRAPHQL_ERROR", "ok", "already_processed"]
    delivery = deliveries(nsvc, channel="saleor")[-1]
    assert delivery.status == "delivered"
    with nsvc.uow() as uow:
        attempts = uow.session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
                                       .order_by(DeliveryAttempt.number)).scalars().all()
    assert attempts[0].error == ("transactionEventReport refused: [GRAPHQL_ERROR] id: Could not report the event "
                                 "right now.")
    assert "HTTP 502" in attempts[1].error
    assert attempts[2].error is None and "ALREADY_PROCESSED" not in attempts[2].response_excerpt  # ours: no warning
    assert [e["type"] for e in installed.transactions[tx.id].events].count("CHARGE_REQUEST") == 2


def test_reports_need_the_registered_token(nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("8.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    installed.token = "a-token-saleor-revoked-when-the-app-was-reinstalled"
    pay(nsvc, number)
    dispatcher.run_until_idle()
    assert [d.event_type for d in deliveries(nsvc, channel="saleor")] == ["invoice.created", "invoice.paid"]
    delivery = deliveries(nsvc, channel="saleor")[0]  # the next waits behind it: one invoice's reports in order
    assert delivery.status == "pending" and "PermissionDenied" in delivery.last_error
    assert installed.reported() == []
