"""Saleor instances bound to stores: the merchant's consent, token registration, verified webhooks.

A Saleor instance (its API URL) may register only after the merchant allowed it for one store with
`voltbridge saleor allow <store> --api-url URL`. Registration then proves the token against that URL (the app
id query) before it is kept, so a stranger who posts a made-up token for an allowed URL gets nowhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.jsonwire import iso
from gateway_core.adapters.models import PlatformInstallation, Store
from gateway_core.adapters.notify.ssrf import Allowlist, creation_problem
from gateway_core.adapters.secrets import KeyVault
from gateway_core.domain.errors import GatewayError, ValidationFailed
from gateway_core.ports import Clock, WebhookTransport
from storefront_adapters.saleor import jws
from storefront_adapters.saleor.client import (
    SaleorUnavailable,
    fetch_app_id,
    fetch_jwks,
    normalise_api_url,
)
from storefront_adapters.saleor.consts import PLATFORM


class InstanceNotAllowed(GatewayError):
    code = "INSTANCE_NOT_ALLOWED"


class InstanceBound(GatewayError):
    """The Saleor instance is already bound to another store (one instance pays into one store)."""

    code = "INSTANCE_BOUND_ELSEWHERE"


class RegistrationFailed(GatewayError):
    code = "REGISTRATION_FAILED"


class SignatureRejected(GatewayError):
    code = "INVALID_SIGNATURE"


@dataclass(frozen=True)
class Installation:
    """What a webhook handler needs of a registered instance."""

    id: int
    store_id: int
    api_url: str
    app_id: str


def find(session: Session, api_url: str) -> PlatformInstallation | None:
    return session.execute(select(PlatformInstallation).where(
        PlatformInstallation.platform == PLATFORM, PlatformInstallation.account == api_url)).scalar_one_or_none()


def allow(uow: UnitOfWork, store: Store, api_url: str, allowlist: Sequence[str], clock: Clock) -> tuple[str, bool]:
    """Pre-authorise a Saleor API URL for the store; returns (normalised URL, newly allowed)."""
    url = normalise_api_url(api_url)
    problem = creation_problem(url, Allowlist(allowlist))
    if problem:
        raise ValidationFailed("Saleor API URL not allowed", errors={"api_url": problem})
    existing = find(uow.session, url)
    if existing is not None:
        if existing.store_id != store.id:
            raise InstanceBound(f"{url} is already bound to store {existing.store_id}")
        return url, False
    now = clock.now()
    uow.session.add(PlatformInstallation(platform=PLATFORM, account=url, store_id=store.id, credentials_encrypted=None,
                                         data={"status": "allowed", "allowed_at": iso(now)},
                                         created_at=now, updated_at=now))
    return url, True


def listing(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every Saleor instance known to the gateway, without secrets."""
    rows = uow.session.execute(select(PlatformInstallation).where(PlatformInstallation.platform == PLATFORM)
                               .order_by(PlatformInstallation.id)).scalars()
    return [{"api_url": row.account, "store_id": row.store_id, "status": (row.data or {}).get("status"),
             "app_id": (row.data or {}).get("app_id"), "registered_at": (row.data or {}).get("registered_at")}
            for row in rows]


def register(uow_factory: Callable[[], UnitOfWork], vault: KeyVault, transport: WebhookTransport, clock: Clock,
             api_url_header: str | None, auth_token: object, domain: str | None = None) -> Installation:
    """Keep the app token Saleor sent at install, once the instance is allowed and the token is proven."""
    if not isinstance(auth_token, str) or not 8 <= len(auth_token) <= 4096:
        raise ValidationFailed("auth_token is required", errors={"auth_token": "the app token Saleor sends"})
    try:
        api_url = normalise_api_url(api_url_header)
    except ValidationFailed:
        raise ValidationFailed("Saleor-Api-Url header is required",
                               errors={"Saleor-Api-Url": "the API URL of the installing Saleor"}) from None
    with uow_factory() as uow:  # the consent check reads first; no outbound call for an unknown instance
        if find(uow.session, api_url) is None:
            raise InstanceNotAllowed(
                f"This gateway does not accept installs from {api_url}. The merchant allows it with: "
                f"voltbridge saleor allow <store> --api-url {api_url}")
    try:  # outside any transaction: these are calls to another server
        app_id = fetch_app_id(transport, api_url, auth_token)
        jwks_document = fetch_jwks(transport, api_url)
    except SaleorUnavailable as exc:
        raise RegistrationFailed(f"Could not verify the install with {api_url}: {exc}") from None
    with uow_factory() as uow:
        row = find(uow.session, api_url)
        if row is None:
            raise InstanceNotAllowed(f"{api_url} is no longer allowed")
        now = clock.now()
        row.credentials_encrypted = vault.encrypt(json.dumps({"auth_token": auth_token}))
        row.data = {**(row.data or {}), "status": "registered", "app_id": app_id, "domain": domain,
                    "jwks": jwks_document, "jwks_fetched_at": iso(now), "registered_at": iso(now)}
        row.updated_at = now
        return Installation(row.id, row.store_id, api_url, app_id)


def app_token(vault: KeyVault, row: PlatformInstallation) -> str | None:
    if not row.credentials_encrypted:
        return None
    token = json.loads(vault.decrypt(row.credentials_encrypted)).get("auth_token")
    return token if isinstance(token, str) else None


def verified(uow_factory: Callable[[], UnitOfWork], transport: WebhookTransport, clock: Clock,
             api_url_header: str | None, signature: str | None, body: bytes) -> Installation:
    """The registered installation that signed `body`, refreshing its JWKS once if the signature fails."""
    try:
        api_url = normalise_api_url(api_url_header)
    except ValidationFailed:
        raise SignatureRejected("Saleor-Api-Url header is missing or invalid") from None
    with uow_factory() as uow:
        row = find(uow.session, api_url)
        if row is None or not row.credentials_encrypted:
            raise SignatureRejected(f"{api_url} has not installed this app")
        installation = Installation(row.id, row.store_id, api_url, str((row.data or {}).get("app_id")))
        cached = (row.data or {}).get("jwks")
    if jws.verify(body, signature, cached):
        return installation
    if not jws.well_formed(signature):  # garbage never costs a request to the instance
        raise SignatureRejected("Saleor-Signature is missing or malformed")
    try:  # Saleor may have rotated its key: fetch the key set once and try again
        fresh = fetch_jwks(transport, api_url)
    except SaleorUnavailable as exc:
        raise SignatureRejected(f"signature not verified and the JWKS could not be refreshed: {exc}") from None
    if fresh != cached:
        with uow_factory() as uow:
            row = uow.session.get(PlatformInstallation, installation.id)
            if row is not None:
                row.data = {**(row.data or {}), "jwks": fresh, "jwks_fetched_at": iso(clock.now())}
    if not jws.verify(body, signature, fresh):
        raise SignatureRejected("Saleor-Signature does not match the body")
    return installation
