"""A store's notification settings: read, validate, verify a new webhook URL by challenge, and save."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.i18n import checked_language
from gateway_core.adapters.models import ContractWebhook, Store, WebhookEndpoint
from gateway_core.contracts.voltxt_payloads import STORE_EVENTS
from gateway_core.domain.errors import Said, StoreNotFound, ValidationFailed, said
from gateway_core.notifications.outbox import endpoint_for
from gateway_core.ports import WebhookTransport

CHALLENGE_TIMEOUT = 10.0
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_UNSET = object()

REQUEST_INVALID = said("request_invalid", "Request validation failed")


@dataclass(frozen=True)
class SettingsChange:
    """Only the fields the caller sent; _UNSET marks the rest."""

    webhook_url: Any = _UNSET
    webhook_events: Any = _UNSET
    email_notifications: Any = _UNSET
    notification_email: Any = _UNSET
    brand_color: Any = _UNSET
    support_email: Any = _UNSET
    website_url: Any = _UNSET
    language: Any = _UNSET

    def sent(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not _UNSET}


def parse_change(fields: dict[str, Any]) -> SettingsChange:
    """Validate every sent field at once; ValidationFailed names each bad one."""
    errors: dict[str, str | Said] = {}
    values: dict[str, Any] = {}
    for name in ("webhook_url", "website_url"):
        if name in fields:
            url = fields[name]
            if url in (None, ""):
                values[name] = None
            elif not isinstance(url, str) or len(url) > 2048 or urlsplit(url.strip()).scheme.lower() not in (
                    "http", "https") or not urlsplit(url.strip()).hostname:
                errors[name] = said("d_http_url", "must be an http(s) URL")
            else:
                values[name] = url.strip()
    if "webhook_events" in fields:
        events = fields["webhook_events"]
        if events in (None, "all") or events == ["all"]:
            values["webhook_events"] = None
        elif isinstance(events, str):
            events = [e.strip() for e in events.split(",") if e.strip()]
        if "webhook_events" not in values:
            unknown = [e for e in events if e not in STORE_EVENTS] if isinstance(events, list) else ["?"]
            if unknown or not all(isinstance(e, str) for e in events):
                errors["webhook_events"] = said(
                    "d_event_list", f"must be a list of: {', '.join(STORE_EVENTS)} (or 'all')",
                    choices=", ".join(STORE_EVENTS))
            else:
                values["webhook_events"] = sorted(set(events), key=STORE_EVENTS.index)
    if "email_notifications" in fields:
        flag = fields["email_notifications"]
        if isinstance(flag, str) and flag.lower() in ("true", "false", "1", "0"):
            flag = flag.lower() in ("true", "1")
        if not isinstance(flag, bool):
            errors["email_notifications"] = said("d_true_or_false", "must be true or false")
        else:
            values["email_notifications"] = flag
    for name in ("notification_email", "support_email"):
        if name in fields:
            address = fields[name]
            if address in (None, ""):
                values[name] = None
            elif not isinstance(address, str) or not _EMAIL.match(address.strip()):
                errors[name] = said("d_email", "must be an email address")
            else:
                values[name] = address.strip()
    if "brand_color" in fields:
        color = fields["brand_color"]
        if color in (None, ""):
            values["brand_color"] = None
        elif not isinstance(color, str) or not _COLOR.match(color):
            errors["brand_color"] = said("d_colour", "must be a colour like #4F46E5")
        else:
            values["brand_color"] = color
    if "language" in fields:
        try:
            values["language"] = checked_language(fields["language"])
        except ValidationFailed as exc:
            errors.update({**exc.errors, **exc.details})
    if errors:
        raise ValidationFailed(REQUEST_INVALID, errors=errors)
    return SettingsChange(**values)


# The document's parameter is venmob_challenge (its prose capitalises it once, as Venmob_challenge); endpoints
# written for our earlier `challenge` keep working. All three carry the same token: a handler reads its own.
CHALLENGE_PARAMS = ("venmob_challenge", "Venmob_challenge", "challenge")


def challenge_query(token: str) -> str:
    """The verification GET's query: the token under each name a handler may read it from."""
    return "&".join(f"{name}={token}" for name in CHALLENGE_PARAMS)


def verify_webhook_url(transport: WebhookTransport, url: str, timeout: float = CHALLENGE_TIMEOUT) -> None:
    """GET <url>?venmob_challenge=<token>&...: the endpoint must answer 200 with exactly the token in time."""
    token = secrets.token_urlsafe(24)
    separator = "&" if urlsplit(url).query else "?"
    result = transport.get(f"{url}{separator}{challenge_query(token)}", timeout)
    if result.error is not None:
        problem = result.error
        message = said("challenge_unreachable", _unverified(problem, timeout), problem=problem, timeout=f"{timeout:g}")
        detail = said("d_challenge_unreachable", f"verification failed: {problem}", problem=problem)
    elif result.status != 200:
        problem = f"it answered HTTP {result.status}"
        message = said("challenge_status", _unverified(problem, timeout), code=result.status, timeout=f"{timeout:g}")
        detail = said("d_challenge_status", f"verification failed: {problem}", code=result.status)
    elif result.body.rstrip(b"\r\n") != token.encode():
        problem = "its answer was not the challenge token"
        message = said("challenge_wrong_answer", _unverified(problem, timeout), timeout=f"{timeout:g}")
        detail = said("d_challenge_wrong_answer", f"verification failed: {problem}")
    else:
        return
    raise ValidationFailed(message, errors={"webhook_url": detail})


def _unverified(problem: str, timeout: float) -> str:
    return (f"Webhook URL verification failed: {problem}. The URL must answer a GET with ?venmob_challenge=<token> "
            f"with status 200 and exactly the token as the body, within {timeout:g} seconds.")


def needs_verification(store: Store, change: SettingsChange) -> str | None:
    """The URL to verify: a new or changed store webhook URL."""
    url = change.webhook_url
    return url if isinstance(url, str) and url != store.webhook_url else None


def apply_change(uow: UnitOfWork, store_id: int, change: SettingsChange, now: datetime) -> Store:
    """Save the (already verified) change; a store webhook URL gets its endpoint and whsec_ secret now."""
    store = uow.session.get(Store, store_id)
    if store is None:
        raise StoreNotFound("store not found")
    for name, value in change.sent().items():
        setattr(store, name, {"events": value} if name == "webhook_events" and value is not None else value)
    if store.email_notifications and not store.notification_email:
        raise ValidationFailed(REQUEST_INVALID, errors={
            "notification_email": said("d_email_required", "is required when email notifications are on")})
    if store.webhook_url:
        endpoint_for(uow.session, store.id, "store", store.webhook_url, now)
    return store


def update_settings(
    uow_factory: Callable[[], UnitOfWork], transport: WebhookTransport | None, now: datetime,
    find: Callable[[UnitOfWork], Store], fields: dict[str, Any],
    on_verify: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Read the settings, or validate, verify a new webhook URL and save them; returns (view, changed).

    The challenge request may take seconds, so it runs between two transactions, never inside one.
    """
    with uow_factory() as uow:
        store = find(uow)
        store_id = store.id
        change = parse_change(fields) if fields else None
        url = needs_verification(store, change) if change else None
        if change is None:
            return settings_view(uow, store), False
    if url is not None:
        assert transport is not None
        if on_verify is not None:
            on_verify(url)
        verify_webhook_url(transport, url)
    with uow_factory() as uow:
        return settings_view(uow, apply_change(uow, store_id, change, now)), True


def settings_view(uow: UnitOfWork, store: Store) -> dict[str, Any]:
    """The settings as the plugin API returns them, with the signing secrets receivers need."""
    endpoints = uow.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.store_id == store.id).order_by(WebhookEndpoint.id)
    ).scalars().all()
    current = next((e for e in endpoints if e.kind == "store" and e.url == store.webhook_url), None)
    chosen = (store.webhook_events or {}).get("events")
    contract_hooks = uow.session.execute(
        select(ContractWebhook).where(ContractWebhook.store_id == store.id).order_by(ContractWebhook.contract)
    ).scalars().all()
    return {
        "store_id": store.id,
        "webhook_url": store.webhook_url,
        "webhook_events": chosen if chosen is not None else list(STORE_EVENTS),
        "webhook_events_all": chosen is None,
        "available_events": list(STORE_EVENTS),
        "email_notifications": store.email_notifications,
        "notification_email": store.notification_email,
        "brand_color": store.brand_color,
        "support_email": store.support_email,
        "website_url": store.website_url,
        "language": store.language,
        # Other contracts' webhooks (`voltbridge store set <store> --contract …`); their secrets are shown there.
        "contract_webhooks": [{"contract": h.contract, "url": h.url, "updated_at": h.updated_at}
                              for h in contract_hooks],
        "signing": {
            "invoice_webhook_secret": store.webhook_secret,
            "store_webhook_secret": current.secret if current else None,
            "endpoints": [{"id": e.id, "kind": e.kind, "url": e.url, "secret": e.secret} for e in endpoints],
        },
    }
