"""The one protocol every storefront platform implements (DESIGN.md §9).

A platform adapter turns a platform order into a core invoice request (one invoice per platform order,
whatever the retries) and applies canonical invoice events back onto the platform's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.views import InvoiceView


@dataclass(frozen=True)
class PlatformOrder:
    """A storefront order as the platform describes it, reduced to what an invoice needs."""

    platform: str
    order_id: str  # stable per order on that platform: the invoice's external id
    request: InvoiceRequest
    raw: dict[str, Any]


@dataclass(frozen=True)
class OrderUpdate:
    """What the adapter did to the platform order for one event (for logs and delivery records)."""

    order_id: str
    action: str  # e.g. "mark_paid", "hold", "cancel", "note", "ignored"
    detail: str = ""


class StorefrontAdapter(Protocol):
    """Maps one platform's checkout onto the core and invoice events back onto its orders."""

    platform: str

    def order_from_request(self, payload: dict[str, Any]) -> PlatformOrder:
        """Parse the platform's checkout request into an order; raise ValidationFailed on bad input."""
        ...

    def apply_event(self, event_type: str, invoice: InvoiceView) -> OrderUpdate:
        """Apply a canonical invoice event (invoice.paid, invoice.confirmed, ...) to the platform order."""
        ...
