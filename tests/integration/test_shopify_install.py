# ruff: noqa: F811 - pytest fixtures are imported from shopify_support and used as arguments
"""Issue 7 for Shopify: the operator's consent, the OAuth install (HMAC, state, shop checks, code exchange),
and Shopify's webhooks (app/uninstalled and the three mandatory privacy topics), signed as Shopify signs."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select, update

from bridge.jsonio import dumps
from gateway_core.adapters.models import Invoice, PlatformOrder
from gateway_core.stores.manage import create_store
from tests.conftest import deliver_due
from tests.fakes.shopify import payment_session, signed_query, webhook_headers
from tests.integration.shopify_support import (  # noqa: F401 - fixtures
    API_KEY,
    API_SECRET,
    SHOP,
    fake_shopify,
    install_shop,
    installation,
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


def allow(sapp, store: str, *args: str):
    return sapp.test_cli_runner().invoke(args=["shopify", "allow", store, "--shop", *args])


def start_install(sclient, shop: str = SHOP) -> str:
    """/shopify/auth: returns the state nonce Shopify's consent screen was given."""
    response = sclient.get(f"/shopify/auth?shop={shop}")
    assert response.status_code == 302, response.get_json()
    target = urlsplit(response.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", shop, "/admin/oauth/authorize")
    query = parse_qs(target.query)
    assert query["client_id"] == [API_KEY]
    assert query["scope"] == ["write_payment_gateways,write_payment_sessions"]
    assert query["redirect_uri"] == ["https://gateway.test/shopify/auth/callback"]
    return query["state"][0]


def callback_query(shop: str, code: str, state: str, secret: str = API_SECRET) -> str:
    return signed_query({"code": code, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdm9sdGJyaWRnZS10ZXN0",
                         "shop": shop, "state": state, "timestamp": "1768478400"}, secret)


def test_the_operator_maps_a_shop_to_a_store_from_the_command_line(sapp, ssvc, sandbox_store):
    result = allow(sapp, sandbox_store.name, "Voltbridge-Test.myshopify.com", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"shop": SHOP, "store_id": sandbox_store.id, "store_name": "Shopify Sandbox",
                                         "test_store_id": None, "installed": False}
    found = installation(ssvc)
    assert found is not None and found.store_id == sandbox_store.id and found.credentials_encrypted is None
    bad_shop = allow(sapp, sandbox_store.name, "evil.example.com")
    assert bad_shop.exit_code != 0 and "myshopify.com" in bad_shop.output
    with ssvc.uow() as uow:
        create_store(uow, ssvc.vault, name="Live", network="mainnet",
                     wallets={"SOL": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"})
    refused = allow(sapp, sandbox_store.name, SHOP, "--test-store", "Live")
    assert refused.exit_code != 0 and "sandbox or devnet" in refused.output


def test_oauth_install_exchanges_the_code_keeps_the_token_encrypted_and_configures_the_app(
        sapp, sclient, ssvc, sandbox_store, fake_shopify, sdispatcher):
    assert allow(sapp, str(sandbox_store.id), SHOP).exit_code == 0
    state = start_install(sclient)
    code = fake_shopify.issue_code(SHOP)
    response = sclient.get(f"/shopify/auth/callback?{callback_query(SHOP, code, state)}")
    assert response.status_code == 302, response.get_json()
    assert response.headers["Location"] == f"https://{SHOP}/services/payments_partners/gateways/{API_KEY}/settings"
    (exchange,) = [c for c in fake_shopify.calls if c.path == "/admin/oauth/access_token"]
    assert exchange.body == {"client_id": API_KEY, "client_secret": API_SECRET, "code": code}
    token = next(iter(fake_shopify.tokens))
    found = installation(ssvc)
    assert found is not None and found.credentials_encrypted and token not in found.credentials_encrypted
    assert found.data["scope"] == "write_payment_gateways,write_payment_sessions"
    sdispatcher.run_until_idle()
    (configure,) = fake_shopify.mutations("paymentsAppConfigure")
    assert configure.headers["X-Shopify-Access-Token"] == token
    assert configure.variables == {"externalHandle": "voltbridge: Shopify Sandbox", "ready": True}
    # The code is single-use at Shopify, and the state cookie is gone: replaying the callback fails.
    assert sclient.get(f"/shopify/auth/callback?{callback_query(SHOP, code, state)}").status_code == 403
    # Installed: Shopify's payment sessions from this shop now create invoices.
    assert post_session(sclient, payment_session(amount="9.99")).status_code == 201


def test_oauth_callback_with_a_bad_hmac_is_refused_before_any_exchange(sapp, sclient, ssvc, sandbox_store,
                                                                        fake_shopify):
    allow(sapp, str(sandbox_store.id), SHOP)
    state = start_install(sclient)
    code = fake_shopify.issue_code(SHOP)
    forged = callback_query(SHOP, code, state, secret="not-the-app-secret")
    response = sclient.get(f"/shopify/auth/callback?{forged}")
    assert response.status_code == 401 and response.get_json()["error_code"] == "INVALID_HMAC"
    tampered = callback_query(SHOP, code, state).replace(f"code={code}", "code=attacker-code")
    assert sclient.get(f"/shopify/auth/callback?{tampered}").status_code == 401
    assert [c for c in fake_shopify.calls if c.path == "/admin/oauth/access_token"] == []
    assert installation(ssvc).credentials_encrypted is None


def test_oauth_callback_needs_the_state_this_browser_was_given(sapp, sclient, ssvc, sandbox_store, fake_shopify):
    allow(sapp, str(sandbox_store.id), SHOP)
    start_install(sclient)
    code = fake_shopify.issue_code(SHOP)
    wrong = sclient.get(f"/shopify/auth/callback?{callback_query(SHOP, code, 'a-state-we-never-issued')}")
    assert wrong.status_code == 403 and wrong.get_json()["error_code"] == "INVALID_STATE"
    state = start_install(sclient)
    other_browser = sapp.test_client()  # no state cookie: a callback link replayed in another browser
    assert other_browser.get(f"/shopify/auth/callback?{callback_query(SHOP, code, state)}").status_code == 403
    assert [c for c in fake_shopify.calls if c.path == "/admin/oauth/access_token"] == []


def test_install_is_refused_for_bad_shop_names_and_shops_the_operator_did_not_allow(sclient, sandbox_store):
    assert sclient.get("/shopify/auth?shop=evil.example.com").status_code == 422
    assert sclient.get("/shopify/auth?shop=x.myshopify.com.evil.com").status_code == 422
    not_allowed = sclient.get("/shopify/auth?shop=stranger.myshopify.com")
    assert not_allowed.status_code == 403 and not_allowed.get_json()["error_code"] == "SHOP_NOT_ALLOWED"
    assert "voltbridge shopify allow" in not_allowed.get_json()["errors"]


def test_an_install_link_from_shopify_must_carry_a_valid_hmac(sapp, sclient, sandbox_store):
    allow(sapp, str(sandbox_store.id), SHOP)
    link = signed_query({"shop": SHOP, "timestamp": "1768478400", "host": "YWRtaW4uc2hvcGlmeS5jb20"}, API_SECRET)
    assert sclient.get(f"/shopify/auth?{link}").status_code == 302
    forged = signed_query({"shop": SHOP, "timestamp": "1768478400"}, "wrong-secret")
    assert sclient.get(f"/shopify/auth?{forged}").status_code == 401


def webhook(sclient, topic: str, payload: dict, secret: str = API_SECRET, shop: str = SHOP):
    body = dumps(payload).encode()
    return sclient.post("/shopify/webhooks", data=body, headers=webhook_headers(topic, shop, body, secret))


PRIVACY_PAYLOADS = {
    "customers/data_request": {"shop_id": 954889, "shop_domain": SHOP, "orders_requested": [299938, 280263],
                               "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
                               "data_request": {"id": 9999}},
    "customers/redact": {"shop_id": 954889, "shop_domain": SHOP,
                         "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
                         "orders_to_redact": [299938, 280263, 220458]},
    "shop/redact": {"shop_id": 954889, "shop_domain": SHOP},
}


def test_webhooks_with_a_bad_hmac_are_refused_and_change_nothing(sclient, ssvc, installed):
    for topic, payload in [*PRIVACY_PAYLOADS.items(), ("app/uninstalled", {"id": 1, "domain": SHOP})]:
        response = webhook(sclient, topic, payload, secret="not-the-app-secret")
        assert response.status_code == 401, topic
        body = dumps(payload).encode()
        unsigned = sclient.post("/shopify/webhooks", data=body, headers={"X-Shopify-Topic": topic,
                                                                        "X-Shopify-Shop-Domain": SHOP})
        assert unsigned.status_code == 401, topic
    assert installation(ssvc).credentials_encrypted  # still installed


def test_app_uninstalled_drops_the_token_and_later_calls_fail_loudly(
        sclient, ssvc, installed, fake_shopify, sdispatcher, clock):
    body = payment_session(amount="15.00")
    post_session(sclient, body)
    fake_shopify.uninstall(SHOP)  # Shopify revokes the token, then tells us
    assert webhook(sclient, "app/uninstalled", {"id": 548380009, "name": "Super Toys", "domain": SHOP,
                                                "myshopify_domain": SHOP}).status_code == 200
    found = installation(ssvc)
    assert found.credentials_encrypted is None and "uninstalled_at" in found.data
    pay(ssvc, invoice_of(ssvc, body["id"]).number)
    sdispatcher.run_until_idle()
    (paid,) = [d for d in shopify_deliveries(ssvc) if d.event_type == "invoice.paid"]
    assert paid.status == "pending" and "no Shopify access token" in paid.last_error  # retried, then dead-lettered
    install_shop(ssvc, fake_shopify, str(installed.id))  # reinstalled: the next retry goes through
    clock.current = paid.next_attempt_at
    deliver_due(ssvc)  # (a running worker re-reads credentials within 30 s)
    assert {d.status for d in shopify_deliveries(ssvc)} == {"delivered"}


def test_privacy_webhooks_are_answered_and_do_what_they_ask(sclient, ssvc, installed):
    body = payment_session(amount="15.00")
    post_session(sclient, body)
    assert webhook(sclient, "customers/data_request", PRIVACY_PAYLOADS["customers/data_request"]).status_code == 200
    with ssvc.uow() as uow:  # buyers' details are never stored; if one were, customers/redact clears it
        uow.session.execute(update(Invoice).values(customer_email="john@example.com", customer_name="John"))
    assert webhook(sclient, "customers/redact", PRIVACY_PAYLOADS["customers/redact"]).status_code == 200
    invoice = invoice_of(ssvc, body["id"])
    assert (invoice.customer_email, invoice.customer_name) == (None, None)
    assert webhook(sclient, "shop/redact", PRIVACY_PAYLOADS["shop/redact"]).status_code == 200
    assert installation(ssvc) is None
    with ssvc.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(PlatformOrder)).scalar_one() == 0
        kept = uow.session.execute(select(Invoice)).scalar_one()  # the merchant's payment record stays
        assert "shop" not in (kept.extra or {})
    assert webhook(sclient, "shop/redact", PRIVACY_PAYLOADS["shop/redact"]).status_code == 200  # again: harmless
