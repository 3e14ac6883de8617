"""Another contract's webhooks (VirtexGate, VeltPay, VentaConnect): the store's URL and secret per contract,
and the outbox channel that signs and sends them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ContractWebhook, Store
from gateway_core.adapters.notify.signing import standard_webhook_headers
from gateway_core.adapters.notify.ssrf import Allowlist, creation_problem
from gateway_core.adapters.secrets import KeyVault
from gateway_core.contracts.formats import ContractWebhookFormat
from gateway_core.contracts.registry import formats
from gateway_core.domain.errors import StoreNotFound, ValidationFailed, said
from gateway_core.ports import Clock, HttpResult, WebhookTransport


def new_contract_secret() -> str:
    return secrets.token_hex(32)


def set_contract_webhook(uow: UnitOfWork, vault: KeyVault, clock: Clock, store_id: int, contract: str, url: str,
                         allowlist: list[str] | tuple[str, ...], *, new_secret: bool = False) -> tuple[str, str]:
    """Point the store's webhook for `contract` at `url`; returns (url, secret) with the secret in the clear.

    The secret is created on first use and kept across URL changes unless new_secret (rotation) is asked for.
    """
    if contract not in formats():
        raise ValidationFailed(said("unknown_contract", "Unknown contract"), errors={
            "contract": said("d_no_webhooks", f"{contract} has no webhooks", contract=contract)})
    problem = creation_problem(url, Allowlist(allowlist))
    if problem:
        # The reason stays English on every page: it names hosts and addresses more than it speaks.
        raise ValidationFailed(said("webhook_url_not_allowed", "Webhook URL not allowed"),
                               errors={"webhook_url": said("d_url_not_allowed", problem, problem=problem)})
    session = uow.session
    if session.get(Store, store_id) is None:
        raise StoreNotFound(f"store {store_id} not found")
    hook = contract_webhook(session, store_id, contract)
    now = clock.now()
    if hook is None:
        secret = new_contract_secret()
        session.add(ContractWebhook(store_id=store_id, contract=contract, url=url,
                                    secret_encrypted=vault.encrypt(secret), created_at=now, updated_at=now))
        return url, secret
    secret = new_contract_secret() if new_secret else vault.decrypt(hook.secret_encrypted)
    hook.url, hook.secret_encrypted, hook.updated_at = url, vault.encrypt(secret), now
    return url, secret


def contract_webhook(session: Session, store_id: int, contract: str) -> ContractWebhook | None:
    return session.execute(select(ContractWebhook).where(
        ContractWebhook.store_id == store_id, ContractWebhook.contract == contract)).scalar_one_or_none()


class ContractWebhookChannel:
    """The outbox channel of one contract's webhooks: the body as rendered at enqueue, signed at send."""

    def __init__(self, fmt: ContractWebhookFormat) -> None:
        self.fmt = fmt

    def credentials(self, session: Session, delivery: Any, vault: KeyVault) -> dict[str, str]:
        hook = contract_webhook(session, delivery.store_id, self.fmt.contract)
        return {} if hook is None else {"secret": vault.decrypt(hook.secret_encrypted)}

    def send(self, job: Any, at: datetime, transport: WebhookTransport, timeout: float) -> HttpResult:
        body = job.body.encode()
        headers = dict(job.headers)
        secret = (job.credentials or {}).get("secret")
        if not secret:
            return HttpResult(None, b"", 0.0, f"no {self.fmt.contract} webhook secret for this store")
        headers.update(self.fmt.sign(secret, body, at))
        if job.secret:  # Standard Webhooks headers too, as on every webhook we send
            headers.update(standard_webhook_headers(job.secret, job.event_id, int(at.timestamp()), body))
        assert job.url is not None
        return transport.post(job.url, body, headers, timeout)


def contract_channels() -> dict[str, ContractWebhookChannel]:
    return {name: ContractWebhookChannel(fmt) for name, fmt in formats().items()}
