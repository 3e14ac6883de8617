"""GET /metrics in the Prometheus text format (issue 23).

Request counts are per web process (prometheus_client; multiprocess mode when PROMETHEUS_MULTIPROC_DIR is
set, as `voltbridge web` does under gunicorn). Everything else is read at scrape time: invoices, payments and
deliveries from the database, and the figures each worker published at its last tick (worker_metrics), so
one scrape of any web process describes the whole deployment. Served only to METRICS_ALLOWLIST addresses
or to a request bearing METRICS_TOKEN.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from bridge.extensions import services
from gateway_core.adapters.models import Delivery, DeliveryAttempt, Invoice, Payment
from gateway_core.bootstrap import Services
from gateway_core.worker_status import HEARTBEAT, figures

bp = Blueprint("metrics", __name__)
REQUESTS = Counter("voltbridge_http_requests", "HTTP requests answered, by contract, endpoint and status",
                   ["contract", "endpoint", "status"])
# Blueprints that serve one contract under several names.
CONTRACT_OF = {"dynamic_payment": "voltxt", "voltxt_notifications": "voltxt", "veltpay_public": "veltpay"}
SEND_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def install(app: Flask) -> None:
    """Count every answered request; serve /metrics."""

    @app.after_request
    def _count(response: Any) -> Any:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        blueprint = request.blueprint or "none"
        REQUESTS.labels(CONTRACT_OF.get(blueprint, blueprint), rule, str(response.status_code)).inc()
        return response

    app.register_blueprint(bp)


def _allowed() -> bool:
    settings = services().settings
    header = request.headers.get("Authorization", "")
    if settings.metrics_token and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].strip().encode(), settings.metrics_token.encode())
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    for entry in settings.metrics_allowlist:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@bp.get("/metrics")
def metrics() -> Response:
    if not _allowed():
        return Response("metrics are served to METRICS_ALLOWLIST or with the bearer token\n", 403,
                        mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
    else:
        processes = REGISTRY
    store = CollectorRegistry(auto_describe=False)
    store.register(StoreCollector(services()))
    return Response(generate_latest(processes) + generate_latest(store), mimetype=CONTENT_TYPE_LATEST)


class StoreCollector(Collector):
    """Figures read from the database at scrape time."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc

    def collect(self) -> Iterator[Metric]:
        with self._svc.uow(read_only=True) as uow:
            session = uow.session
            invoices = GaugeMetricFamily("voltbridge_invoices", "Invoices by status", labels=["status"])
            for status, count in session.execute(select(Invoice.status, func.count()).group_by(Invoice.status)):
                invoices.add_metric([status], count)
            yield invoices

            payments = CounterMetricFamily("voltbridge_payments_seen", "Transfers recorded, by chain and network",
                                           labels=["chain", "network"])
            for chain, network, count in session.execute(
                    select(Payment.chain, Payment.network, func.count()).group_by(Payment.chain, Payment.network)):
                payments.add_metric([chain, network], count)
            yield payments

            state = case((Delivery.status == "pending", case((Delivery.attempts > 0, "retry"), else_="pending")),
                         else_=Delivery.status)
            deliveries = GaugeMetricFamily("voltbridge_deliveries",
                                           "Deliveries not yet delivered: pending, retry, sending, dead",
                                           labels=["channel", "state"])
            for channel, name, count in session.execute(
                    select(Delivery.channel, state, func.count())
                    .where(Delivery.status.in_(("pending", "sending", "dead")))
                    .group_by(Delivery.channel, state)):
                deliveries.add_metric([channel, name], count)
            yield deliveries
            yield self._send_latency(session)

            yield from self._published(figures(uow))

    def _send_latency(self, session: Any) -> Metric:
        """Every delivery attempt's duration, per channel (from the attempt log, so across all workers)."""
        columns = [func.sum(case((DeliveryAttempt.latency_ms <= bound, 1), else_=0)) for bound in SEND_BUCKETS_MS]
        rows = session.execute(
            select(Delivery.channel, func.count(), func.coalesce(func.sum(DeliveryAttempt.latency_ms), 0), *columns)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id).group_by(Delivery.channel))
        histogram = HistogramMetricFamily("voltbridge_delivery_send_seconds",
                                          "Time to send a delivery (one attempt), per channel", labels=["channel"])
        for channel, total, summed, *counts in rows:
            buckets = [(str(bound / 1000), int(n or 0)) for bound, n in zip(SEND_BUCKETS_MS, counts, strict=True)]
            histogram.add_metric([channel], [*buckets, ("+Inf", int(total))], int(summed) / 1000)
        return histogram

    @staticmethod
    def _published(rows: list[Any]) -> Iterator[Metric]:
        """The workers' figures: heartbeat, watcher lag, RPC calls and errors, rate age, fee-payer balance."""
        families: dict[str, Metric] = {}
        for figure in rows:
            name = "worker_heartbeat_timestamp_seconds" if figure.name == HEARTBEAT else figure.name
            labels = {**figure.labels, "worker": figure.worker}
            family = families.get(name)
            if family is None:
                kind = CounterMetricFamily if name.endswith("_total") else GaugeMetricFamily
                family = families[name] = kind(f"voltbridge_{name.removesuffix('_total')}",
                                               f"{name}, as each worker published it", labels=sorted(labels))
            family.add_metric([labels[k] for k in sorted(labels)], float(figure.value))
        yield from families.values()
