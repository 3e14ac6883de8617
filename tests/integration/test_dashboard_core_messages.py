# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""The core's refusals on the dashboard's pages in the visitor's language (issue 22 point 8): each form the core
can refuse, posted with bad input in German, says the core's sentence and its field detail through the locale
files, by the key the core raised them with (the APIs keep the English: tests/contracts)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest

from gateway_core.accounts.members import create_store_for
from gateway_core.notifications.notify_settings import CHALLENGE_TIMEOUT
from tests.integration.dashboard_support import add_member, csrf_token, make_user, post_form, sign_in
from tests.integration.invoice_page_support import new_invoice, unmatched_payment
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    configure,
    napp,
    nclient,
    nsettings,
    nsvc,
    pay,
    receiver,
)

DE = json.loads((Path(__file__).resolve().parents[2] / "locales/de.json").read_text(encoding="utf-8"))


def de(key: str, **values: object) -> str:
    text = DE[f"dash_core_{key}"]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _text(answer: Any) -> str:
    return html.unescape(answer.get_data(as_text=True))


@pytest.fixture
def shop(nsvc, nclient, receiver) -> dict[str, Any]:
    """A sandbox store with a store webhook and two open invoices; its manager signed in, reading German."""
    owner = make_user(nsvc, "owner@shop.test")
    make_user(nsvc, "manager@shop.test")
    with nsvc.uow() as uow:
        store = create_store_for(uow, nsvc.vault, owner.id, name="Shop", network="sandbox", email="owner@shop.test")
    add_member(nsvc, store.id, "manager@shop.test", "manager")
    configure(nsvc, store.id, webhook_url=receiver.url("/store"))
    nclient.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9"
    sign_in(nclient, "manager@shop.test")
    return {"store": store.id, "first": new_invoice(nsvc, store.id), "second": new_invoice(nsvc, store.id),
            "base": f"/dashboard/stores/{store.id}"}


def test_store_creation_and_editing_refusals_speak_german(nsvc, nclient, shop) -> None:
    sign_in(nclient, "owner@shop.test")  # where the money goes is the owner's
    new = "/dashboard/stores/new"
    bad_wallet = post_form(nclient, new, {"name": "Laden", "network": "devnet", "settlement_mode": "direct",
                                          "language": "de", "wallet_sol": "0OIl"}, token_from=new)
    page = _text(bad_wallet)
    assert bad_wallet.status_code == 422 and de("store_invalid_wallet", asset="SOL") in page
    assert de("d_bad_address", address="0OIl", problem=de("addr_not_base58")) in page
    assert "Invalid SOL wallet" not in page and "not base58" not in page
    taken = post_form(nclient, new, {"name": "Shop", "network": "sandbox", "settlement_mode": "direct",
                                     "language": "de"}, token_from=new)
    assert taken.status_code == 422 and de("store_name_taken") in _text(taken)
    assert de("d_store_name_taken", name="Shop") in _text(taken)
    bad_xpub = post_form(nclient, new, {"name": "Laden", "network": "sandbox", "settlement_mode": "direct",
                                        "language": "de", "tron_xpub": "xpubnonsense"}, token_from=new)
    assert bad_xpub.status_code == 422 and de("invalid_tron_xpub") in _text(bad_xpub)

    edit = f"{shop['base']}/edit"
    terms = {"name": "Shop", "platform_fee_percent": "0", "underpayment_tolerance_percent": "0",
             "default_expiry_hours": "24", "settlement_mode": "direct"}
    fee = post_form(nclient, edit, {**terms, "platform_fee_percent": "101"}, token_from=edit)
    assert fee.status_code == 422 and de("invalid_percentage") in _text(fee)
    assert de("d_range", low=0, high=100) in _text(fee) and "Invalid percentage" not in _text(fee)
    expiry = post_form(nclient, edit, {**terms, "default_expiry_hours": "100000"}, token_from=edit)
    assert expiry.status_code == 422 and de("invalid_expiry") in _text(expiry)


def test_inbox_attach_refusals_speak_german(nsvc, nclient, shop) -> None:
    payment_id = unmatched_payment(nsvc, shop["store"])

    def attach(number: str) -> Any:
        token = csrf_token(nclient, f"{shop['base']}/inbox")
        return nclient.post(f"{shop['base']}/inbox/{payment_id}/attach", data={"csrf_token": token,
                                                                               "invoice": number})

    missing = attach("INV-NOPE")
    assert missing.status_code == 422 and de("invoice_not_found") in _text(missing)
    assert attach(shop["first"]).status_code == 302
    again = attach(shop["second"])
    assert again.status_code == 409 and de("attached_already") in _text(again)
    assert "attached already" not in _text(again)


def test_invoice_page_refusals_speak_german(nsvc, nclient, shop) -> None:
    page = f"{shop['base']}/invoices/{shop['first']}"

    def post(path: str, form: dict[str, str] | None = None) -> Any:
        return nclient.post(path, data={"csrf_token": csrf_token(nclient, page), **(form or {})})

    undecidable = post(f"{page}/decision", {"decision": "accepted", "note": "Stammkunde."})
    assert undecidable.status_code == 409
    assert de("nothing_to_decide", status=DE["dash_status_pending"]) in _text(undecidable)
    blank = post(f"{page}/decision", {"decision": "accepted", "note": "   "})
    assert blank.status_code == 422 and de("decision_needs_note") in _text(blank)
    pay(nsvc, shop["second"])
    paid = f"{shop['base']}/invoices/{shop['second']}"
    refused = post(f"{paid}/cancel")
    assert refused.status_code == 409
    assert de("cannot_cancel", status=DE["dash_status_settled"]) in _text(refused)
    assert "can no longer be cancelled" not in _text(refused)


def test_notification_settings_refusals_speak_german(nsvc, nclient, receiver, shop) -> None:
    receiver.on("/bad", status=500)
    challenged = post_form(nclient, f"{shop['base']}/notifications/settings",
                           {"webhook_url": receiver.url("/bad")}, token_from=f"{shop['base']}/notifications")
    page = _text(challenged)
    assert challenged.status_code == 422
    assert de("challenge_status", code=500, timeout=f"{CHALLENGE_TIMEOUT:g}") in page
    assert de("d_challenge_status", code=500) in page and "verification failed" not in page
    not_http = post_form(nclient, f"{shop['base']}/notifications/settings", {"webhook_url": "ftp://x.test/"},
                         token_from=f"{shop['base']}/notifications")
    assert not_http.status_code == 422 and de("request_invalid") in _text(not_http)
    assert de("d_http_url") in _text(not_http)
    sign_in(nclient, "owner@shop.test")
    local = post_form(nclient, f"{shop['base']}/contract-webhooks", {"contract": "veltpay",
                                                                    "url": "ftp://x.test/hook"},
                      token_from=f"{shop['base']}/notifications")
    assert local.status_code == 422 and de("webhook_url_not_allowed") in _text(local)


def test_invoice_list_filter_refusals_speak_german(nclient, shop) -> None:
    answer = nclient.get(f"{shop['base']}/invoices?status=lost&from=gestern")
    page = _text(answer)
    assert answer.status_code == 400 and de("invalid_filter") in page
    assert de("d_date_or_time") in page and DE["dash_core_d_one_of"].split("{")[0] in page
    assert "Invalid invoice filter" not in page
