"""Shopify's signatures and request shapes, without I/O: HMACs against Shopify's documented example, shop
names, exact amounts, and the adapter behind the storefront protocol."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from gateway_core.domain.errors import ValidationFailed
from storefront_adapters.base import StorefrontAdapter
from storefront_adapters.shopify.adapter import ShopifyAdapter, parse_payment_session, parse_refund_session
from storefront_adapters.shopify.wire import query_hmac, query_signed, shop_domain, webhook_signed
from tests.fakes.shopify import payment_session, refund_session, signed_query, webhook_headers

# The worked example of Shopify's OAuth docs (app secret "hush").
DOCUMENTED = ("code=0907a61c0c8d55e99db179b68161bc00"
              "&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
              "&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173")


SIGNED_AT = datetime.fromtimestamp(1337178173, UTC)


def test_the_oauth_query_hmac_matches_shopifys_documented_example() -> None:
    params = parse_qs(DOCUMENTED)
    assert query_signed(params, "hush", SIGNED_AT)
    assert not query_signed(params, "not-hush", SIGNED_AT)
    assert not query_signed({**params, "shop": ["other-shop.myshopify.com"]}, "hush", SIGNED_AT)
    assert not query_signed({k: v for k, v in params.items() if k != "hmac"}, "hush", SIGNED_AT)
    assert not query_signed(params, "", SIGNED_AT)


# shopify_python_api's own vectors (test/session_test.py: test_hmac_calculation, ..._with_ampersand_and_equal_sign_
# characters, test_param_validation_of_param_values_with_lists), with its values as a query parser gives them.
def test_query_hmacs_are_computed_as_shopify_python_api_computes_them() -> None:
    documented = {"shop": ["some-shop.myshopify.com"], "code": ["a94a110d86d2452eb3e2af4cfb8a3828"],
                  "timestamp": ["1337178173"]}
    assert query_hmac(documented, "hush") == "2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2"
    escaped = hmac.new(b"secret", b"a=1%26b=2&c%3D3%26d=4", hashlib.sha256).hexdigest()
    assert query_hmac({"a": ["1&b=2"], "c=3&d": ["4"]}, "secret") == escaped
    listed = {"shop": ["some-shop.myshopify.com"], "ids[]": ["2", "1"]}
    assert query_hmac(listed, "hush") == "b93b9f82996f6f8bf9f1b7bbddec284c8fabacdc4e12dc80550b4705f3003b1e"
    assert query_hmac({**listed, "ids[]": ["1", "2"]}, "hush") != query_hmac(listed, "hush")  # order is signed
    assert query_hmac({"a": ["100%"]}, "k") == hmac.new(b"k", b"a=100%25", hashlib.sha256).hexdigest()
    with pytest.raises(ValueError):
        query_hmac({"ids": ["1", "2"]}, "hush")  # a repeated key without [] is nothing Shopify signs


@pytest.mark.parametrize("offset, valid", [(timedelta(0), True), (timedelta(hours=23), True),
                                           (-timedelta(hours=23), True), (timedelta(days=1, seconds=1), False),
                                           (-timedelta(days=1, seconds=1), False)])
def test_signed_queries_are_accepted_for_a_day(offset: timedelta, valid: bool) -> None:
    params = {"shop": ["some-shop.myshopify.com"], "code": ["a94a110d86d2452eb3e2af4cfb8a3828"],
              "timestamp": ["1337178173"], "hmac": ["2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2"]}
    assert query_signed(params, "hush", SIGNED_AT + offset) is valid


def test_a_signed_query_needs_one_numeric_timestamp() -> None:
    params = parse_qs(DOCUMENTED)
    assert not query_signed({k: v for k, v in params.items() if k != "timestamp"}, "hush", SIGNED_AT)
    assert not query_signed({**params, "timestamp": ["soon"]}, "hush", SIGNED_AT)
    assert not query_signed({**params, "timestamp": ["1337178173", "1337178173"]}, "hush", SIGNED_AT)


def test_the_fake_shopify_signs_queries_the_same_way() -> None:
    query = signed_query({"shop": "some-shop.myshopify.com", "ids[]": ["2", "1"], "a": "1&b=2",
                          "timestamp": "1337178173"}, "hush")
    assert query_signed(parse_qs(query), "hush", SIGNED_AT)


def test_webhook_hmac_is_base64_over_the_raw_body() -> None:
    body = b'{"shop_id":954889,"shop_domain":"x.myshopify.com"}'
    header = webhook_headers("shop/redact", "x.myshopify.com", body, "secret")["X-Shopify-Hmac-Sha256"]
    assert webhook_signed(body, header, "secret")
    assert not webhook_signed(body + b" ", header, "secret")
    assert not webhook_signed(body, header, "other")
    assert not webhook_signed(body, None, "secret")


@pytest.mark.parametrize("value, expected", [
    ("my-shop.myshopify.com", "my-shop.myshopify.com"), ("My-Shop.MyShopify.com ", "my-shop.myshopify.com"),
    ("evil.com", None), ("my-shop.myshopify.com.evil.com", None), ("-x.myshopify.com", None),
    ("my_shop.myshopify.com", None), ("https://my-shop.myshopify.com", None), (None, None), (42, None),
])
def test_only_permanent_shop_domains_are_accepted(value: object, expected: str | None) -> None:
    assert shop_domain(value) == expected


@pytest.mark.parametrize("amount, parsed", [("123.00", Decimal("123.00")), (Decimal("0.1"), Decimal("0.1")),
                                            (5, Decimal(5)), ("0.000001", Decimal("0.000001"))])
def test_amounts_are_read_exactly(amount: object, parsed: Decimal) -> None:
    assert parse_payment_session(payment_session(amount=amount)).amount == parsed


@pytest.mark.parametrize("amount", ["1e3", "-1.00", "0", "12.3.4", "", 1.5, True, None, "\uff11\uff12"])
def test_anything_but_a_plain_positive_decimal_is_refused(amount: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_payment_session(payment_session(amount=amount))
    assert "amount" in caught.value.errors


def test_refund_sessions_need_the_payment_they_refund() -> None:
    body = refund_session("pay_1")
    assert parse_refund_session(body).payment_id == "pay_1"
    with pytest.raises(ValidationFailed) as caught:
        parse_refund_session({**body, "payment_id": None, "test": "yes"})
    assert set(caught.value.errors) == {"payment_id", "test"}


def test_the_adapter_speaks_the_storefront_protocol() -> None:
    adapter: StorefrontAdapter = ShopifyAdapter("x.myshopify.com", "https://gateway.test/shopify/return/[invoice_number]")
    body = payment_session("sess_1", amount="42.50", currency="EUR")
    order = adapter.order_from_request(body)
    assert (order.platform, order.order_id) == ("shopify", "sess_1")
    request = order.request
    assert (request.amount, request.currency, request.contract, request.external_id) == (
        Decimal("42.50"), "EUR", "shopify", "shopify:sess_1")
    assert request.customer_email is None and request.customer_name is None
    assert request.cancel_url == body["payment_method"]["data"]["cancel_url"]
