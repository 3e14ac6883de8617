# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 7, points 4, 5 and 8 (Saleor): signed sync webhooks, one invoice per transaction, answers in Saleor's
own result names, errors in Saleor's own fields."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select

from gateway_core.adapters.models import Invoice, PlatformOrder
from tests.conftest import tick
from tests.fakes.saleor import SigningKey
from tests.integration.notify_support import napp, nclient, nsvc, pay, shop  # noqa: F401 - fixtures
from tests.integration.saleor_support import exact, initialize, installed, nsettings, saleor, send  # noqa: F401 - fixtures

INIT = "TRANSACTION_INITIALIZE_SESSION"
PROCESS = "TRANSACTION_PROCESS_SESSION"
CANCEL = "TRANSACTION_CANCELATION_REQUESTED"


def counts(svc) -> tuple[int, int]:
    with svc.uow() as uow:
        invoices = uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one()
        orders = uow.session.execute(select(func.count()).select_from(PlatformOrder)).scalar_one()
    return invoices, orders


def test_initialize_creates_the_invoice_and_asks_the_buyer_to_pay(nclient, nsvc, installed):
    tx = installed.new_transaction("99.99")
    answer = initialize(nclient, installed, tx)
    number = answer["pspReference"]
    assert answer["result"] == "CHARGE_ACTION_REQUIRED"
    assert answer["amount"] == Decimal("99.99")  # exact, as a JSON number
    assert answer["externalUrl"] == f"https://gateway.test/pay/{number}"
    assert "actions" not in answer  # Saleor ignores them with CHARGE_ACTION_REQUIRED: an INFO report offers Cancel
    assert number in answer["message"] and "SOL, USDC, USDT" in answer["message"]
    data = answer["data"]
    assert data["paymentUrl"] == answer["externalUrl"] and data["invoiceNumber"] == number
    assert data["status"] == "pending" and data["fiatAmount"] == "99.99" and data["fiatCurrency"] == "USD"
    assert [o["asset"] for o in data["paymentOptions"]] == ["SOL", "USDC", "USDT"]
    assert all(isinstance(o["amount"], str) and Decimal(o["amount"]) > 0 for o in data["paymentOptions"])
    with nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice)).scalar_one()
        order = uow.session.execute(select(PlatformOrder)).scalar_one()
        assert (invoice.number, invoice.contract, invoice.platform) == (number, "saleor", "saleor")
        assert invoice.external_id == f"saleor:{tx.id}" and invoice.customer_email == "buyer@example.com"
        assert (order.order_ref, order.invoice_id) == (tx.id, invoice.id)
        assert order.data["pspReference"] == number and order.data["amount"] == Decimal("99.99")
        assert order.data["events"] == ["invoice.partially_paid", "invoice.paid", "invoice.payment_dropped",
                                         "invoice.confirmed", "invoice.expired", "invoice.underpaid",
                                         "invoice.cancelled"]


def test_a_retried_initialize_gets_the_same_invoice(nclient, nsvc, installed):
    tx = installed.new_transaction("25.00", "EUR")
    first = initialize(nclient, installed, tx)
    again = initialize(nclient, installed, tx)
    assert again["pspReference"] == first["pspReference"] and again["result"] == "CHARGE_ACTION_REQUIRED"
    assert counts(nsvc) == (1, 1)
    other = initialize(nclient, installed, installed.new_transaction("25.00", "EUR"))
    assert other["pspReference"] != first["pspReference"] and counts(nsvc) == (2, 2)


def test_concurrent_initialize_requests_for_one_transaction_make_one_invoice(napp, nsvc, installed):
    tx = installed.new_transaction("42.00")
    requests = [installed.webhook(INIT, installed.initialize_event(tx)) for _ in range(12)]

    def attempt(request):
        path, body, headers = request
        response = napp.test_client().post(path, data=body, headers=headers)
        return response.status_code, exact(response)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(attempt, requests))
    assert {status for status, _ in results} == {200}, results
    assert {answer["result"] for _, answer in results} == {"CHARGE_ACTION_REQUIRED"}
    assert len({answer["pspReference"] for _, answer in results}) == 1
    assert counts(nsvc) == (1, 1)


def test_process_session_answers_the_current_state(nclient, nsvc, installed, clock):
    tx = installed.new_transaction("10.00")
    number = initialize(nclient, installed, tx)["pspReference"]

    def process():
        response = send(nclient, installed, PROCESS, installed.process_event(tx))
        assert response.status_code == 200
        return exact(response)

    assert process()["result"] == "CHARGE_ACTION_REQUIRED"
    pay(nsvc, number)  # seen on chain, not final
    paid = process()
    assert (paid["result"], paid["pspReference"], paid["amount"]) == (
        "CHARGE_REQUEST", f"{number}-paid", Decimal("10.00"))
    assert paid["actions"] == [] and "waiting" in paid["message"]
    clock.advance(seconds=6)
    tick(nsvc)  # final
    final = process()
    assert final["result"] == "CHARGE_SUCCESS" and final["amount"] == Decimal("10.00") and "final" in final["message"]
    unknown = send(nclient, installed, PROCESS, installed.process_event(installed.new_transaction("1.00")))
    assert exact(unknown)["result"] == "CHARGE_FAILURE" and "No crypto payment" in exact(unknown)["message"]


def test_cancelation_cancels_an_open_invoice_and_refuses_a_paid_one(nclient, nsvc, installed):
    open_tx = installed.new_transaction("15.00")
    number = initialize(nclient, installed, open_tx)["pspReference"]
    answer = exact(send(nclient, installed, CANCEL, installed.cancel_event(open_tx, number)))
    assert answer == {"result": "CANCEL_SUCCESS", "message": f"Invoice {number} cancelled", "pspReference": number,
                      "amount": Decimal("15.00"), "actions": []}
    with nsvc.uow() as uow:
        assert uow.session.execute(select(Invoice.status).where(Invoice.number == number)).scalar_one() == "cancelled"
    after = exact(send(nclient, installed, PROCESS, installed.process_event(open_tx)))
    assert after["result"] == "CHARGE_FAILURE" and "cancelled" in after["message"]

    paid_tx = installed.new_transaction("15.00")
    paid_number = initialize(nclient, installed, paid_tx)["pspReference"]
    pay(nsvc, paid_number)
    refused = exact(send(nclient, installed, CANCEL, installed.cancel_event(paid_tx, paid_number)))
    assert refused["result"] == "CANCEL_FAILURE" and refused["pspReference"] == paid_number
    assert "can no longer be cancelled" in refused["message"]
    unknown = exact(send(nclient, installed, CANCEL, installed.cancel_event(installed.new_transaction("1.00"))))
    assert unknown["result"] == "CANCEL_FAILURE" and "pspReference" not in unknown


def test_gateway_initialize_answers_the_gateway_config(nclient, installed):
    tx = installed.new_transaction("5.00")
    response = send(nclient, installed, "PAYMENT_GATEWAY_INITIALIZE_SESSION", installed.gateway_event(tx))
    assert response.status_code == 200
    assert response.get_json() == {"data": {"gateway": "voltbridge", "network": "sandbox",
                                            "assets": ["SOL", "USDC", "USDT"], "flow": "redirect",
                                            "storeName": "Notify Shop", "expiryHours": 24}}


# -- signatures ------------------------------------------------------------------------------------------------


def test_only_bodies_signed_by_the_instance_are_accepted(nclient, nsvc, installed):
    tx = installed.new_transaction("20.00")
    path, body, headers = installed.webhook(INIT, installed.initialize_event(tx))
    fetched = installed.jwks_fetches
    tampered = nclient.post(path, data=body.replace(b"20.0", b"0.01"), headers=headers)
    assert tampered.status_code == 401 and tampered.get_json()["error"]["code"] == "INVALID_SIGNATURE"
    assert installed.jwks_fetches == fetched + 1  # one refresh, in case the key had rotated; then refused
    stranger = send(nclient, installed, INIT, installed.initialize_event(tx), sign=SigningKey().sign)
    assert stranger.status_code == 401 and installed.jwks_fetches == fetched + 2
    unsigned = nclient.post(path, data=body, headers={k: v for k, v in headers.items() if "Signature" not in k})
    garbage = nclient.post(path, data=body, headers={**headers, "Saleor-Signature": "not-a-jws"})
    assert unsigned.status_code == 401 and garbage.status_code == 401
    assert installed.jwks_fetches == fetched + 2  # malformed signatures never cost a request to the instance
    assert counts(nsvc) == (0, 0)
    good = nclient.post(path, data=body, headers=headers)
    assert good.status_code == 200 and exact(good)["result"] == "CHARGE_ACTION_REQUIRED"
    assert installed.jwks_fetches == fetched + 2  # the cached key set verified it


def test_a_rotated_key_is_picked_up_with_one_jwks_refresh(nclient, nsvc, installed):
    tx = installed.new_transaction("30.00")
    installed.rotate_key()
    fetched = installed.jwks_fetches
    assert initialize(nclient, installed, tx)["result"] == "CHARGE_ACTION_REQUIRED"
    assert installed.jwks_fetches == fetched + 1
    assert initialize(nclient, installed, tx)["result"] == "CHARGE_ACTION_REQUIRED"
    assert installed.jwks_fetches == fetched + 1  # the refreshed set was kept
    with nsvc.uow() as uow:
        from gateway_core.adapters.models import PlatformInstallation

        row = uow.session.execute(select(PlatformInstallation)).scalar_one()
        assert [k["kid"] for k in row.data["jwks"]["keys"]] == [installed.key.kid]


def test_an_instance_that_has_not_installed_the_app_is_refused(nclient, nsvc, saleor):
    saleor.read_manifest(nclient.get("/saleor/api/manifest").get_json())
    response = send(nclient, saleor, INIT, saleor.initialize_event(saleor.new_transaction("9.00")))
    assert response.status_code == 401 and "has not installed this app" in response.get_json()["error"]["message"]
    assert saleor.jwks_fetches == 0 and counts(nsvc) == (0, 0)


def test_the_event_header_must_match_the_webhook(nclient, installed):
    path, body, headers = installed.webhook(INIT, installed.initialize_event(installed.new_transaction("9.00")))
    wrong = nclient.post(path, data=body, headers={**headers, "Saleor-Event": "transaction_process_session"})
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert nclient.post("/saleor/api/webhooks/order-created", data=body, headers=headers).status_code == 404


# -- errors reach the shop owner (point 8) ---------------------------------------------------------------------


def test_an_invoice_that_cannot_be_created_fails_the_transaction_with_the_reason(nclient, nsvc, installed):
    too_much = initialize(nclient, installed, installed.new_transaction("2000000.00"))
    assert too_much["result"] == "CHARGE_FAILURE" and too_much["amount"] == Decimal("2000000.00")
    assert "above the maximum" in too_much["message"] and "pspReference" not in too_much
    assert too_much["data"]["error"]["code"] == "AMOUNT_TOO_HIGH"
    currency = initialize(nclient, installed, installed.new_transaction("10.00", "XAU"))
    assert currency["result"] == "CHARGE_FAILURE" and "Unsupported currency" in currency["message"]
    authorise = initialize(nclient, installed, installed.new_transaction("10.00"), action_type="AUTHORIZATION")
    assert authorise["result"] == "AUTHORIZATION_FAILURE" and "CHARGE" in authorise["message"]
    assert counts(nsvc) == (0, 0)


def test_a_signed_payload_without_what_a_payment_needs_is_answered_with_a_failure(nclient, nsvc, installed):
    path, _, headers = installed.webhook(INIT, installed.initialize_event(installed.new_transaction("9.00")))
    body = json.dumps({"transaction": {"id": "VHJhbnNhY3Rpb25JdGVtOjE="}, "action": {"currency": "USD"}}).encode()
    signature = installed.key.sign(body)
    response = nclient.post(path, data=body, headers={**headers, "Saleor-Signature": signature})
    answer = exact(response)
    assert response.status_code == 200 and answer["result"] == "CHARGE_FAILURE"
    assert "action.amount" in answer["message"] and counts(nsvc) == (0, 0)
    not_json = b"[1, 2]"
    response = nclient.post(path, data=not_json, headers={**headers, "Saleor-Signature": installed.key.sign(not_json)})
    assert exact(response)["result"] == "CHARGE_FAILURE" and "not a JSON object" in exact(response)["message"]
