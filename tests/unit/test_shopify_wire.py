"""Shopify's signatures and request shapes, without I/O: HMACs against Shopify's documented example, shop
names, exact amounts, and the adapter behind the storefront protocol."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from gateway_core.domain.errors import ValidationFailed
from storefront_adapters.base import StorefrontAdapter
from storefront_adapters.shopify.adapter import ShopifyAdapter, parse_payment_session, parse_refund_session
from storefront_adapters.shopify.wire import query_signed, shop_domain, webhook_signed
from tests.fakes.shopify import payment_session, refund_session, webhook_headers

# The worked example of Shopify's OAuth docs (app secret "hush").
DOCUMENTED = ("code=0907a61c0c8d55e99db179b68161bc00"
              "&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
              "&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173")


def test_the_oauth_query_hmac_matches_shopifys_documented_example() -> None:
    params = parse_qs(DOCUMENTED)
    assert query_signed(params, "hush")
    assert not query_signed(params, "not-hush")
    assert not query_signed({**params, "shop": ["other-shop.myshopify.com"]}, "hush")
    assert not query_signed({k: v for k, v in params.items() if k != "hmac"}, "hush")
    assert not query_signed(params, "")


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
