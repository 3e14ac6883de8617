"""VOLTXT plugin API, notifications: store settings, webhook/email tests, webhook stats and the delivery log.

The API key is in the JSON body, as everywhere in the plugin API. Nothing is sent from here: tests and
redeliveries go into the outbox and the worker sends them (the challenge GET that verifies a new webhook URL
is the one outbound request, made outside any transaction).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response

from bridge.contracts import voltxt_limits
from bridge.contracts.voltxt_limits import voltxt_store
from bridge.contracts.voltxt_wire import check_network, render_error
from bridge.errors import register_format
from bridge.extensions import services
from bridge.jsonio import json_response, read_json_object
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store
from gateway_core.domain.errors import EmailNotEnabled, ValidationFailed, WebhookNotConfigured
from gateway_core.notifications.delivery_log import delivery_page, delivery_row, endpoint_stats
from gateway_core.notifications.notify_settings import update_settings
from gateway_core.notifications.outbox import enqueue_test, redeliver
from gateway_core.stores.branding import set_logo

bp = Blueprint("voltxt_notifications", __name__, url_prefix="/api/plugin")
voltxt_limits.answer_in_voltxt_format(bp)
SETTINGS_FIELDS = ("webhook_url", "webhook_events", "email_notifications", "notification_email", "brand_color",
                   "support_email", "website_url", "language")


@bp.record_once
def _formats(state: Any) -> None:
    register_format(state.app, "/api/plugin", render_error)
    voltxt_limits.install(state.app)


def _store(uow: UnitOfWork, body: dict[str, Any]) -> Store:
    store = voltxt_store(uow, body)
    check_network(body.get("network"), store)
    return store


@bp.post("/store/settings")
def store_settings() -> Response:
    """Without settings fields: read. With any of them: validate, verify a new webhook URL, save."""
    body = read_json_object()
    svc = services()
    fields = {k: body[k] for k in SETTINGS_FIELDS if k in body}
    data, changed = update_settings(svc.uow, svc.webhooks, svc.clock.now(), lambda uow: _store(uow, body), fields)
    message = "Settings updated" if changed else "Settings"
    return json_response({"success": True, "message": message, "data": {"settings": data}, "settings": data})


@bp.post("/webhook/test")
def webhook_test() -> Response:
    body = read_json_object()
    svc = services()
    with svc.uow() as uow:
        store = _store(uow, body)
        if not store.webhook_url:
            raise WebhookNotConfigured("Store webhook settings not configured")
        delivery = enqueue_test(uow.session, store, "store", svc.clock.now())
        data = {"delivery_id": delivery.id, "event_id": delivery.event_id, "event_type": delivery.event_type,
                "url": store.webhook_url, "status": delivery.status}
    return json_response({"success": True, "message": "Test webhook queued", "data": data}, 202)


@bp.post("/email/test")
def email_test() -> Response:
    body = read_json_object()
    svc = services()
    with svc.uow() as uow:
        store = _store(uow, body)
        if not (store.email_notifications and store.notification_email):
            raise EmailNotEnabled("Email notifications not enabled for store")
        delivery = enqueue_test(uow.session, store, "email", svc.clock.now())
        data = {"delivery_id": delivery.id, "event_id": delivery.event_id, "recipient": store.notification_email,
                "status": delivery.status}
    return json_response({"success": True, "message": "Test email queued", "data": data}, 202)


@bp.post("/webhook/stats")
def webhook_stats() -> Response:
    body = read_json_object()
    svc = services()
    with svc.uow() as uow:
        store = _store(uow, body)
        data = {"endpoints": endpoint_stats(uow, store)}
    return json_response({"success": True, "data": data})


@bp.post("/webhook/deliveries")
def webhook_deliveries() -> Response:
    body = read_json_object()
    svc = services()
    with svc.uow() as uow:
        store = _store(uow, body)
        data = delivery_page(uow, store, body.get("page", 1), body.get("per_page", 20), body.get("status"),
                             body.get("channel"), body.get("event_id"))
    return json_response({"success": True, "data": data})


@bp.post("/webhook/deliveries/<int:delivery_id>/redeliver")
def webhook_redeliver(delivery_id: int) -> Response:
    body = read_json_object()
    svc = services()
    with svc.uow() as uow:
        store = _store(uow, body)
        copy = redeliver(uow.session, store, delivery_id, svc.clock.now())
        data = delivery_row(copy, [])
    return json_response({"success": True, "message": "Redelivery queued", "data": {"delivery": data}}, 202)


@bp.post("/store/logo")
def store_logo() -> Response:
    """Set the store's logo (`logo`: base64 of a PNG, JPEG or WebP of at most 256 KB), or remove it (null or "")."""
    body = read_json_object()
    encoded = body.get("logo")
    if encoded is not None and not isinstance(encoded, str):
        raise ValidationFailed("Request validation failed", errors={"logo": "must be base64 text, \"\" or null"})
    try:
        data = base64.b64decode(encoded, validate=True) if encoded else None
    except (binascii.Error, ValueError):
        raise ValidationFailed("Request validation failed", errors={"logo": "is not valid base64"}) from None
    svc = services()
    with svc.uow() as uow:
        store = _store(uow, body)
        logo = set_logo(uow, store.id, data, svc.clock.now())
    if logo is None:
        return json_response({"success": True, "message": "Logo removed", "data": {"logo": None}})
    url = f"{svc.settings.public_url.rstrip('/')}/logo/{logo.digest}"
    return json_response({"success": True, "message": "Logo updated", "data": {"logo": {
        "url": url, "content_type": logo.content_type, "width": logo.width, "height": logo.height}}})
