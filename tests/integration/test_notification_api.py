# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""Acceptance 5 and 6 of issue 4: notification management through the VOLTXT plugin API and the CLI, and the
challenge that verifies a new store webhook URL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from bridge.cli import main
from gateway_core.adapters.models import Email, Store
from gateway_core.clock import FrozenClock
from gateway_core.domain.errors import ValidationFailed
from gateway_core.notifications.notify_settings import verify_webhook_url
from gateway_core.stores.manage import create_store
from tests.conftest import post_json
from tests.fakes.receiver import Receiver
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    configure,
    create,
    deliveries,
    dispatcher,
    napp,
    nclient,
    notify_settings_for,
    nsettings,
    nsvc,
    pay,
    php_verify_store_webhook,
    receiver,
    shop,
)

SETTINGS = "/api/plugin/store/settings"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))  # webhook-timestamp is checked against now


def call(client, path: str, **body):
    return post_json(client, path, body)


def test_settings_are_read_without_fields_and_updated_with_them(nclient, shop, receiver) -> None:
    read = call(nclient, SETTINGS, api_key=shop.api_key)
    assert read.status_code == 200
    settings = read.get_json()["data"]["settings"]
    assert settings["webhook_url"] is None and settings["email_notifications"] is False
    assert settings["notification_email"] == "owner@shop.test" and settings["webhook_events_all"] is True
    assert set(settings["available_events"]) == {"partial_payment_received", "payment_received",
                                                 "payment_completed", "invoice_expired", "overpayment_detected",
                                                 "payment_cancelled"}

    url = receiver.url("/store")
    updated = call(nclient, SETTINGS, api_key=shop.api_key, webhook_url=url,
                   webhook_events=["payment_completed", "payment_received"], email_notifications=True,
                   notification_email="alerts@shop.test")
    assert updated.status_code == 200, updated.get_json()
    settings = updated.get_json()["data"]["settings"]
    assert settings["webhook_url"] == url and settings["email_notifications"] is True
    assert settings["webhook_events"] == ["payment_received", "payment_completed"]
    assert settings["notification_email"] == "alerts@shop.test"
    assert settings["signing"]["store_webhook_secret"].startswith("whsec_")
    # The new URL was verified with a challenge GET before it was saved.
    (challenge,) = [r for r in receiver.received if r.method == "GET"]
    assert urlsplit(challenge.path).path == "/store" and parse_qs(urlsplit(challenge.path).query)["challenge"]

    again = call(nclient, SETTINGS, api_key=shop.api_key, webhook_url=url, webhook_events="all")
    assert again.get_json()["data"]["settings"]["webhook_events_all"] is True
    assert len([r for r in receiver.received if r.method == "GET"]) == 1  # unchanged URL: no new challenge

    bad = call(nclient, SETTINGS, api_key=shop.api_key, webhook_events=["payment_sent"], notification_email="x",
               email_notifications="maybe")
    assert bad.status_code == 422 and bad.get_json()["error_code"] == "VALIDATION_ERROR"
    assert set(bad.get_json()["errors"]) == {"webhook_events", "notification_email", "email_notifications"}
    assert call(nclient, SETTINGS, api_key="x" * 32).get_json()["error_code"] == "INVALID_API_KEY"


@pytest.mark.parametrize(("behaviour", "reason"), [
    ({"echo_challenge": False, "body": b"hello"}, "not the challenge token"),
    ({"status": 404}, "HTTP 404"),
    ({"status": 301, "headers": {"Location": "http://127.0.0.1:1/"}}, "HTTP 301"),
])
def test_a_webhook_url_that_fails_the_challenge_is_refused(nclient, nsvc, shop, receiver, behaviour, reason):
    receiver.on("/bad", **behaviour)
    response = call(nclient, SETTINGS, api_key=shop.api_key, webhook_url=receiver.url("/bad"))
    body = response.get_json()
    assert response.status_code == 422 and body["error_code"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Webhook URL verification failed") and reason in body["message"]
    assert "webhook_url" in body["errors"]
    with nsvc.uow() as uow:
        assert uow.session.get(Store, shop.id).webhook_url is None  # not saved


def test_the_challenge_has_a_deadline_and_goes_through_the_ssrf_guard(nsvc, database_url, tmp_path, shop):
    with Receiver() as slow:
        slow.default.hang = True
        with pytest.raises(ValidationFailed, match="timed out"):
            verify_webhook_url(nsvc.webhooks, slow.url("/hook"), timeout=0.5)
    from bridge import create_app

    strict = create_app(notify_settings_for(database_url, tmp_path, outbound_allowlist=())).test_client()
    with Receiver() as local:
        response = call(strict, SETTINGS, api_key=shop.api_key, webhook_url=local.url("/hook"))
        assert response.status_code == 422 and "refused by SSRF guard" in response.get_json()["message"]
        assert local.received == []


def test_webhook_test_and_email_test(nclient, nsvc, shop, receiver, dispatcher) -> None:
    none = call(nclient, "/api/plugin/webhook/test", api_key=shop.api_key)
    assert none.status_code == 422 and none.get_json()["error_code"] == "WEBHOOK_NOT_CONFIGURED"
    off = call(nclient, "/api/plugin/email/test", api_key=shop.api_key)
    assert off.status_code == 422 and off.get_json()["error_code"] == "EMAIL_NOT_ENABLED"

    call(nclient, SETTINGS, api_key=shop.api_key, webhook_url=receiver.url("/store"), email_notifications=True)
    queued = call(nclient, "/api/plugin/webhook/test", api_key=shop.api_key)
    assert queued.status_code == 202 and queued.get_json()["data"]["event_type"] == "webhook_test"
    mail = call(nclient, "/api/plugin/email/test", api_key=shop.api_key)
    assert mail.status_code == 202
    assert receiver.posts() == []  # queued, not sent from the request
    dispatcher.run_until_idle()
    (sent,) = receiver.posts("/store")
    assert sent.json()["event_type"] == "webhook_test" and sent.json()["test"] is True
    assert sent.header("webhook-id") == queued.get_json()["data"]["event_id"]
    assert php_verify_store_webhook(sent.body, sent.header("X-VOLTXT-Signature") or "", shop.api_key)
    secret = call(nclient, SETTINGS, api_key=shop.api_key).get_json()["data"]["settings"]["signing"]
    Webhook(secret["store_webhook_secret"]).verify(sent.body, sent.headers)
    with nsvc.uow() as uow:
        (email,) = uow.session.execute(select(Email)).scalars().all()
    assert email.recipient == "owner@shop.test" and email.subject == "[Sandbox] Test email from Notify Shop"


def test_stats_per_endpoint_and_the_delivery_log(nclient, nsvc, shop, receiver, dispatcher, clock) -> None:
    call(nclient, SETTINGS, api_key=shop.api_key, webhook_url=receiver.url("/store"))
    receiver.on("/cb", status=500)
    for n in range(3):
        number = create(nclient, shop.api_key, external_invoice_id=f"o{n}",
                        callback_url=receiver.url("/cb"))["invoice_number"]
        pay(nsvc, number)  # payment_received + payment_completed to each endpoint
    dispatcher.run_until_idle()
    stats = {e["url"]: e for e in call(nclient, "/api/plugin/webhook/stats",
                                       api_key=shop.api_key).get_json()["data"]["endpoints"]}
    store = stats[receiver.url("/store")]
    assert store["deliveries"] == {"total": 6, "delivered": 6, "pending": 0, "dead": 0}
    assert store["success_rate"] == 100 and store["health"] == "healthy" and store["attempts"] == 6
    assert store["response_time_ms"]["p50"] is not None and store["response_time_ms"]["p95"] is not None
    assert store["last_success_at"] and store["last_failure_at"] is None
    callback = stats[receiver.url("/cb")]
    # Each invoice's second event waits for its first (in order per endpoint), so 3 failed tries so far.
    assert callback["attempts"] == 3 and callback["success_rate"] == 0 and callback["health"] == "failing"
    assert callback["last_failure_at"] and callback["last_success_at"] is None
    assert callback["deliveries"]["pending"] == 6

    page1 = call(nclient, "/api/plugin/webhook/deliveries", api_key=shop.api_key, page=1, per_page=4).get_json()
    page3 = call(nclient, "/api/plugin/webhook/deliveries", api_key=shop.api_key, page=3, per_page=4).get_json()
    assert page1["data"]["pagination"] == {"page": 1, "per_page": 4, "total": 12, "pages": 3}
    assert len(page1["data"]["deliveries"]) == 4 and len(page3["data"]["deliveries"]) == 4
    ids = [d["id"] for d in page1["data"]["deliveries"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    failed = call(nclient, "/api/plugin/webhook/deliveries", api_key=shop.api_key, channel="callback",
                  status="pending").get_json()["data"]["deliveries"]
    tried = [d for d in failed if d["attempts"]]
    assert len(tried) == 3 and all(d["attempt_log"][0]["status_code"] == 500 for d in tried)
    assert {"at", "latency_ms", "error", "response_excerpt", "ok"} <= set(tried[0]["attempt_log"][0])
    bad = call(nclient, "/api/plugin/webhook/deliveries", api_key=shop.api_key, per_page=1000)
    assert bad.status_code == 422


def test_manual_redelivery_keeps_the_event_id_and_is_marked(nclient, nsvc, shop, receiver, dispatcher) -> None:
    call(nclient, SETTINGS, api_key=shop.api_key, webhook_url=receiver.url("/store"))
    call(nclient, "/api/plugin/webhook/test", api_key=shop.api_key)
    dispatcher.run_until_idle()
    (original,) = deliveries(nsvc)
    response = call(nclient, f"/api/plugin/webhook/deliveries/{original.id}/redeliver", api_key=shop.api_key)
    assert response.status_code == 202
    copy = response.get_json()["data"]["delivery"]
    assert copy["event_id"] == original.event_id and copy["is_redelivery"] is True
    assert copy["redelivery_of"] == original.id and copy["id"] != original.id
    dispatcher.run_until_idle()
    first, second = receiver.posts("/store")
    assert first.header("webhook-id") == second.header("webhook-id") == original.event_id
    assert first.body == second.body
    assert first.header("X-VOLTXT-Redelivery") is None and second.header("X-VOLTXT-Redelivery") == "true"
    with nsvc.uow() as uow:
        other = create_store(uow, nsvc.vault, name="Other", network="sandbox")
    foreign = call(nclient, f"/api/plugin/webhook/deliveries/{original.id}/redeliver", api_key=other.api_key)
    assert foreign.status_code == 404 and foreign.get_json()["error_code"] == "DELIVERY_NOT_FOUND"


def test_the_cli_sets_the_same_settings(napp, nsvc, shop, receiver) -> None:
    runner = napp.test_cli_runner()
    result = runner.invoke(main, ["store", "set", str(shop.id), "--webhook-url", receiver.url("/cli"),
                                  "--webhook-events", "payment_completed,invoice_expired",
                                  "--email-notifications", "--brand-color", "#112233", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    view = json.loads(result.output.splitlines()[-1])
    assert view["webhook_url"] == receiver.url("/cli") and view["email_notifications"] is True
    assert view["webhook_events"] == ["payment_completed", "invoice_expired"] and view["brand_color"] == "#112233"
    assert any(r.method == "GET" and r.path.startswith("/cli?venmob_challenge=") for r in receiver.received)
    shown = runner.invoke(main, ["store", "set", "Notify Shop"], catch_exceptions=False)
    assert "email_notifications  on" in shown.output and "payment_completed,invoice_expired" in shown.output
    receiver.on("/broken", status=500)
    refused = runner.invoke(main, ["store", "set", str(shop.id), "--webhook-url", receiver.url("/broken")])
    assert refused.exit_code != 0 and "verification failed" in refused.output
    off = runner.invoke(main, ["store", "set", str(shop.id), "--no-email-notifications", "--webhook-url", ""])
    assert off.exit_code == 0, off.output
    with nsvc.uow() as uow:
        store = uow.session.get(Store, shop.id)
        assert store.webhook_url is None and store.email_notifications is False
