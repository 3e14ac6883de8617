"""The outbox channel "saleor": each invoice event of a Saleor transaction becomes transactionEventReport calls.

The outbox wrote the delivery with the status change; this channel turns its body into the mutations at send
time and answers ok only when Saleor accepted every report, so anything else is retried on the outbox schedule
(reports already accepted come back alreadyProcessed on the retry, with our own message).

Saleor answers `alreadyProcessed: true`, and changes nothing, when it already holds an event with the same
pspReference and type. When that event is not ours word for word, the report was meant to change something
and did not: that is logged as a warning and marked in the delivery's response excerpt.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from gateway_core.adapters.jsonwire import dumps, loads
from gateway_core.adapters.models import PlatformInstallation
from gateway_core.adapters.secrets import KeyVault
from gateway_core.ports import HttpResult, WebhookTransport
from storefront_adapters.saleor.adapter import ChargeReport, charge_reports
from storefront_adapters.saleor.client import ReportOutcome, report_event
from storefront_adapters.saleor.installations import app_token

log = logging.getLogger(__name__)
UNCHANGED = "ALREADY_PROCESSED_UNCHANGED"  # the mark in the delivery log


class SaleorChannel:
    """ports.DeliveryChannel for Saleor instances (Delivery.channel == "saleor")."""

    def credentials(self, session: Session, delivery: Any, vault: KeyVault) -> dict[str, str]:
        """The installation's app token, decrypted in the claim transaction."""
        installation_id = loads(delivery.body).get("installation_id")
        row = session.get(PlatformInstallation, installation_id) if isinstance(installation_id, int) else None
        token = app_token(vault, row) if row is not None else None
        return {"token": token, "api_url": row.account} if token and row is not None else {}

    def send(self, job: Any, at: datetime, transport: WebhookTransport, timeout: float) -> HttpResult:
        body = loads(job.body)
        order = body["order"]
        reports = charge_reports(body["event_type"], body["invoice"], Decimal(str(order["amount"])))
        if not reports:  # an event the order asked for but Saleor has no word for: nothing to send
            return HttpResult(200, b"nothing to report", 0.0)
        token = (job.credentials or {}).get("token")
        if not token:
            return HttpResult(None, b"", 0.0, "the Saleor app is not registered (or was removed) for this instance")
        assert job.url is not None  # the installation's API URL, the delivery's endpoint
        marks: list[str] = []
        latency = 0.0
        for report in reports:
            variables = {"id": body["order_ref"], "type": report.type, "amount": report.amount,
                         "pspReference": report.psp_reference, "message": report.message,
                         "externalUrl": order.get("paymentUrl"), "time": body["occurred_at"],
                         "availableActions": list(report.actions)}
            result, outcome = report_event(transport, job.url, token, variables, timeout)
            latency += result.latency
            if not outcome.accepted:
                return HttpResult(result.status, result.body, latency, outcome.problem)
            unchanged = _unchanged(report, outcome)
            if unchanged:
                log.warning("saleor report changed nothing", extra={
                    "delivery_id": job.delivery_id, "invoice_number": body["invoice"].get("number"),
                    "transaction_id": body["order_ref"], "detail": unchanged})
                marks.append(unchanged)
        answer = (dumps({UNCHANGED: marks}).encode() + b" " if marks else b"") + result.body
        return HttpResult(result.status, answer, latency)


def _unchanged(report: ChargeReport, outcome: ReportOutcome) -> str | None:
    """Why an alreadyProcessed answer left Saleor other than the report meant (None: it held our event)."""
    if not outcome.already_processed:
        return None
    kept = outcome.kept or {}
    if kept.get("message") == report.message:
        return None  # our own report or session answer for the same state, told earlier
    if report.type == "CHARGE_REQUEST" and outcome.charged + outcome.charge_pending >= report.amount:
        return None  # Saleor already counts the money (a process answer made it final first)
    if report.type == "CHARGE_SUCCESS" and outcome.charged >= report.amount:
        return None
    theirs = str(kept.get("message") or "")
    return (f"{report.type} {report.psp_reference}: Saleor kept its event {kept.get('id')} "
            f"({theirs[:60]!r}) and changed nothing")
