# ruff: noqa: F811 - pytest fixtures are imported from veltpay_support and used as arguments
"""Issue 8, point 6 for VeltPay: creating, retrieving and listing orders, the public status endpoint, and every
bad input answered in VeltPay's error format."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from gateway_core.contracts.veltpay_payloads import EVENTS, STATUS
from gateway_core.stores.manage import create_store
from tests.conftest import invoice_body, post_json, running_app
from tests.integration.veltpay_support import (  # noqa: F401 - fixtures
    ORDER_KEYS,
    PUBLIC_KEYS,
    WEBHOOK_DATA_KEYS,
    VeltClient,
    tron_account,
    vapp,
    velt,
    velt_settings,
    velt_store,
    veltpay_key,
    vsettings,
    vsvc,
)


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"error", "request_id"} and body["error"]["code"] == code
    return dict(body["error"])


@pytest.mark.parametrize(("field", "value", "says"), [
    ("amount", 49.99, "never a JSON number"),
    ("amount", "49.9999991", "USDT has 6 decimals"),
    ("amount", "1e3", "plain decimal string"),
    ("amount", "-5", "plain decimal string"),
    ("amount", " 5", "plain decimal string"),
    ("amount", "0", "greater than zero"),
    ("amount", None, "required"),
    ("order_ref", None, "required"),
    ("order_ref", 1001, "required"),
    ("order_ref", "inv 1001", "printable"),
    ("order_ref", "x" * 121, "printable"),
    ("ttl_seconds", "1800", "integer number of seconds"),
    ("ttl_seconds", 1800.5, "integer number of seconds"),
    ("ttl_seconds", True, "integer number of seconds"),
    ("ttl_seconds", 59, "from 60 to 604800"),
    ("ttl_seconds", 604801, "from 60 to 604800"),
    ("metadata", ["a"], "object"),
])
def test_bad_order_fields_are_named(velt, field, value, says) -> None:
    body = {"order_ref": "inv_1001", "amount": "49.99", field: value}
    raw = json.dumps({k: v for k, v in body.items() if v is not None})
    error = problem(velt.send("POST", "/v1/orders", raw), 422, "validation_error")
    assert says in error["fields"][field] and list(error["fields"]) == [field]


def test_amounts_are_exact_decimal_strings(velt) -> None:
    exact = velt.post("/v1/orders", {"order_ref": "a", "amount": "1234.567890"}).get_json()
    # Echoed as the client wrote it (issue 16): the trailing zero stays; nothing paid reads "0" as documented.
    assert (exact["amount"], exact["amount_paid"]) == ("1234.567890", "0")
    tiny = problem(velt.post("/v1/orders", {"order_ref": "b", "amount": "0.000001"}), 422, "amount_too_low")
    assert "minimum" in tiny["message"]
    huge = problem(velt.post("/v1/orders", {"order_ref": "c", "amount": "1000000.01"}), 422, "amount_too_high")
    assert "maximum" in huge["message"]


def test_bodies_that_are_not_json_objects(velt) -> None:
    assert problem(velt.send("POST", "/v1/orders", "{"), 400, "invalid_json")["message"].startswith("Malformed")
    problem(velt.send("POST", "/v1/orders", "[]"), 400, "invalid_json")
    form = "order_ref=a&amount=1"
    headers = {**velt.headers("POST", "/v1/orders", form), "Content-Type": "application/x-www-form-urlencoded"}
    problem(velt.send("POST", "/v1/orders", form, headers), 415, "unsupported_media_type")


def test_a_repeated_order_ref_returns_the_order_and_a_changed_amount_conflicts(velt, vapp, vsvc, velt_store):
    """The spec does not say: a retry (same order_ref and amount) is idempotent, anything else a 409."""
    first = velt.post("/v1/orders", {"order_ref": "inv_1001", "amount": "49.99", "ttl_seconds": 1800})
    again = velt.post("/v1/orders", {"order_ref": "inv_1001", "amount": "49.990"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    conflict = problem(velt.post("/v1/orders", {"order_ref": "inv_1001", "amount": "50"}), 409,
                       "order_ref_conflict")
    assert "inv_1001" in conflict["message"]
    # VOLTXT's external ids live beside VeltPay's order_refs without colliding.
    from gateway_core.keys.api_keys import issue_key

    with vsvc.uow() as uow:
        voltxt_key = issue_key(uow, vsvc.vault, velt_store).api_key
    voltxt = post_json(vapp.test_client(), "/api/plugin/invoice/create",
                       invoice_body(voltxt_key, external_invoice_id="inv_1001"))
    assert voltxt.status_code == 201


def test_retrieve_is_scoped_to_the_store(velt, vapp, vsvc, clock) -> None:
    order = velt.post("/v1/orders", {"order_ref": "mine", "amount": "3"}).get_json()
    fetched = velt.get(f"/v1/orders/{order['id']}")
    assert fetched.status_code == 200 and list(fetched.get_json()) == [*ORDER_KEYS, "metadata"]
    assert fetched.get_json()["metadata"] is None
    with vsvc.uow() as uow:
        other = create_store(uow, vsvc.vault, name="Other Shop", network="sandbox").id
    stranger = VeltClient(velt.http, veltpay_key(vapp, str(other)), clock)
    assert "ord_" in problem(stranger.get(f"/v1/orders/{order['id']}"), 404, "order_not_found")["message"]
    for unknown in ("ord_23456789ABCDEF", "nothing", order["id"][4:]):
        problem(velt.get(f"/v1/orders/{unknown}"), 404, "order_not_found")
    assert stranger.get("/v1/orders").get_json()["data"] == []


def test_list_is_newest_first_and_paged(velt) -> None:
    ids = [velt.post("/v1/orders", {"order_ref": f"inv_{n}", "amount": f"{n}.5"}).get_json()["id"]
           for n in range(1, 4)]
    page = velt.get("/v1/orders?limit=2&offset=0").get_json()
    assert [o["id"] for o in page["data"]] == [ids[2], ids[1]] and (page["limit"], page["offset"]) == (2, 0)
    assert all(list(o) == [*ORDER_KEYS, "metadata"] for o in page["data"])
    rest = velt.get("/v1/orders?limit=2&offset=2").get_json()
    assert [o["id"] for o in rest["data"]] == [ids[0]] and (rest["limit"], rest["offset"]) == (2, 2)
    for query, field in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"),
                         ("offset=-1", "offset")):
        error = problem(velt.get(f"/v1/orders?{query}"), 422, "validation_error")
        assert list(error["fields"]) == [field]


def test_public_status_needs_no_key_and_shows_display_safe_fields(velt, vapp) -> None:
    order = velt.post("/v1/orders", {"order_ref": "inv_9", "amount": "7.25",
                                     "metadata": {"email": "buyer@example.com"}}).get_json()
    public_id = order["checkout_url"].rsplit("/", 1)[1]
    http = vapp.test_client()
    shown = http.get(f"/v1/public/orders/{public_id}")
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert shown.get_json() == {k: order[k] for k in PUBLIC_KEYS}
    assert order["id"] not in shown.get_data(as_text=True) and "buyer@example.com" not in shown.get_data(as_text=True)
    assert public_id not in order["id"] and order["id"][4:] not in public_id
    for unknown in ("3fa85f64-5717-4562-b3fc-2c963f66afa6", "not-a-uuid", order["id"]):
        problem(http.get(f"/v1/public/orders/{unknown}"), 404, "order_not_found")
        problem(http.get(f"/v1/public/checkout/{unknown}"), 404, "order_not_found")
    problem(http.get("/v1/public/elsewhere"), 404, "not_found")


def test_public_status_is_rate_limited_per_client(database_url, tmp_path, clock, velt) -> None:
    order = velt.post("/v1/orders", {"order_ref": "inv_9", "amount": "7.25"}).get_json()
    public_id = order["checkout_url"].rsplit("/", 1)[1]
    with running_app(velt_settings(database_url, tmp_path, checkout_status_per_minute=2), clock) as app:
        http = app.test_client()
        assert http.get(f"/v1/public/orders/{public_id}").status_code == 200
        limited = http.get(f"/v1/public/orders/{public_id}")
        problem(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) >= 1


def test_orders_offer_usdt_alone_and_need_a_store_that_takes_it(velt, vapp, vsvc, clock) -> None:
    order = velt.post("/v1/orders", {"order_ref": "only-usdt", "amount": "10"}).get_json()
    assert re.fullmatch(r"T[1-9A-HJ-NP-Za-km-z]{33}", order["address"])
    with vsvc.uow() as uow:
        solana_only = create_store(uow, vsvc.vault, name="Sol Shop", network="devnet",
                                   wallets={"SOL": "So11111111111111111111111111111111111111112"}).id
    sol = VeltClient(velt.http, veltpay_key(vapp, str(solana_only)), clock)
    refused = problem(sol.post("/v1/orders", {"order_ref": "x", "amount": "10"}), 422, "usdt_not_accepted")
    assert "USDT" in refused["message"]


def test_oversized_bodies_are_refused_before_anything_is_read_into_an_order(velt) -> None:
    huge = json.dumps({"order_ref": "big", "amount": "1", "metadata": {"blob": "x" * (70 * 1024)}})
    problem(velt.send("POST", "/v1/orders", huge), 413, "payload_too_large")


def test_the_openapi_document_describes_what_is_served(vapp) -> None:
    served = vapp.test_client().get("/openapi/veltpay.yaml")
    assert served.status_code == 200
    document = yaml.safe_load(served.get_data())
    schemas = document["components"]["schemas"]
    assert schemas["WebhookOrder"]["required"] == WEBHOOK_DATA_KEYS
    assert schemas["Order"]["allOf"][1]["required"] == ["checkout_url", "metadata"]
    assert schemas["PublicOrder"]["required"] == PUBLIC_KEYS
    assert set(document["paths"]) == {"/v1/orders", "/v1/orders/{id}", "/v1/public/orders/{id}",
                                      "/v1/public/checkout/{id}"}
    assert set(schemas["Status"]["enum"]) == set(STATUS.values())
    assert set(schemas["EventName"]["enum"]) == set(EVENTS.values())
