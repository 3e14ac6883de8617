# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 14, point 10: generated request bodies for every create endpoint never get a 5xx, and a 4xx writes
nothing. Each field draws from its own valid values (docs/openapi/*.yaml and the contracts' field rules) and
from values the attack review found dangerous, so both acceptances and refusals are exercised.

One database per test function (not per example): rows are counted before and after each request.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_bad_input import (  # noqa: F401 - keys is a fixture
    CREATE,
    INITIATE,
    ORDERS,
    VENTA,
    VIRTEXGATE,
    as_json,
    keys,
    row_counts,
)
from tests.integration.veltpay_support import (  # noqa: F401 - fixtures
    tron_account,
    vapp,
    velt,
    velt_store,
    vsettings,
    vsvc,
)

BOUNDED = settings(max_examples=60, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.data_too_large])

DANGEROUS_TEXT = ["", "   ", "\x00", "a\x00b", "\ud800", "vg\ud800x", "x\udfffy", "\t\n", "e\u0301", " padded ",
                  "\u6f22" * 1001, "\U0001f600" * 400, "a %" * 333, "x" * 300, "<script>", "../../etc/passwd"]
DANGEROUS_NUMBERS: list[Any] = ["1_000", "\u0661\u0662\u0663", "+5", "5e2", "-5", "0", "0.0", "1e999999999", "NaN",
                                "Infinity", 0, -1, True, False, 10**30, 2**63, Decimal("1E+999999999"),
                                Decimal("-1E+999999999"), Decimal("1E-999999999"), Decimal("0.0000001")]
CONTAINERS: list[Any] = [[], {}, [1], {"a": 1}, None]


def nested(levels: int) -> dict:
    node: dict = {"leaf": "x"}
    for _ in range(levels - 1):
        node = {"k": node}
    return node


anything = st.one_of(st.sampled_from(DANGEROUS_TEXT + DANGEROUS_NUMBERS + CONTAINERS), st.text(max_size=20),
                     st.integers(), st.decimals(allow_nan=False, places=3, min_value=-10**6, max_value=10**6))
amounts = st.one_of(st.sampled_from(["25.00", "99.99", "1", "0.5", Decimal("12.5"), 40]),
                    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2).map(str),
                    anything)
metadata_leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=10),
                            st.sampled_from([*DANGEROUS_TEXT, Decimal("1E+999999999"), Decimal("1.5")]))
metadata = st.one_of(
    st.recursive(metadata_leaves, lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.one_of(st.text(max_size=6), st.sampled_from(["\ud800", "k\x00", "x" * 101])),
                                   inner, max_size=3), max_leaves=12),
    st.sampled_from([nested(5), nested(6), {"k": "x" * 9000}, {f"k{n}": n for n in range(101)}]))


def texts(*good: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(good), st.text(max_size=30), anything)


def optional(**strategies: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return strategies


VOLTXT_FIELDS = optional(
    platform=texts("woocommerce", "custom"), amount_type=texts("fiat", "crypto"),
    fiat_currency=texts("USD", "eur", "JPY"), crypto_currency=texts("SOL", "USDC", "USDT"),
    expiry_hours=st.one_of(st.integers(0, 200), anything), description=texts("Order 42", "\u6f22\u5b57"),
    customer_name=texts("Ada"), customer_email=texts("ada@shop.test", "not-an-email"),
    success_url=texts("https://shop.test/ok", "javascript:alert(1)"), cancel_url=texts("https://shop.test/no"),
    callback_url=texts("https://shop.test/cb", "http://127.0.0.1/cb"), metadata=metadata,
    network=texts("sandbox", "mainnet"))


def check(svc: Any, send: Any, body: Any) -> None:
    """No 5xx; a 4xx leaves every table as it was."""
    before = row_counts(svc)
    response = send(as_json(body))
    assert response.status_code < 500, (body, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert row_counts(svc) == before, (body, response.get_data(as_text=True))
    svc.clock.current += timedelta(minutes=1)  # per-key rate limits refill: every example reaches validation


def post(client: Any, path: str, **headers: str) -> Any:
    return lambda data: client.post(path, data=data, content_type="application/json", headers=headers)


@BOUNDED
@given(st.fixed_dictionaries({"amount": amounts, "external_invoice_id": texts("order-1", "order-2")},
                             optional=VOLTXT_FIELDS))
def test_voltxt_create(client, services, store, body) -> None:
    check(services, post(client, CREATE), {"api_key": store.api_key, **body})


@BOUNDED
@given(st.fixed_dictionaries({"amount": amounts},
                             optional={"external_payment_id": texts("sess-1"), **VOLTXT_FIELDS}))
def test_dynamic_payment_initiate(client, services, store, body) -> None:
    check(services, post(client, INITIATE), {"api_key": store.api_key, **body})


@BOUNDED
@given(st.fixed_dictionaries({"amount": amounts}, optional=optional(
    fiatCurrency=texts("USD", "EUR", "XYZ"), externalOrderId=texts("order-42", "vg\ud800x"),
    redirectUrl=texts("https://myshop.com/thank-you", "javascript:alert(1)"))))
def test_virtexgate_create(client, services, store, keys, body) -> None:
    check(services, post(client, VIRTEXGATE, **{"X-Api-Key": keys["virtexgate"]}), {"storeId": str(store.id), **body})


@BOUNDED
@given(st.fixed_dictionaries({"amount": amounts}, optional=optional(
    currency=texts("USD", "usd", "EUR"), token=texts("USDC", "SOL", "BTC"), orderId=texts("pos-1", "a b"),
    message=texts("Table 4", "\U0001f600" * 201))))
def test_venta_checkout(client, services, keys, body) -> None:
    check(services, post(client, VENTA, **{"x-api-key": keys["venta"]}), body)


@BOUNDED
@given(st.fixed_dictionaries({"order_ref": texts("r-1", "r 1", "x" * 121), "amount": amounts},
                             optional=optional(ttl_seconds=st.one_of(st.integers(0, 700_000), anything),
                                               metadata=metadata)))
def test_veltpay_create(velt, vsvc, body) -> None:
    check(vsvc, lambda data: velt.send("POST", ORDERS, data), body)


@pytest.fixture(autouse=True)
def _quiet_request_logs(caplog) -> None:
    caplog.set_level("CRITICAL")  # hundreds of generated refusals; failures show the body and the answer
