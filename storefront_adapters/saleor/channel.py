"""The outbox channel "saleor": each invoice event of a Saleor transaction becomes a transactionEventReport.

The outbox wrote the delivery with the status change; this channel turns its body into the mutation at send
time and answers ok only when Saleor accepted the report, so anything else is retried on the outbox schedule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import PlatformInstallation
from gateway_core.adapters.secrets import KeyVault
from gateway_core.ports import HttpResult, WebhookTransport
from storefront_adapters.saleor.adapter import charge_report
from storefront_adapters.saleor.client import report_event
from storefront_adapters.saleor.installations import app_token


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
        report = charge_report(body["event_type"], body["invoice"])
        if report is None:  # an event the order asked for but Saleor has no word for: nothing to send
            return HttpResult(200, b"nothing to report", 0.0)
        token = (job.credentials or {}).get("token")
        if not token:
            return HttpResult(None, b"", 0.0, "the Saleor app is not registered (or was removed) for this instance")
        order = body["order"]
        variables = {"id": body["order_ref"], "type": report.type, "amount": order["amount"],
                     "pspReference": order["pspReference"], "message": report.message,
                     "externalUrl": order.get("paymentUrl"), "time": body["occurred_at"], "availableActions": []}
        assert job.url is not None  # the installation's API URL, the delivery's endpoint
        result, outcome = report_event(transport, job.url, token, variables, timeout)
        if outcome.accepted:
            return HttpResult(result.status, result.body, result.latency)
        return HttpResult(result.status, result.body, result.latency, outcome.problem)
