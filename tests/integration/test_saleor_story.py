# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 20, points 1-4 and 10 (Saleor): what Saleor shows for each invoice state, checked on a fake Saleor
that keeps the transaction's events, amounts and actions by Saleor core's own rules."""

from __future__ import annotations

import json
import logging
import urllib.request
from decimal import Decimal

from sqlalchemy import select

from gateway_core.adapters.models import DeliveryAttempt, Invoice
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.payments.transfers import _apply_finality
from gateway_core.ports import TxFinality
from storefront_adapters.saleor.consts import TRANSACTION_EVENT_REPORT
from tests.conftest import tick
from tests.fakes.saleor import FakeSaleor, Transaction
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    deliveries,
    dispatcher,
    napp,
    nclient,
    nsvc,
    pay,
    shop,
)
from tests.integration.saleor_support import (  # noqa: F401 - fixtures
    exact,
    initialize,
    installed,
    nsettings,
    process,
    saleor,
)
from tests.integration.test_saleor_flow import run_due


def graphql_report(saleor: FakeSaleor, **variables) -> dict:
    """transactionEventReport sent to the fake Saleor over HTTP, as any app would."""
    body = json.dumps({"query": TRANSACTION_EVENT_REPORT, "variables": variables}, default=str).encode()
    request = urllib.request.Request(saleor.api_url, body, {"Content-Type": "application/json",
                                                            "Authorization": f"Bearer {saleor.token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["data"]["transactionEventReport"]


def charge_events(tx: Transaction) -> list[tuple]:
    return [(e["type"], e["pspReference"], e["amount"], e["message"]) for e in tx.events
            if e["type"].startswith("CHARGE") and e.get("include", True) and e["type"] != "CHARGE_ACTION_REQUIRED"]


def unchanged_marks(svc) -> list[str]:
    with svc.uow() as uow:
        excerpts = uow.session.execute(select(DeliveryAttempt.response_excerpt)).scalars().all()
    return [e for e in excerpts if e and "ALREADY_PROCESSED_UNCHANGED" in e]


# -- point 10: the fake is Saleor ----------------------------------------------------------------------------


def test_the_fake_saleor_keeps_its_duplicate_and_actions_rules(nclient, installed):
    tx = installed.new_transaction("20.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    # transactionInitialize left Saleor's own CHARGE_REQUEST under the session's pspReference, out of calculations
    request, required = tx.events
    assert (request["type"], request["pspReference"], request["include"]) == ("CHARGE_REQUEST", number, False)
    assert required["type"] == "CHARGE_ACTION_REQUIRED"
    # so a CHARGE_REQUEST reported under it is a duplicate: alreadyProcessed, nothing changes (the bug of point 1)
    answer = graphql_report(installed, id=tx.id, type="CHARGE_REQUEST", amount="20.00", pspReference=number,
                            message="seen")
    assert answer["alreadyProcessed"] is True and answer["transactionEvent"]["message"] == ""
    assert tx.amounts()["chargePending"] == 0 and len(tx.events) == 2
    wrong = graphql_report(installed, id=tx.id, type="CHARGE_REQUEST", amount="19.00", pspReference=number)
    assert wrong["errors"][0]["code"] == "INCORRECT_DETAILS"
    # INFO is never a duplicate, and a report's availableActions apply (also to an already processed one)
    for _ in range(2):
        assert graphql_report(installed, id=tx.id, type="INFO", amount="1.00", pspReference=number,
                              availableActions=["CANCEL"])["alreadyProcessed"] is False
    assert [e["type"] for e in tx.events].count("INFO") == 2 and tx.available_actions == ["CANCEL"]
    graphql_report(installed, id=tx.id, type="CHARGE_REQUEST", amount="20.00", pspReference=number,
                   availableActions=[])
    assert tx.available_actions == []


def test_the_fake_saleor_applies_session_actions_only_with_the_results_saleor_applies_them_for(installed):
    tx = installed.new_transaction("5.00")

    class Answer:
        status_code = 200

        def __init__(self, answer: dict) -> None:
            self.data = json.dumps(answer).encode()

    request = tx.add_event("CHARGE_REQUEST", "", Decimal("5.00"), include=False, by=None)
    installed._session_result(tx, request, Answer({"result": "CHARGE_ACTION_REQUIRED", "pspReference": "N1",
                                                   "amount": "5.00", "actions": ["CANCEL"]}))
    assert tx.available_actions == [] and tx.psp_reference == "N1"
    installed._session_result(tx, request, Answer({"result": "CHARGE_REQUEST", "pspReference": "N1-paid",
                                                   "amount": "5.00", "actions": ["CANCEL"]}))
    assert tx.available_actions == ["CANCEL"] and tx.amounts()["chargePending"] == Decimal("5.00")


# -- point 1: payment seen ------------------------------------------------------------------------------------


def test_a_seen_payment_shows_as_a_pending_charge_with_its_message(nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("30.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    run_due(dispatcher, nsvc, clock)
    pay(nsvc, number)  # seen, not final
    run_due(dispatcher, nsvc, clock)
    amounts = tx.amounts()
    assert amounts["chargePending"] == Decimal("30.00") and amounts["charged"] == 0
    ((kind, psp, amount, message),) = charge_events(tx)
    assert (kind, psp, amount) == ("CHARGE_REQUEST", f"{number}-paid", Decimal("30.00"))
    assert "seen on sandbox" in message and "waiting for it to become final" in message
    assert tx.available_actions == []  # nothing to cancel once money is on its way
    assert [r.answered for r in installed.reports] == ["ok", "ok"] and unchanged_marks(nsvc) == []


def test_an_already_processed_report_that_was_meant_to_change_something_is_a_warning(
        nclient, nsvc, installed, dispatcher, clock, caplog):
    tx = installed.new_transaction("30.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    run_due(dispatcher, nsvc, clock)
    # Saleor already holds a request event of its own under this pspReference, out of its calculations (what
    # the report under the session's pspReference ran into before issue 20)
    tx.add_event("CHARGE_REQUEST", f"{number}-paid", Decimal("30.00"), include=False, by=None)
    pay(nsvc, number)
    with caplog.at_level(logging.WARNING, logger="storefront_adapters.saleor.channel"):
        run_due(dispatcher, nsvc, clock)
    assert installed.reports[-1].answered == "already_processed" and tx.amounts()["chargePending"] == 0
    assert deliveries(nsvc, channel="saleor")[-1].status == "delivered"  # retrying would change nothing either
    (mark,) = unchanged_marks(nsvc)
    assert f"CHARGE_REQUEST {number}-paid: Saleor kept its event" in mark
    (record,) = [r for r in caplog.records if r.message == "saleor report changed nothing"]
    assert record.levelno == logging.WARNING and record.invoice_number == number and record.transaction_id == tx.id


def test_a_transfer_dropped_before_finality_clears_the_pending_charge_and_offers_cancel_again(
        nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("30.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    with nsvc.uow() as uow:
        transfer = simulate_payment(uow, number, nsvc.clock, "USDC")
    tick(nsvc)  # seen, not final
    run_due(dispatcher, nsvc, clock)
    assert tx.amounts()["chargePending"] == Decimal("30.00") and tx.available_actions == []
    with nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        invoice_id, payment_id = invoice.id, invoice.payments[0].id
    with nsvc.uow() as uow:
        _apply_finality(uow.session, invoice_id, [payment_id],
                        {transfer.tx_id: TxFinality(confirmations=0, final=False, exists=False)}, clock.now())
    run_due(dispatcher, nsvc, clock)
    dropped = installed.reported()[-1]
    assert (dropped["type"], dropped["pspReference"]) == ("CHARGE_FAILURE", f"{number}-paid")
    assert "dropped by the network" in dropped["message"]
    assert tx.amounts()["chargePending"] == 0 and tx.charge_status() == "NONE"
    assert tx.available_actions == ["CANCEL"]
    response, _ = installed.transaction_process(nclient, tx)
    assert response is None  # Saleor holds a final session result (the request) and no longer asks the app


# -- point 2: one story per state -----------------------------------------------------------------------------


def test_transaction_process_and_the_reports_tell_saleor_the_same_thing(nclient, nsvc, installed, dispatcher, clock):
    polled, quiet = installed.new_transaction("40.00"), installed.new_transaction("40.00")
    numbers = {tx.id: initialize(nclient, installed, tx)["pspReference"] for tx in (polled, quiet)}
    run_due(dispatcher, nsvc, clock)
    for tx in (polled, quiet):
        pay(nsvc, numbers[tx.id])
    # The storefront polls one of them in the finality window, before the outbox reports the payment.
    seen = process(nclient, installed, polled)
    assert (seen["type"], seen["pspReference"]) == ("CHARGE_REQUEST", f"{numbers[polled.id]}-paid")
    assert polled.charge_status() == "FULL"  # a pending charge covers the checkout: checkoutComplete may run
    run_due(dispatcher, nsvc, clock)
    assert unchanged_marks(nsvc) == []  # the report found our own answer, word for word
    for tx in (polled, quiet):
        assert tx.amounts()["chargePending"] == Decimal("40.00") and tx.charge_status() == "FULL"
    assert [e[0] for e in charge_events(polled)] == [e[0] for e in charge_events(quiet)] == ["CHARGE_REQUEST"]
    (report,) = installed.reported("already_processed")  # the polled one: our answer, word for word
    assert report["id"] == polled.id and charge_events(polled)[0][1:] == (
        report["pspReference"], report["amount"], report["message"])

    clock.advance(seconds=6)
    tick(nsvc)  # final
    run_due(dispatcher, nsvc, clock)
    assert process(nclient, installed, polled)["type"] == "CHARGE_REQUEST"  # Saleor no longer asks the app
    for tx in (polled, quiet):
        assert tx.amounts() == {"charged": Decimal("40.00"), "chargePending": 0, "canceled": 0, "cancelPending": 0}
        assert [e[0] for e in charge_events(tx)] == ["CHARGE_REQUEST", "CHARGE_SUCCESS"]
    assert unchanged_marks(nsvc) == []


def test_a_storefront_that_polls_only_after_finality_gets_the_final_charge(nclient, nsvc, installed, dispatcher,
                                                                           clock):
    tx = installed.new_transaction("40.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    pay(nsvc, number)
    clock.advance(seconds=6)
    tick(nsvc)
    final = process(nclient, installed, tx)  # before any report was delivered
    assert (final["type"], final["pspReference"], final["amount"]) == ("CHARGE_SUCCESS", f"{number}-paid",
                                                                       Decimal("40.00"))
    run_due(dispatcher, nsvc, clock)
    assert tx.amounts()["charged"] == Decimal("40.00") and tx.amounts()["chargePending"] == 0
    assert unchanged_marks(nsvc) == []


# -- point 3: Cancel ----------------------------------------------------------------------------------------


def test_cancel_is_offered_for_an_open_invoice_and_cancels_it(nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("15.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    initialize(nclient, installed, tx)  # a retried initialize offers it once
    assert [d.event_type for d in deliveries(nsvc, channel="saleor")] == ["invoice.created"]
    run_due(dispatcher, nsvc, clock)
    assert tx.available_actions == ["CANCEL"]
    info = tx.events[-1]
    assert info["type"] == "INFO" and number in info["message"] and "15.00 USD" in info["message"]

    _, event = installed.request_cancel(nclient, tx)
    assert (event["type"], event["pspReference"]) == ("CANCEL_SUCCESS", number) and tx.available_actions == []
    with nsvc.uow() as uow:
        assert uow.session.execute(select(Invoice.status).where(Invoice.number == number)).scalar_one() == "cancelled"
    run_due(dispatcher, nsvc, clock)
    failure = tx.events[-1]
    assert (failure["type"], failure["message"]) == ("CHARGE_FAILURE", f"Invoice {number} cancelled")
    assert process(nclient, installed, tx)["message"] == failure["message"]  # one story: the recorded failure


def test_cancel_is_withdrawn_once_the_payment_is_seen(nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("15.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    run_due(dispatcher, nsvc, clock)
    assert tx.available_actions == ["CANCEL"]
    pay(nsvc, number)
    run_due(dispatcher, nsvc, clock)
    assert tx.available_actions == []


# -- point 4: partial payments --------------------------------------------------------------------------------


def test_partial_payments_show_as_they_happen_and_the_top_up_completes_the_charge(
        nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("12.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    pay(nsvc, number, "USDC", Decimal("5"))
    run_due(dispatcher, nsvc, clock)
    info = installed.reported()[-1]
    assert (info["type"], info["amount"], info["availableActions"]) == ("INFO", Decimal("5.00"), ["CANCEL"])
    assert "5.00 USD of 12.00 USD received" in info["message"] and "waiting for the rest" in info["message"]
    answer = process(nclient, installed, tx)  # the storefront sees the same
    assert answer["type"] == "CHARGE_ACTION_REQUIRED" and "5.00 USD received so far" in answer["message"]
    pay(nsvc, number, "USDC", Decimal("7"))
    clock.advance(seconds=6)
    tick(nsvc)
    run_due(dispatcher, nsvc, clock)
    assert tx.amounts()["charged"] == Decimal("12.00")


def test_an_underpaid_close_charges_what_was_received_and_a_late_top_up_the_rest(
        nclient, nsvc, installed, dispatcher, clock):
    tx = installed.new_transaction("12.00")
    number = initialize(nclient, installed, tx)["pspReference"]
    with nsvc.uow() as uow:
        simulate_payment(uow, number, nsvc.clock, "USDC", Decimal("5"))
    tick(nsvc)
    clock.advance(hours=25)
    tick(nsvc)  # closed underpaid
    run_due(dispatcher, nsvc, clock)
    assert tx.amounts()["charged"] == Decimal("5.00") and tx.charge_status() == "PARTIAL"
    pay(nsvc, number, "USDC", Decimal("7"))  # after the close
    clock.advance(seconds=6)
    tick(nsvc)
    run_due(dispatcher, nsvc, clock)
    assert [r["pspReference"] for r in installed.reported()[-2:]] == [f"{number}-late"] * 2
    assert tx.amounts() == {"charged": Decimal("12.00"), "chargePending": 0, "canceled": 0, "cancelPending": 0}
    assert [d.status for d in deliveries(nsvc, channel="saleor")] == ["delivered"] * 5
