"""The mailbox: every email the gateway sent (with SMTP_URL=log:// the only place to read them), as kept in the
emails table by the dispatcher. Who may read which store's mail is the caller's question (a list of store ids)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Email, Store
from gateway_core.domain.errors import GatewayError

PAGE_SIZE = 50


class EmailNotFound(GatewayError):
    code = "EMAIL_NOT_FOUND"


@dataclass(frozen=True)
class MailSummary:
    id: int
    store_id: int | None  # None: an account email (password reset, invite), read by the server admin only
    store_name: str
    recipient: str
    subject: str
    transport: str
    created_at: datetime


@dataclass(frozen=True)
class Mail:
    id: int
    store_id: int | None
    store_name: str
    message_id: str
    sender: str
    recipient: str
    subject: str
    text: str
    html: str
    transport: str
    created_at: datetime


def mailbox(uow: UnitOfWork, store_ids: Sequence[int] | None, before_id: int | None = None,
            size: int = PAGE_SIZE) -> tuple[list[MailSummary], int | None]:
    """The newest emails of these stores (None: every store, for the server admin), keyset-paged on the id."""
    query = select(Email.id, Email.store_id, func.coalesce(Store.name, ""), Email.recipient, Email.subject,
                   Email.transport, Email.created_at).outerjoin(Store, Store.id == Email.store_id)
    if store_ids is not None:
        if not store_ids:
            return [], None
        query = query.where(Email.store_id.in_(list(store_ids)))
    if before_id is not None:
        query = query.where(Email.id < before_id)
    rows = uow.session.execute(query.order_by(Email.id.desc()).limit(size + 1)).all()
    found = [MailSummary(*row) for row in rows[:size]]
    return found, (found[-1].id if len(rows) > size else None)


def mail(uow: UnitOfWork, email_id: int) -> Mail:
    """One email in full (the caller checks that the reader may see its store)."""
    row = uow.session.execute(select(Email, Store.name).outerjoin(Store, Store.id == Email.store_id)
                              .where(Email.id == email_id)).first()
    if row is None:
        raise EmailNotFound("Email not found")
    e, name = row
    return Mail(e.id, e.store_id, name or "", e.message_id, e.sender, e.recipient, e.subject, e.text_body, e.html_body,
                e.transport, e.created_at)
