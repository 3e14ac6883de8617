"""The outbox channel "shopify": each delivery becomes one Payments Apps GraphQL mutation on the shop.

Deliveries come from two places: the outbox's platform deliveries (a canonical invoice event for a payment
session, body built by gateway_core.notifications.outbox) and the calls this package queues itself (calls.py:
refund rejections, refused sessions, the app's configuration), which carry a `kind`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import PlatformInstallation, PlatformOrder
from gateway_core.adapters.secrets import KeyVault
from gateway_core.config import Settings
from gateway_core.ports import HttpResult, WebhookTransport
from storefront_adapters.shopify import graphql
from storefront_adapters.shopify.adapter import PENDING, REJECT, RESOLVE, action_for, reject_message
from storefront_adapters.shopify.wire import api_origin, graphql_url

log = logging.getLogger(__name__)
# How long Shopify keeps a payment pending while the chain finalises it (Shopify suggests at most 3 days;
# finality takes seconds to minutes, and the outbox gives up on a delivery after 6 hours).
PENDING_FOR = timedelta(days=1)


def access_token(session: Session, vault: KeyVault, installation_id: Any) -> str | None:
    """The shop's offline access token, decrypted; None once the app is uninstalled."""
    installation = session.get(PlatformInstallation, installation_id) if isinstance(installation_id, int) else None
    if installation is None or not installation.credentials_encrypted:
        return None
    token = loads(vault.decrypt(installation.credentials_encrypted)).get("access_token")
    return token if isinstance(token, str) else None


def call_for(body: dict[str, Any]) -> graphql.Call | None:
    """The mutation a delivery body asks for (None: nothing to tell Shopify)."""
    kind = body.get("kind")
    if kind == "refund_reject":
        return graphql.reject_refund(body["gid"], body["message"])
    if kind == "payment_reject":
        return graphql.reject(body["gid"], body["message"])
    if kind == "configure":
        return graphql.configure(body["external_handle"])
    gid = (body.get("order") or {}).get("gid")
    action = action_for(str(body.get("event_type")))
    if not gid or action is None:
        return None
    if action == PENDING:
        occurred = datetime.fromisoformat(str(body["occurred_at"]))
        return graphql.pending(gid, occurred + PENDING_FOR)
    if action == RESOLVE:
        return graphql.resolve(gid)
    assert action == REJECT
    return graphql.reject(gid, reject_message(str(body["event_type"]), body.get("invoice") or {}))


class ShopifyChannel:
    """gateway_core.ports.DeliveryChannel for Shopify shops."""

    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork]) -> None:
        self.settings, self.uow = settings, uow

    def credentials(self, session: Session, delivery: Any, vault: KeyVault) -> dict[str, str]:
        token = access_token(session, vault, loads(delivery.body).get("installation_id"))
        return {"access_token": token} if token else {}

    def send(self, job: Any, at: datetime, transport: WebhookTransport, timeout: float) -> HttpResult:
        body = loads(job.body)
        call = call_for(body)
        if call is None:
            return HttpResult(204, b"", 0.0)
        token = (job.credentials or {}).get("access_token")
        if not token:
            # Retried, then dead-lettered with the merchant emailed: a reinstall brings the token back.
            return HttpResult(None, b"", 0.0, "no Shopify access token for this shop (app not installed)")
        assert job.url is not None
        url = graphql_url(api_origin(job.url, self.settings.shopify_api_origin), self.settings.shopify_api_version)
        answer = graphql.post(transport, url, token, call, timeout)
        if answer.result.ok and answer.redirect_url and body.get("order_ref"):
            self._remember_redirect(body["installation_id"], body["order_ref"], answer.redirect_url)
        return answer.result

    def _remember_redirect(self, installation_id: int, order_ref: str, url: str) -> None:
        """Keep Shopify's nextAction redirect: the buyer's way back to the shop (bridge/shopify.py /return)."""
        try:
            with self.uow() as uow:
                order = uow.session.execute(select(PlatformOrder).where(
                    PlatformOrder.installation_id == installation_id, PlatformOrder.order_ref == order_ref)
                ).scalar_one_or_none()
                if order is not None:
                    order.data = {**(order.data or {}), "redirect_url": url}
        except Exception:  # the mutation is done; without the link the return page offers the shop's cancel URL
            log.exception("could not record the Shopify redirect", extra={"order_ref": order_ref})
