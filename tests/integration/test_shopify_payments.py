# ruff: noqa: F811 - pytest fixtures are imported from shopify_support and used as arguments
"""Issue 7, points 6-8 for Shopify: payment sessions paid by sandbox invoices, reported back through the
Payments Apps GraphQL API (a fake Shopify on 127.0.0.1) by the outbox; refunds rejected with a reason."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from gateway_core.adapters.models import DeliveryAttempt, Invoice, PlatformOrder
from gateway_core.stores.manage import create_store
from gateway_core.views import invoice_view
from storefront_adapters.shopify.adapter import ShopifyAdapter
from tests.conftest import tick
from tests.fakes.shopify import payment_session, refund_session
from tests.integration.shopify_support import (  # noqa: F401 - fixtures
    SHOP,
    fake_shopify,
    install_shop,
    installed,
    invoice_of,
    pay,
    post_session,
    sandbox_store,
    sapp,
    sclient,
    sdispatcher,
    shopify_deliveries,
    ssettings,
    ssvc,
)

# Every Shopify payment session resolution the fake saw, in order (configure, sent at install, is left out).
SESSION_MUTATIONS = ("paymentSessionPending", "paymentSessionResolve", "paymentSessionReject")


def session_calls(fake):
    return [c for c in fake.mutations() if c.field in SESSION_MUTATIONS]


def test_payment_session_answers_our_pay_page_with_shopify_amount_parsed_exactly(ssvc, sclient, installed):
    body = payment_session(amount="123.45", currency="USD")
    response = post_session(sclient, body)
    assert response.status_code == 201
    invoice = invoice_of(ssvc, body["id"])
    assert response.get_json() == {"redirect_url": f"https://gateway.test/pay/{invoice.number}"}
    assert (invoice.contract, invoice.platform, invoice.external_id) == ("shopify", "shopify", f"shopify:{body['id']}")
    assert (invoice.price_currency, invoice.fiat_minor, invoice.network) == ("USD", 12345, "sandbox")
    assert invoice.cancel_url == body["payment_method"]["data"]["cancel_url"]
    assert invoice.customer_email is None and invoice.customer_name is None  # buyers' details are not kept
    with ssvc.uow() as uow:
        order = uow.session.execute(select(PlatformOrder).where(PlatformOrder.order_ref == body["id"])).scalar_one()
        assert order.data["gid"] == body["gid"]
        assert order.data["events"] == ["invoice.paid", "invoice.confirmed", "invoice.expired", "invoice.underpaid",
                                        "invoice.cancelled"]
    # JSON numbers are read as exact decimals too, and zero-decimal currencies keep their exponent.
    numeric = payment_session(amount=Decimal("0.10"), currency="EUR")
    assert post_session(sclient, numeric).status_code == 201
    assert invoice_of(ssvc, numeric["id"]).fiat_minor == 10
    yen = payment_session(amount="1500", currency="JPY")
    assert post_session(sclient, yen).status_code == 201
    assert invoice_of(ssvc, yen["id"]).fiat_minor == 1500


def test_full_sandbox_payment_goes_pending_while_confirming_then_resolves(
        ssvc, sclient, installed, fake_shopify, sdispatcher, clock):
    ssvc.chains["sandbox"]._finality = 30  # a visible confirming phase (the sandbox's finality, in seconds)
    body = payment_session(amount="42.00")
    number = post_session(sclient, body).get_json()["redirect_url"].rsplit("/", 1)[-1]
    sdispatcher.run_until_idle()
    assert session_calls(fake_shopify) == []  # invoice.created tells Shopify nothing
    assert fake_shopify.configured[SHOP] == {"externalHandle": "voltbridge: Shopify Sandbox", "ready": True}

    pay(ssvc, number)  # seen on chain, not final yet: paid
    sdispatcher.run_until_idle()
    (pending,) = session_calls(fake_shopify)
    assert pending.field == "paymentSessionPending"
    assert pending.variables["id"] == body["gid"] and pending.variables["reason"] == "NETWORK_ACTION_REQUIRED"
    expires = datetime.fromisoformat(pending.variables["pendingExpiresAt"])
    assert timedelta(0) < expires - clock.now() <= timedelta(days=3)
    assert pending.headers["X-Shopify-Access-Token"].startswith("shpat_")
    assert pending.path == "/payments_apps/api/2025-07/graphql.json"
    assert fake_shopify.state_of(body["gid"]) == "pending"

    assert invoice_of(ssvc, body["id"]).status == "paid"
    clock.advance(seconds=31)
    tick(ssvc)  # final on the sandbox chain: confirmed
    assert invoice_of(ssvc, body["id"]).status in ("confirmed", "settled")
    sdispatcher.run_until_idle()
    assert [c.field for c in session_calls(fake_shopify)] == ["paymentSessionPending", "paymentSessionResolve"]
    assert session_calls(fake_shopify)[1].variables == {"id": body["gid"]}
    assert fake_shopify.state_of(body["gid"]) == "resolved"
    assert {d.status for d in shopify_deliveries(ssvc)} == {"delivered"}

    # The pay page sends the paid buyer to success_url, which forwards to Shopify's nextAction redirect.
    assert invoice_of(ssvc, body["id"]).success_url == "https://gateway.test/shopify/return/[invoice_number]"
    back = sclient.get(f"/shopify/return/{number}")
    assert back.status_code == 303
    assert back.headers["Location"] == f"https://{SHOP}/checkouts/c/{body['id']}/processing"


def test_expiry_rejects_the_session_with_a_message_for_the_merchant(
        ssvc, sclient, installed, fake_shopify, sdispatcher, clock):
    body = payment_session(amount="10.00")
    number = post_session(sclient, body).get_json()["redirect_url"].rsplit("/", 1)[-1]
    assert sclient.get(f"/shopify/return/{number}").status_code == 200  # nothing from Shopify yet: a waiting page
    clock.advance(hours=25)
    tick(ssvc)
    assert invoice_of(ssvc, body["id"]).status == "expired"
    sdispatcher.run_until_idle()
    (reject,) = session_calls(fake_shopify)
    assert reject.field == "paymentSessionReject" and reject.variables["id"] == body["gid"]
    reason = reject.variables["reason"]
    assert reason["code"] == "PROCESSING_ERROR"
    assert number in reason["merchantMessage"] and "expired" in reason["merchantMessage"]
    assert "10.00 USD" in reason["merchantMessage"]
    assert fake_shopify.state_of(body["gid"]) == "rejected"
    with ssvc.uow() as uow:  # the adapter's view of the same event says the same thing
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        update = ShopifyAdapter(SHOP, "").apply_event("invoice.expired", invoice_view(invoice, clock.now()))
    assert (update.order_id, update.action, update.detail) == (body["id"], "reject", reason["merchantMessage"])


def test_an_underpaid_invoice_rejects_the_session_and_says_what_arrived(
        ssvc, sclient, installed, fake_shopify, sdispatcher, clock):
    body = payment_session(amount="150.00")
    post_session(sclient, body)
    invoice = invoice_of(ssvc, body["id"])
    pay(ssvc, invoice.number, amount=Decimal("0.1"))  # a third of 1 SOL at 150 USD
    clock.advance(hours=25)
    tick(ssvc)
    assert invoice_of(ssvc, body["id"]).status == "underpaid"
    sdispatcher.run_until_idle()
    (reject,) = session_calls(fake_shopify)
    message = reject.variables["reason"]["merchantMessage"]
    assert "underpaid" in message and "refund" in message and invoice.number in message


def test_retries_of_a_session_get_the_same_invoice_and_a_changed_amount_is_refused(ssvc, sclient, installed):
    body = payment_session(amount="20.00")
    first = post_session(sclient, body)
    again = post_session(sclient, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    changed = post_session(sclient, {**body, "amount": "21.00"})
    assert changed.status_code == 409
    assert changed.get_json()["error_code"] == "SESSION_CONFLICT"
    with ssvc.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one() == 1


def test_concurrent_duplicates_of_one_session_create_one_invoice(ssvc, sapp, installed):
    body = payment_session(amount="33.33")

    def attempt(_: int):
        response = post_session(sapp.test_client(), body)
        return response.status_code, response.get_json()["redirect_url"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(12)))
    codes = sorted(code for code, _ in results)
    assert codes.count(201) == 1 and codes.count(200) == 11, results
    assert len({url for _, url in results}) == 1
    with ssvc.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one() == 1
        assert uow.session.execute(select(func.count()).select_from(PlatformOrder)).scalar_one() == 1


def test_a_graphql_answer_with_errors_is_a_failure_and_the_outbox_tries_again(
        ssvc, sclient, installed, fake_shopify, sdispatcher, clock):
    body = payment_session(amount="12.00")
    number = post_session(sclient, body).get_json()["redirect_url"].rsplit("/", 1)[-1]
    sdispatcher.run_until_idle()  # the install's paymentsAppConfigure goes first
    fake_shopify.fail_next("throttled", "http_500")
    pay(ssvc, number)
    sdispatcher.run_until_idle()
    (delivery,) = [d for d in shopify_deliveries(ssvc) if d.event_type == "invoice.paid"]
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "GraphQL errors: Throttled" in delivery.last_error and delivery.last_status_code == 200
    assert fake_shopify.state_of(body["gid"]) == "open"
    for _ in range(2):
        clock.current = delivery.next_attempt_at
        sdispatcher.run_until_idle()
        (delivery,) = [d for d in shopify_deliveries(ssvc) if d.event_type == "invoice.paid"]
    assert delivery.status == "delivered" and delivery.attempts == 3
    with ssvc.uow() as uow:
        attempts = uow.session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
                                       .order_by(DeliveryAttempt.number)).scalars().all()
    assert [(a.ok, a.status_code) for a in attempts] == [(False, 200), (False, 500), (True, 200)]
    # Per shop, one invoice's events keep their order: the resolve (confirmed) waited behind the pending.
    assert [c.field for c in session_calls(fake_shopify)] == [
        "paymentSessionPending", "paymentSessionPending", "paymentSessionResolve"]  # throttled, ok, ok
    assert fake_shopify.state_of(body["gid"]) == "resolved"


def test_user_errors_are_a_failure_too(ssvc, sclient, installed, fake_shopify, sdispatcher):
    body = payment_session(amount="12.00")
    number = post_session(sclient, body).get_json()["redirect_url"].rsplit("/", 1)[-1]
    fake_shopify.set_state(body["gid"], "rejected")  # e.g. the buyer's checkout was abandoned at Shopify
    pay(ssvc, number)
    sdispatcher.run_until_idle()
    (delivery,) = [d for d in shopify_deliveries(ssvc) if d.event_type == "invoice.paid"]
    assert delivery.status == "pending"
    assert "paymentSessionPending userErrors: Payment session is already rejected" in delivery.last_error


def test_refund_session_is_accepted_then_rejected_with_the_reason(
        ssvc, sclient, installed, fake_shopify, sdispatcher):
    body = payment_session(amount="50.00")
    number = post_session(sclient, body).get_json()["redirect_url"].rsplit("/", 1)[-1]
    pay(ssvc, number)
    tick(ssvc)
    refund = refund_session(body["id"], amount="50.00")
    first = post_session(sclient, refund, path="/shopify/refund_sessions")
    again = post_session(sclient, refund, path="/shopify/refund_sessions")
    assert (first.status_code, first.data, again.status_code) == (201, b"", 201)
    assert len([d for d in shopify_deliveries(ssvc) if d.event_type == "refund_session.rejected"]) == 1
    sdispatcher.run_until_idle()
    (call,) = fake_shopify.mutations("refundSessionReject")
    assert call.variables["id"] == refund["gid"]
    reason = call.variables["reason"]
    assert reason["code"] == "PROCESSING_ERROR"
    assert reason["merchantMessage"].startswith("Crypto refunds are made by the merchant from their wallet")
    assert "50.00 USD" in reason["merchantMessage"] and number in reason["merchantMessage"]
    assert fake_shopify.refunds[refund["gid"]] == reason
    unknown = post_session(sclient, refund_session("no-such-payment"), path="/shopify/refund_sessions")
    assert unknown.status_code == 404 and unknown.get_json()["error_code"] == "PAYMENT_NOT_FOUND"


def test_test_sessions_never_reach_a_mainnet_store_and_shopify_is_told_why(
        ssvc, sclient, fake_shopify, sdispatcher):
    with ssvc.uow() as uow:
        live = create_store(uow, ssvc.vault, name="Live Shop", network="mainnet",
                            wallets={"SOL": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"})
    install_shop(ssvc, fake_shopify, str(live.id))
    body = payment_session(amount="5.00", test=True)
    refused = post_session(sclient, body)
    assert refused.status_code == 422
    assert refused.get_json()["error_code"] == "PAYMENT_REFUSED"
    assert "Test payments are not taken on the mainnet store" in refused.get_json()["errors"]
    assert post_session(sclient, body).status_code == 422  # Shopify retries: still one rejection queued
    sdispatcher.run_until_idle()
    (reject,) = session_calls(fake_shopify)
    assert reject.field == "paymentSessionReject" and reject.variables["id"] == body["gid"]
    assert "Test payments are not taken on the mainnet store" in reject.variables["reason"]["merchantMessage"]
    with ssvc.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one() == 0


def test_a_named_test_store_takes_test_sessions_and_live_sessions_need_mainnet(
        ssvc, sclient, fake_shopify, sandbox_store):
    with ssvc.uow() as uow:
        live = create_store(uow, ssvc.vault, name="Live Shop", network="mainnet",
                            wallets={"SOL": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"})
    install_shop(ssvc, fake_shopify, str(live.id), test_store_ref=str(sandbox_store.id))
    test_session = payment_session(amount="5.00", test=True)
    assert post_session(sclient, test_session).status_code == 201
    assert invoice_of(ssvc, test_session["id"]).store_id == sandbox_store.id

    install_shop(ssvc, fake_shopify, str(sandbox_store.id), shop="sandbox-only.myshopify.com")
    live_session = payment_session(amount="5.00", test=False)
    refused = post_session(sclient, live_session, shop="sandbox-only.myshopify.com")
    assert refused.status_code == 422 and "Live payments need a mainnet store" in refused.get_json()["errors"]


def test_bad_requests_get_shopify_shaped_errors(ssvc, sclient, installed, fake_shopify, sdispatcher):
    bad = post_session(sclient, payment_session(amount="12.3.4", currency="usd"))
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"amount", "currency"}
    unsupported = post_session(sclient, payment_session(amount="10.00", currency="XYZ"))
    assert unsupported.status_code == 422 and unsupported.get_json()["error_code"] == "PAYMENT_REFUSED"
    tiny = post_session(sclient, payment_session(amount="0.001", currency="USD"))  # under a cent: too low
    assert tiny.status_code == 422 and "minimum" in str(tiny.get_json()["errors"])
    odd = post_session(sclient, payment_session(amount="5.001", currency="USD"))
    assert odd.status_code == 422 and "decimals" in str(odd.get_json()["errors"])
    not_json = sclient.post("/shopify/payment_sessions", data=b"{", content_type="application/json",
                            headers={"Shopify-Shop-Domain": SHOP, "X-Client-Cert-Subject": "CN=shopify"})
    assert not_json.status_code == 400 and "errors" in not_json.get_json()
    unknown_shop = post_session(sclient, payment_session(), shop="stranger.myshopify.com")
    assert unknown_shop.status_code == 403 and unknown_shop.get_json()["error_code"] == "SHOP_NOT_INSTALLED"
    sdispatcher.run_until_idle()
    rejected = [c.variables["reason"]["merchantMessage"] for c in session_calls(fake_shopify)]
    assert len(rejected) == 3 and any("XYZ" in m for m in rejected) and any("minimum" in m for m in rejected)
