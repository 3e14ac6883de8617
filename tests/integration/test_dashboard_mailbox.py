"""The mailbox (issue 22 point 5): every email as the merchant sees it, HTML in a sandboxed frame and text;
the admin reads every store's mail, a member only their stores'."""

# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
from __future__ import annotations

from sqlalchemy import select

from gateway_core.adapters.models import Email, Store
from tests.integration.dashboard_support import make_store, make_user, sign_in
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    dispatcher,
    napp,
    nclient,
    nsettings,
    nsvc,
)


def _mail_for(nsvc, store_id: int, dispatcher) -> int:
    from gateway_core.notifications.outbox import enqueue_test

    with nsvc.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None
        store.email_notifications, store.notification_email = True, f"alerts{store_id}@shop.test"
        enqueue_test(uow.session, store, "email", nsvc.clock.now())
    dispatcher.run_until_idle()
    with nsvc.uow() as uow:
        return uow.session.execute(select(Email.id).where(Email.store_id == store_id)).scalar_one()


def test_members_read_their_stores_mail_as_sent(nsvc, napp, dispatcher) -> None:
    admin = make_user(nsvc, "admin@gateway.test", admin=True)
    owner = make_user(nsvc, "owner@shop.test")
    outsider = make_user(nsvc, "outsider@other.test")
    mine = _mail_for(nsvc, make_store(nsvc, owner, "Shop"), dispatcher)
    theirs = _mail_for(nsvc, make_store(nsvc, outsider, "Other"), dispatcher)
    make_store(nsvc, admin, "Admin's")
    with nsvc.uow() as uow:
        sent = uow.session.get(Email, mine)
        assert sent is not None
        html_body, text_body, subject = sent.html_body, sent.text_body, sent.subject

    client = napp.test_client()
    sign_in(client, "owner@shop.test")
    listing = client.get("/dashboard/mailbox").get_data(as_text=True)
    assert subject in listing and "alerts" in listing and f"/dashboard/mailbox/{theirs}" not in listing
    message = client.get(f"/dashboard/mailbox/{mine}")
    page = message.get_data(as_text=True)
    assert message.status_code == 200
    assert "frame-src 'self'" in message.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in message.headers["Content-Security-Policy"]
    assert f'sandbox src="/dashboard/mailbox/{mine}/html"' in page
    assert text_body.splitlines()[0] in page and "style=" not in page
    framed = client.get(f"/dashboard/mailbox/{mine}/html")
    assert framed.status_code == 200 and framed.get_data(as_text=True) == html_body
    policy = framed.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert "unsafe-inline" not in policy and "'unsafe-hashes' 'sha256-" in policy  # each style by its hash
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get(f"/dashboard/mailbox/{theirs}").status_code == 404
    assert client.get(f"/dashboard/mailbox/{theirs}/html").status_code == 404
    assert client.get("/dashboard/mailbox/999999").status_code == 404

    admin_client = napp.test_client()
    sign_in(admin_client, "admin@gateway.test")
    everything = admin_client.get("/dashboard/mailbox").get_data(as_text=True)
    assert f"/dashboard/mailbox/{mine}" in everything and f"/dashboard/mailbox/{theirs}" in everything
    assert admin_client.get(f"/dashboard/mailbox/{theirs}/html").status_code == 200
