"""Webhook formats of the non-VOLTXT contracts (issue 8): what each contract sends for an invoice event.

An invoice created through a contract (Invoice.contract) is reported to the store's webhook for that contract
(ContractWebhook) in that contract's own payload and signature. The outbox renders the body at enqueue time
(a retry sends the same bytes); the signature is added at send time, because some formats sign a timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gateway_core.views import InvoiceView


@dataclass(frozen=True)
class ContractMessage:
    """One webhook of a contract: its event name, JSON payload and the headers known at enqueue time."""

    event_name: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class ContractWebhookFormat(Protocol):
    contract: str

    def message(self, view: InvoiceView, event_type: str, event_id: str, at: datetime) -> ContractMessage | None:
        """The contract's webhook for a canonical event (invoice.paid, ...), or None if it reports no such event."""
        ...

    def sign(self, secret: str, body: bytes, at: datetime) -> Mapping[str, str]:
        """Headers that sign `body` at send time with the store's secret for this contract."""
        ...
