"""The mailbox (issue 22 point 5): every email as the merchant would see it, HTML and text. The server admin
reads every store's mail, a member their stores'. The HTML is served from its own route into a sandboxed frame,
under a policy of its own: no script, no request anywhere, only the inline styles the email was sent with (their
hashes, bridge/dashboard/email_styles.py).
"""

from __future__ import annotations

from flask import Response, request
from flask_login import login_required

from bridge.dashboard.access import signed_in
from bridge.dashboard.blueprint import CSP, bp, page
from bridge.dashboard.email_styles import style_sources
from bridge.extensions import services
from gateway_core.accounts.members import stores_of
from gateway_core.adapters.db import UnitOfWork
from gateway_core.notifications.mailbox import EmailNotFound, Mail, mail, mailbox

MESSAGE_CSP = f"{CSP}; frame-src 'self'"
# The email document: sandboxed (an opaque origin, no script, no form, no navigation), nothing loaded from
# anywhere, and only the styles the email carries, each allowed by its hash.
EMAIL_CSP = ("default-src 'none'; style-src {styles}; img-src data:; sandbox; base-uri 'none'; "
             "form-action 'none'; frame-ancestors 'self'")


def _readable(uow: UnitOfWork) -> list[int] | None:
    """The stores whose mail the signed-in user reads (None: all, for the server admin)."""
    account = signed_in().account
    return None if account.is_admin else [m.store.id for m in stores_of(uow, account.id)]


def _mail(uow: UnitOfWork, email_id: int) -> Mail:
    found = mail(uow, email_id)
    readable = _readable(uow)
    if readable is not None and found.store_id not in readable:
        raise EmailNotFound("Email not found")  # another store's mail answers as if absent
    return found


@bp.route("/mailbox")
@login_required
def mailbox_page() -> tuple[str, int]:
    before = request.args.get("before", "")
    with services().uow(read_only=True) as uow:
        emails, next_before = mailbox(uow, _readable(uow), int(before) if before.isdigit() else None)
    return page("mailbox.html", emails=emails, next_before=next_before,
                transport=services().settings.smtp_url.split(":", 1)[0] or "log")


@bp.route("/mailbox/<int:email_id>")
@login_required
def mailbox_message(email_id: int) -> tuple[str, int, dict[str, str]]:
    with services().uow(read_only=True) as uow:
        found = _mail(uow, email_id)
    body, status = page("mailbox_message.html", email=found)
    return body, status, {"Content-Security-Policy": MESSAGE_CSP}


@bp.route("/mailbox/<int:email_id>/html")
@login_required
def mailbox_html(email_id: int) -> Response:
    with services().uow(read_only=True) as uow:
        found = _mail(uow, email_id)
    response = Response(found.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = EMAIL_CSP.format(styles=style_sources(found.html))
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
