"""Calls to a shop that no invoice event causes (a refund to reject, a session we refuse, the app's setup),
queued in the outbox in the caller's transaction like every other delivery, so none is lost on a crash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway_core.adapters.jsonwire import dumps
from gateway_core.adapters.models import Delivery, PlatformInstallation
from gateway_core.domain.identifiers import new_event_id
from gateway_core.notifications.outbox import endpoint_for
from storefront_adapters.shopify.adapter import PLATFORM


def enqueue_call(session: Session, installation: PlatformInstallation, kind: str, event_type: str, now: datetime,
                 invoice_number: str | None = None, **fields: Any) -> Delivery:
    """One delivery on the "shopify" channel to this shop; the channel turns `kind` into the mutation."""
    body = {"kind": kind, "installation_id": installation.id, **fields}
    delivery = Delivery(
        store_id=installation.store_id, event_id=new_event_id(), event_type=event_type,
        invoice_number=invoice_number, channel=PLATFORM,
        endpoint=endpoint_for(session, installation.store_id, PLATFORM, installation.account, now),
        body=dumps(body), headers={}, next_attempt_at=now, created_at=now, updated_at=now)
    session.add(delivery)
    return delivery
