"""Account emails (password reset, invite) through the same outbox as the merchant's invoice emails.

They belong to no store: the delivery and its email row have store_id NULL, so no store's delivery log or
mailbox lists them. The body holds the link (a secret that is single use and short lived): the server admin
reads it in the emails table when SMTP_URL=log://, which is how the embedded default delivers mail at all.
Having no store, they have no store language either: the body carries the language they are written in.
"""

from __future__ import annotations

from datetime import datetime

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.i18n import DEFAULT, known
from gateway_core.adapters.jsonwire import dumps
from gateway_core.adapters.models import Delivery
from gateway_core.domain.identifiers import new_event_id

# One email template folder (templates/email/account_link) for every account link, worded by `purpose`.
ACCOUNT_EMAIL = "account_link"


def enqueue_account_email(uow: UnitOfWork, recipient: str, purpose: str, link: str, now: datetime,
                          hours: int, language: str) -> None:
    """A link email to `recipient` in `language`, in this transaction (sent by the dispatcher like any other)."""
    body = dumps({"purpose": purpose, "link": link, "hours": hours, "email": recipient,
                  "language": known(language) or DEFAULT})
    uow.session.add(Delivery(store_id=None, event_id=new_event_id(), event_type=ACCOUNT_EMAIL, channel="email",
                             recipient=recipient, body=body, next_attempt_at=now, created_at=now, updated_at=now))
