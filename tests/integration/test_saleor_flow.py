# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 7, points 4 and 5 (Saleor): invoice events reach the Saleor transaction through the outbox as
transactionEventReport calls (CHARGE_REQUEST, CHARGE_SUCCESS, CHARGE_FAILURE), retried until Saleor accepts."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from gateway_core.adapters.models import DeliveryAttempt
from gateway_core.services.invoices import public_invoice
from gateway_core.services.sandbox import simulate_payment
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
        dispatcher.run_until_idle(timeout=10)
        pending = [d for d in deliveries(svc, channel="saleor") if d.status == "pending"]
        if not pending:
            return
        clock.current = max(clock.current, min(d.next_attempt_at for d in pending))
    raise AssertionError("saleor deliveries still pending")


def test_a_sandbox_payment_is_reported_as_charge_request_then_charge_success(
        nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("99.99")
    number = initialize(nclient, installed, tx)["pspReference"]
    assert deliveries(nsvc, channel="saleor") == []  # invoice.created is not reported
    installed.fail_next("graphql_error", "http_500")  # Saleor has a bad moment: the outbox retries

    pay(nsvc, number)
    (seen,) = deliveries(nsvc, channel="saleor")
    assert seen.event_type == "invoice.paid" and seen.endpoint.url == installed.api_url
    run_due(dispatcher, nsvc, clock)
    assert [r.answered for r in installed.reports] == ["graphql_error", "http_500", "ok"]
    (request,) = installed.reported()
    assert request["type"] == "CHARGE_REQUEST" and request["id"] == tx.id and request["pspReference"] == number
    assert request["amount"] == Decimal("99.99") and request["availableActions"] == []
    assert request["externalUrl"] == f"https://gateway.test/pay/{number}" and "waiting" in request["message"]
    assert all(r.authorization == f"Bearer {installed.token}" for r in installed.reports)
    with nsvc.uow() as uow:
        attempts = uow.session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == seen.id)
                                       .order_by(DeliveryAttempt.number)).scalars().all()
        assert [a.ok for a in attempts] == [False, False, True]
        assert "GraphQL error: [OperationalError] Internal Server Error" in attempts[0].error
        assert "HTTP 500" in attempts[1].error

    clock.advance(seconds=6)
    tick(nsvc)  # the transfer is final
    run_due(dispatcher, nsvc, clock)
    assert [r["type"] for r in installed.reported()] == ["CHARGE_REQUEST", "CHARGE_SUCCESS"]
    success = installed.reported()[-1]
    assert success["amount"] == Decimal("99.99") and success["pspReference"] == number and "final" in success["message"]
    assert [e["type"] for e in installed.transactions[tx.id].events] == ["CHARGE_REQUEST", "CHARGE_SUCCESS"]
    assert {d.status for d in deliveries(nsvc, channel="saleor")} == {"delivered"}
    assert [d.event_type for d in deliveries(nsvc, channel="saleor")] == ["invoice.paid", "invoice.confirmed"]
    with nsvc.uow() as uow:  # the same words through the storefront protocol (base.StorefrontAdapter)
        view = public_invoice(uow, number, nsvc.clock)
    update = SaleorAdapter().apply_event("invoice.confirmed", view)
    assert (update.order_id, update.action, update.detail) == (tx.id, "CHARGE_SUCCESS", success["message"])
    assert SaleorAdapter().apply_event("invoice.created", view).action == "ignored"


def test_expiry_and_underpayment_are_reported_as_charge_failure(nclient, nsvc, installed, dispatcher, clock):
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
    by_tx = {r["id"]: r for r in installed.reported()}
    assert by_tx[unpaid.id]["type"] == "CHARGE_FAILURE" and "expired unpaid" in by_tx[unpaid.id]["message"]
    assert by_tx[unpaid.id]["amount"] == Decimal("12.00")
    assert by_tx[part.id]["type"] == "CHARGE_FAILURE" and "underpaid" in by_tx[part.id]["message"]


def test_refused_reports_are_retried_and_an_already_processed_one_counts_as_accepted(
        nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("8.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    # Saleor already holds this report (e.g. a worker died after Saleor accepted, before we recorded it).
    installed.transactions[tx.id].events.append(
        {"__typename": "TransactionEvent", "id": "VHJhbnNhY3Rpb25FdmVudDox", "type": "CHARGE_REQUEST",
         "pspReference": number, "amount": Decimal("8.00"), "message": ""})
    installed.fail_next("mutation_error")
    pay(nsvc, number)
    run_due(dispatcher, nsvc, clock)
    assert [r.answered for r in installed.reports] == ["GRAPHQL_ERROR", "already_processed"]
    (delivery,) = deliveries(nsvc, channel="saleor")
    assert delivery.status == "delivered"
    with nsvc.uow() as uow:
        errors = uow.session.execute(select(DeliveryAttempt.error).where(DeliveryAttempt.delivery_id == delivery.id)
                                     .order_by(DeliveryAttempt.number)).scalars().all()
    assert errors[0] == "transactionEventReport refused: [GRAPHQL_ERROR] id: Could not report the event right now."
    assert errors[1] is None


def test_reports_need_the_registered_token(nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("8.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    installed.token = "a-token-saleor-revoked-when-the-app-was-reinstalled"
    pay(nsvc, number)
    dispatcher.run_until_idle(timeout=10)
    (delivery,) = deliveries(nsvc, channel="saleor")
    assert delivery.status == "pending" and "PermissionDenied" in delivery.last_error
    assert installed.reported() == []
