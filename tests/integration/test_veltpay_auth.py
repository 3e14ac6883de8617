# ruff: noqa: F811 - pytest fixtures are imported from veltpay_support and used as arguments
"""Issue 8, point 5 for VeltPay: HMAC request authentication. The client signs as the spec's Node and Go examples
do; every refusal is a 401 in VeltPay's error format with a reason a developer can act on."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway_core.adapters.models import Invoice, VeltpaySignature
from gateway_core.keys import veltpay_auth
from tests.conftest import running_app
from tests.integration.veltpay_support import (  # noqa: F401 - fixtures
    Key,
    VeltClient,
    cli,
    tron_account,
    vapp,
    velt,
    velt_store,
    vsettings,
    vsvc,
)

BODY = json.dumps({"order_ref": "inv_1001", "amount": "49.99"}, separators=(",", ":"))


def refused(response, reason: str) -> str:
    """The 401's message, after checking the error format."""
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "request_id"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == reason
    return str(body["error"]["message"])


def orders(vsvc) -> int:
    with vsvc.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one()


def test_timestamps_are_unix_seconds_within_300_seconds_either_way(velt, clock) -> None:
    now = int(clock.now().timestamp())
    for edge in (now - 300, now + 300):
        response = velt.send("GET", "/v1/orders?limit=1", headers=velt.headers("GET", "/v1/orders?limit=1",
                                                                               ts=str(edge)))
        assert response.status_code == 200, response.get_json()
    now = int(clock.now().timestamp())
    stale = velt.send("POST", "/v1/orders", BODY, velt.headers("POST", "/v1/orders", BODY, ts=str(now - 301)))
    assert "301 s in the past" in refused(stale, "stale_timestamp")
    future = velt.send("POST", "/v1/orders", BODY, velt.headers("POST", "/v1/orders", BODY, ts=str(now + 302)))
    assert "in the future" in refused(future, "future_timestamp")
    millis = velt.send("GET", "/v1/orders", headers=velt.headers("GET", "/v1/orders", ts=str(now * 1000)))
    assert "milliseconds" in refused(millis, "invalid_timestamp")
    for text in ("1717079400.5", "soon", "-1717079400"):
        odd = velt.send("GET", "/v1/orders", headers=velt.headers("GET", "/v1/orders", ts=text))
        assert "Unix seconds" in refused(odd, "invalid_timestamp")


def test_a_replayed_post_is_answered_with_the_same_order_even_in_another_process(velt, vsvc, vsettings,
                                                                                  clock) -> None:
    headers = velt.headers("POST", "/v1/orders", BODY)
    first = velt.http.post("/v1/orders", data=BODY, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = velt.http.post("/v1/orders", data=BODY, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    clock.advance(seconds=299)  # still inside the window: the record outlives a process and its memory
    with running_app(vsettings, clock) as other:
        replayed = other.test_client().post("/v1/orders", data=BODY, headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.get_json()["id"] == first.get_json()["id"]
    assert orders(vsvc) == 1
    # Signed afresh a second later, the same request is an ordinary retry (it returns the order, unmarked).
    clock.advance(seconds=1)
    retried = velt.post("/v1/orders", json.loads(BODY))
    assert retried.status_code == 200 and retried.get_json()["id"] == first.get_json()["id"]
    assert "Idempotent-Replayed" not in retried.headers


def test_a_replayed_refusal_is_refused_the_same_way(velt, vsvc) -> None:
    bad = json.dumps({"order_ref": "inv_1", "amount": 49.99})
    headers = velt.headers("POST", "/v1/orders", bad)
    first = velt.http.post("/v1/orders", data=bad, headers=headers)
    again = velt.http.post("/v1/orders", data=bad, headers=headers)
    assert first.status_code == again.status_code == 422
    assert first.get_json()["error"] == again.get_json()["error"]
    assert orders(vsvc) == 0


def test_identical_signed_reads_are_all_answered_and_record_nothing(velt, vsvc) -> None:
    created = velt.post("/v1/orders", json.loads(BODY)).get_json()
    for path in ("/v1/orders?limit=5", f"/v1/orders/{created['id']}"):
        headers = velt.headers("GET", path)  # a poller: 20 copies of one signed GET within its second
        answers = [velt.http.get(path, headers=headers) for _ in range(20)]
        assert [a.status_code for a in answers] == [200] * 20
        assert all(a.get_json() == answers[0].get_json() for a in answers)
    with vsvc.uow() as uow:  # only the POST's signature was recorded
        assert uow.session.execute(select(func.count()).select_from(VeltpaySignature)).scalar_one() == 1


def test_wrong_signatures_are_refused(velt, clock) -> None:
    path = "/v1/orders?limit=2&offset=0"
    cases = {
        "another secret": velt.headers("GET", path, secret="0" * 64),
        "query left out": velt.headers("GET", "/v1/orders"),
        "other method": velt.headers("POST", path),
        "not hex": {**velt.headers("GET", path), "X-Signature": "z" * 64},
        "truncated": {**velt.headers("GET", path), "X-Signature": velt.sign("GET", path)[1][:63]},
    }
    for case, headers in cases.items():
        response = velt.send("GET", path, headers=headers)
        assert response.status_code == 401, case
        assert response.get_json()["error"]["code"] == "invalid_signature", case
    signed = velt.headers("POST", "/v1/orders", BODY)
    tampered = BODY.replace("49.99", "0.01")
    assert "does not match" in refused(velt.send("POST", "/v1/orders", tampered, signed), "invalid_signature")
    upper = velt.headers("GET", path)
    upper["X-Signature"] = upper["X-Signature"].upper()  # hex is hex: upper case verifies the same
    assert velt.send("GET", path, headers=upper).status_code == 200


def test_unknown_keys_and_missing_headers(velt, vapp, velt_store) -> None:
    voltxt_key = json.loads(cli(vapp, "key", "create", str(velt_store), "--json").output)["api_key"]
    for key_id in ("vk_000000000000000000000000", voltxt_key, "x" * 65, "key with spaces"):
        headers = {**velt.headers("GET", "/v1/orders"), "X-Api-Key": key_id}
        assert "X-Api-Key" in refused(velt.send("GET", "/v1/orders", headers=headers), "invalid_api_key")
    for missing in ("X-Api-Key", "X-Timestamp", "X-Signature"):
        headers = {k: v for k, v in velt.headers("GET", "/v1/orders").items() if k != missing}
        refused(velt.send("GET", "/v1/orders", headers=headers), "missing_authentication")
    assert velt.get("/v1/orders").status_code == 200


def test_a_rotated_key_works_through_its_grace_period(velt, vapp, velt_store, clock) -> None:
    rotated = json.loads(cli(vapp, "key", "rotate", str(velt_store), "--kind", "veltpay", "--grace-hours", "1",
                             "--json").output)
    new = VeltClient(velt.http, Key(rotated["key_id"], rotated["secret"]), clock)
    assert new.key.key_id != velt.key.key_id
    assert velt.get("/v1/orders").status_code == 200 and new.get("/v1/orders").status_code == 200
    clock.advance(hours=1)
    refused(velt.get("/v1/orders"), "invalid_api_key")
    assert new.get("/v1/orders").status_code == 200


def test_the_replay_record_forgets_signatures_once_their_window_has_passed(velt, vsvc, clock, monkeypatch) -> None:
    assert velt.post("/v1/orders", json.loads(BODY)).status_code == 201
    with vsvc.uow() as uow:
        (kept,) = uow.session.execute(select(VeltpaySignature)).scalars()
    assert kept.key_id == velt.key.key_id
    assert kept.expires_at == clock.now() - timedelta(seconds=1) + timedelta(seconds=301)
    clock.advance(seconds=302)
    monkeypatch.setattr(veltpay_auth, "_next_prune", 0.0)
    assert velt.post("/v1/orders", {"order_ref": "inv_1002", "amount": "5"}).status_code == 201
    with vsvc.uow() as uow:
        signatures = uow.session.execute(select(VeltpaySignature.signature)).scalars().all()
    assert kept.signature not in signatures and len(signatures) == 1


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_unsupported_methods_answer_in_veltpay_format(velt, method) -> None:
    response = velt.send(method, "/v1/orders")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_concurrent_copies_of_one_signed_request_create_one_order(velt, vsvc) -> None:
    headers = velt.headers("POST", "/v1/orders", BODY)

    def send(_: int) -> int:
        return int(velt.http.post("/v1/orders", data=BODY, headers=headers).status_code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(send, range(4)))
    assert statuses == [200, 200, 200, 201]  # one creates, the copies get its order
    assert orders(vsvc) == 1
