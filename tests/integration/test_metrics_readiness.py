"""GET /metrics and /readyz (issue 23 points 3 and 4), on both databases, with an injected clock."""

from __future__ import annotations

import dataclasses
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gateway_core import telemetry
from gateway_core.adapters.models import Delivery, DeliveryAttempt
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.stores.manage import NewStore
from gateway_core.worker_status import publish
from tests.conftest import invoice_body, post_json, running_app


def scrape(client: Any, **kwargs: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def beat(services: Services, worker: str = "w1") -> None:
    with services.uow() as uow:
        publish(uow, worker, services.clock.now())


def test_metrics_are_refused_outside_the_allowlist_unless_the_token_is_borne(
        settings: Settings, clock: FrozenClock, client: Any) -> None:
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1, the default allowlist
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 403
    guarded = dataclasses.replace(settings, metrics_allowlist=("10.0.0.0/8",), metrics_token="s3cret-token")
    with running_app(guarded, clock) as app:
        other = app.test_client()
        assert other.get("/metrics").status_code == 403
        assert other.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
        assert other.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert other.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200


def test_metrics_describe_requests_invoices_deliveries_and_what_workers_published(
        client: Any, services: Services, store: NewStore, clock: FrozenClock) -> None:
    assert post_json(client, "/api/plugin/invoice/create", invoice_body(store.api_key)).status_code == 201
    assert client.get("/api/plugin/invoice/NOPE/status", query_string={"api_key": store.api_key}).status_code == 404
    with services.uow() as uow:
        delivery = Delivery(store_id=store.id, event_id="evt_metrics_1", event_type="payment_received",
                            channel="store", body="{}", next_attempt_at=clock.now(), attempts=1)
        uow.session.add(delivery)
        uow.session.flush()
        uow.session.add(DeliveryAttempt(delivery_id=delivery.id, number=1, started_at=clock.now(), status_code=500,
                                        latency_ms=120, ok=False))
    endpoint = "https://rpc.metrics-test.example"
    telemetry.count("rpc_calls_total", 3, chain="solana", endpoint=endpoint)
    telemetry.count("rpc_errors_total", chain="solana", endpoint=endpoint)
    telemetry.gauge("fee_payer_lamports", 123_000_000, network="metrics-test")
    beat(services, "host:1")

    figures = scrape(client)
    created = ("voltbridge_http_requests_total",
               (("contract", "voltxt"), ("endpoint", "/api/plugin/invoice/create"), ("status", "201")))
    assert figures[created] >= 1
    missing = ("voltbridge_http_requests_total",
               (("contract", "voltxt"), ("endpoint", "/api/plugin/invoice/<number>/status"), ("status", "404")))
    assert figures[missing] >= 1
    assert figures[("voltbridge_invoices", (("status", "pending"),))] == 1
    assert figures[("voltbridge_deliveries", (("channel", "store"), ("state", "retry")))] == 1
    assert figures[("voltbridge_delivery_send_seconds_bucket", (("channel", "store"), ("le", "0.1")))] == 0
    assert figures[("voltbridge_delivery_send_seconds_bucket", (("channel", "store"), ("le", "0.25")))] == 1
    assert figures[("voltbridge_delivery_send_seconds_count", (("channel", "store"),))] == 1
    rpc = (("chain", "solana"), ("endpoint", endpoint), ("worker", "host:1"))
    assert figures[("voltbridge_rpc_calls_total", rpc)] >= 3
    assert figures[("voltbridge_rpc_errors_total", rpc)] >= 1
    assert figures[("voltbridge_fee_payer_lamports", (("network", "metrics-test"), ("worker", "host:1")))] == 123e6
    assert figures[("voltbridge_worker_heartbeat_timestamp_seconds", (("worker", "host:1"),))] == \
        clock.now().timestamp()


def test_readiness_needs_the_database_a_recent_worker_heartbeat_and_watchers_within_the_lag(
        client: Any, services: Services, clock: FrozenClock, settings: Settings) -> None:
    assert client.get("/healthz").status_code == 200
    unready = client.get("/readyz")
    assert unready.status_code == 503
    assert unready.get_json()["reason"] == "no worker heartbeat within 3 ticks"

    beat(services)
    assert client.get("/readyz").get_json() == {"status": "ready"}
    clock.advance(seconds=3 * settings.watch_interval_seconds)
    assert client.get("/readyz").status_code == 200
    clock.advance(seconds=1)
    stale = client.get("/readyz")
    assert stale.status_code == 503 and "heartbeat" in stale.get_json()["reason"]
    assert client.get("/healthz").status_code == 200  # liveness only

    telemetry.gauge("watcher_lag", settings.watch_max_lag + 1, chain="tron", network="readiness-test")
    try:
        beat(services)
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert behind.get_json()["reason"].startswith(f"watcher more than WATCH_MAX_LAG={settings.watch_max_lag}")
        assert behind.get_json()["watchers"] == [
            {"chain": "tron", "network": "readiness-test", "lag": settings.watch_max_lag + 1}]
    finally:
        telemetry.gauge("watcher_lag", 0, chain="tron", network="readiness-test")
    beat(services)
    assert client.get("/readyz").status_code == 200


def test_readiness_names_an_unreachable_database(settings: Settings, clock: FrozenClock, tmp_path: Any) -> None:
    if settings.database_url.startswith("postgresql"):
        url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    else:
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'voltbridge.db'}"
    with running_app(dataclasses.replace(settings, database_url=url), clock) as app:
        answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "unready", "reason": "database unreachable"}


def test_a_worker_that_stops_watching_stops_publishing_its_lag(
        client: Any, services: Services, clock: FrozenClock, settings: Settings) -> None:
    """The worker lost the watch family to a standby: its last lag (far behind) must not hold /readyz at 503
    while it keeps beating, nor linger in /metrics."""
    lag = ("voltbridge_watcher_lag", (("chain", "tron"), ("network", "handover-test"), ("worker", "w1")))
    telemetry.gauge("watcher_lag", settings.watch_max_lag + 5, fresh_rounds=3, chain="tron", network="handover-test")
    try:
        beat(services)
        assert client.get("/readyz").status_code == 503
        assert scrape(client)[lag] == settings.watch_max_lag + 5
        for _ in range(2):  # no longer set, still within its three rounds
            clock.advance(seconds=settings.watch_interval_seconds)
            beat(services)
        assert client.get("/readyz").status_code == 503
        clock.advance(seconds=settings.watch_interval_seconds)
        beat(services)
        assert client.get("/readyz").get_json() == {"status": "ready"}
        assert lag not in scrape(client)
        assert ("watcher_lag", (("chain", "tron"), ("network", "handover-test"))) not in telemetry.snapshot()
    finally:  # a failure above must not leave a lag behind for the next test in this process
        telemetry.gauge("watcher_lag", 0, fresh_rounds=1, chain="tron", network="handover-test")
