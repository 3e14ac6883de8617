"""The WooCommerce REST client as the outbox channel "woocommerce" uses it, over `requests` with `responses`:
the exact authentication (OAuth 1.0a over HTTP recomputed with oauthlib, Basic over HTTPS), the calls each
invoice event makes, and WooCommerce's errors surfacing as failed attempts.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from oauthlib.oauth1.rfc5849 import signature as oauth

from gateway_core.adapters.jsonwire import dumps
from gateway_core.domain.errors import ValidationFailed
from gateway_core.notifications.dispatch import Job
from gateway_core.ports import HttpResult
from storefront_adapters.woocommerce.adapter import WooCommerceAdapter, external_id, plan_update, wanted_events
from storefront_adapters.woocommerce.channel import WooCommerceChannel
from storefront_adapters.woocommerce.rest import oauth_signature

CK = "ck_0123456789abcdef0123456789abcdef01234567"
CS = "cs_fedcba9876543210fedcba9876543210fedcba98"
AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
OAUTH_CLIENT = SimpleNamespace(client_secret=CS, resource_owner_secret="")  # what oauthlib's signers read


class RequestsTransport:
    """The transport shape the channel needs (GuardedHttp's), over requests so `responses` sees each call."""

    def request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                timeout: float) -> HttpResult:
        started = time.monotonic()
        try:
            answer = requests.request(method, url, data=body, headers=dict(headers), timeout=timeout,
                                      allow_redirects=False)
        except requests.RequestException as exc:
            return HttpResult(None, b"", time.monotonic() - started, f"{exc.__class__.__name__}: {exc}")
        return HttpResult(answer.status_code, answer.content, time.monotonic() - started)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResult:
        return self.request("POST", url, body, headers, timeout)

    def get(self, url: str, timeout: float, headers: Mapping[str, str] | None = None) -> HttpResult:
        return self.request("GET", url, None, headers or {}, timeout)


def facts(**changes: Any) -> dict[str, Any]:
    base = {"number": "INV42", "status": "settled", "paid_late": False, "overpaid": False, "fiat_currency": "USD",
            "fiat_amount": Decimal("25.00"), "paid_asset": "SOL", "payment_tx_id": "5j7tx", "network": "sandbox",
            "expires_at": AT}
    return {**base, **changes}


def job(site: str, event_type: str, **fact_changes: Any) -> Job:
    body = {"event_type": event_type, "event_id": "evt_1", "occurred_at": AT, "order_ref": "42",
            "order": {"order_id": "42"}, "installation_id": 1, "invoice": facts(**fact_changes)}
    return Job(delivery_id=1, token="t", channel="woocommerce", endpoint_id=1, url=site, secret=None, recipient=None,
               body=dumps(body), headers={}, event_id="evt_1", event_type=event_type, is_redelivery=False, store_id=1,
               store_name="Shop", brand_color=None, api_key=None,
               credentials={"consumer_key": CK, "consumer_secret": CS})


def send(site: str, event_type: str, **fact_changes: Any) -> HttpResult:
    channel = WooCommerceChannel("https://gateway.test")
    return channel.send(job(site, event_type, **fact_changes), AT, RequestsTransport(), 5.0)  # type: ignore[arg-type]


def order_json(status: str = "processing") -> dict[str, Any]:
    return {"id": 42, "status": status, "transaction_id": "5j7tx"}


@responses.activate
def test_over_http_the_call_carries_an_oauth1_hmac_sha1_signature_in_the_query() -> None:
    responses.add(responses.PUT, "http://shop.test/wp-json/wc/v3/orders/42", json=order_json())
    result = send("http://shop.test", "invoice.confirmed")
    assert result.ok, result

    call = responses.calls[0].request
    assert "Authorization" not in call.headers
    assert json.loads(call.body) == {"set_paid": True, "transaction_id": "5j7tx"}
    query = parse_qs(urlsplit(call.url).query)
    assert set(query) == {"oauth_consumer_key", "oauth_nonce", "oauth_signature_method", "oauth_timestamp",
                          "oauth_signature"}
    assert query["oauth_consumer_key"] == [CK] and query["oauth_signature_method"] == ["HMAC-SHA1"]
    assert abs(int(query["oauth_timestamp"][0]) - time.time()) < 60
    # Recomputed independently with oauthlib (RFC 5849 §3.4), key = consumer secret + "&".
    params = oauth.collect_parameters(uri_query=urlsplit(call.url).query, exclude_oauth_signature=True)
    base = oauth.signature_base_string("PUT", oauth.base_string_uri("http://shop.test/wp-json/wc/v3/orders/42"),
                                       oauth.normalize_parameters(params))
    assert query["oauth_signature"] == [oauth.sign_hmac_sha1_with_client(base, OAUTH_CLIENT)]


@responses.activate
def test_every_call_gets_a_fresh_nonce() -> None:
    responses.add(responses.POST, "http://shop.test/wp-json/wc/v3/orders/42/notes", status=201, json={"id": 1})
    send("http://shop.test", "invoice.paid")
    send("http://shop.test", "invoice.paid")
    nonces = {parse_qs(urlsplit(c.request.url).query)["oauth_nonce"][0] for c in responses.calls}
    assert len(nonces) == 2


def test_signature_of_a_url_with_a_query_and_a_port() -> None:
    url = "http://Shop.Test:8080/wp-json/wc/v3/orders?per_page=5&status=on-hold"
    params = {"oauth_consumer_key": CK, "oauth_nonce": "abc", "oauth_signature_method": "HMAC-SHA1",
              "oauth_timestamp": "1700000000"}
    collected = oauth.collect_parameters(uri_query="per_page=5&status=on-hold") + list(params.items())
    base = oauth.signature_base_string("GET", oauth.base_string_uri(url), oauth.normalize_parameters(collected))
    assert oauth_signature("GET", url, params, CS) == oauth.sign_hmac_sha1_with_client(base, OAUTH_CLIENT)


@responses.activate
def test_over_https_the_call_uses_basic_auth_and_no_oauth_parameters() -> None:
    responses.add(responses.POST, "https://shop.test/wp-json/wc/v3/orders/42/notes", status=201, json={"id": 7})
    result = send("https://shop.test", "invoice.partially_paid")
    assert result.ok
    call = responses.calls[0].request
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(f"{CK}:{CS}".encode()).decode()
    assert urlsplit(call.url).query == ""
    assert call.headers["Content-Type"] == "application/json"
    assert json.loads(call.body) == {"note": "Voltbridge: partial payment received for invoice INV42 (25.00 USD due).",
                                     "customer_note": False}


@responses.activate
def test_invoice_created_sends_the_buyer_the_payment_link_as_a_customer_note() -> None:
    responses.add(responses.POST, "https://shop.test/wp-json/wc/v3/orders/42/notes", status=201, json={"id": 1})
    assert send("https://shop.test", "invoice.created", status="pending", payment_tx_id=None).ok
    sent = json.loads(responses.calls[0].request.body)
    assert sent["customer_note"] is True
    assert "https://gateway.test/pay/INV42" in sent["note"] and "25.00 USD" in sent["note"]


@responses.activate
def test_a_late_payment_goes_to_processing_with_a_note() -> None:
    responses.add(responses.PUT, "https://shop.test/wp-json/wc/v3/orders/42", json=order_json())
    responses.add(responses.POST, "https://shop.test/wp-json/wc/v3/orders/42/notes", status=201, json={"id": 2})
    assert send("https://shop.test", "invoice.settled", paid_late=True).ok
    assert json.loads(responses.calls[0].request.body) == {"status": "processing", "transaction_id": "5j7tx"}
    assert "late payment" in json.loads(responses.calls[1].request.body)["note"]


@responses.activate
def test_woocommerce_refusals_are_failed_attempts_with_its_error() -> None:
    responses.add(responses.PUT, "https://shop.test/wp-json/wc/v3/orders/42", status=401, json={
        "code": "woocommerce_rest_cannot_edit", "message": "Sorry, you are not allowed to edit this resource.",
        "data": {"status": 401}})
    result = send("https://shop.test", "invoice.confirmed")
    assert not result.ok and result.status == 401
    assert result.error == ("HTTP 401: woocommerce_rest_cannot_edit: Sorry, you are not allowed to edit this "
                            "resource.")

    responses.add(responses.POST, "https://shop.test/wp-json/wc/v3/orders/42/notes", status=502, body=b"<html>")
    broken = send("https://shop.test", "invoice.paid")
    assert not broken.ok and broken.error == "HTTP 502"


@responses.activate
def test_missing_credentials_fail_without_a_call() -> None:
    bare = job("https://shop.test", "invoice.confirmed")
    object.__setattr__(bare, "credentials", {})
    result = WooCommerceChannel("https://gateway.test").send(bare, AT, RequestsTransport(), 5.0)  # type: ignore[arg-type]
    assert not result.ok and "credentials are missing" in (result.error or "")
    assert len(responses.calls) == 0


# -- the pure mapping ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("event", "changes", "action"), [
    ("invoice.confirmed", {}, "mark_paid"),
    ("invoice.settled", {}, "mark_paid"),
    ("invoice.settled", {"paid_late": True}, "processing_late"),
    ("invoice.paid", {}, "note"),
    ("invoice.partially_paid", {}, "note"),
    ("invoice.expired", {}, "note"),
    ("invoice.underpaid", {}, "note"),
    ("invoice.overpaid", {}, "note"),
    ("invoice.cancelled", {}, "note"),
    ("invoice.reopened", {}, "ignored"),
])
def test_each_event_maps_to_one_order_change(event: str, changes: dict[str, Any], action: str) -> None:
    update = plan_update(event, facts(**changes), "42")
    assert (update.order_id, update.action) == ("42", action)


def test_the_completing_event_follows_the_settlement_mode() -> None:
    assert "invoice.confirmed" in wanted_events("direct") and "invoice.settled" not in wanted_events("direct")
    assert "invoice.settled" in wanted_events("deposit") and "invoice.confirmed" not in wanted_events("deposit")


def test_orders_become_invoice_requests_with_a_per_site_order_and_total_id() -> None:
    adapter = WooCommerceAdapter(installation_id=3)
    order = adapter.order_from_request({"id": 42, "number": "42", "total": "25.00", "currency": "usd",
                                        "billing": {"email": "b@x.test", "first_name": "Bo", "last_name": "Li"}})
    request = order.request
    assert (request.amount, request.currency, request.contract, request.platform) == (
        Decimal("25.00"), "USD", "woocommerce", "woocommerce")
    assert request.external_id == external_id(3, "42", Decimal("25.00"), "USD")
    assert request.external_id.startswith("woocommerce:3:42:")
    assert external_id(3, "42", Decimal("25.0"), "USD") == request.external_id  # same total, same invoice
    assert external_id(3, "42", Decimal("26.00"), "USD") != request.external_id
    assert external_id(4, "42", Decimal("25.00"), "USD") != request.external_id  # another site's order 42
    assert (request.customer_email, request.customer_name) == ("b@x.test", "Bo Li")
    for bad in ({"id": "x", "total": "1", "currency": "USD"}, {"id": 1, "total": "-1", "currency": "USD"},
                {"id": 1, "total": "abc", "currency": "USD"}, {"id": 1, "total": "1", "currency": "XXX"}):
        with pytest.raises(ValidationFailed):
            adapter.order_from_request(bad)
