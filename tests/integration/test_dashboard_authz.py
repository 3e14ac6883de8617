"""Every dashboard route, for an anonymous visitor, a viewer, and a member of another store (issue 22)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from gateway_core.accounts.members import members_of
from gateway_core.adapters.models import (
    ApiKey,
    ContractWebhook,
    Delivery,
    Email,
    InvoiceDecision,
    Payment,
    Store,
    WebhookEndpoint,
)
from gateway_core.invoices.manage import cancel_invoice
from tests.integration.dashboard_support import add_member, csrf_token, make_store, make_user, sign_in
from tests.integration.invoice_page_support import new_invoice, unmatched_payment

# Every dashboard route: (method, path with {store}/{user}/{key}, the form it posts).
STORE_ROUTES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/dashboard/stores/{store}", {}),
    ("POST", "/dashboard/stores/{store}/members", {"email": "intruder@shop.test", "role": "owner"}),
    ("POST", "/dashboard/stores/{store}/members/{user}/remove", {}),
    ("GET", "/dashboard/stores/{store}/keys", {}),
    ("POST", "/dashboard/stores/{store}/keys", {"kind": "voltxt"}),
    ("POST", "/dashboard/stores/{store}/keys/rotate", {"kind": "voltxt"}),
    ("POST", "/dashboard/stores/{store}/keys/{key}/revoke", {}),
    ("GET", "/dashboard/stores/{store}/invoices", {}),
    ("GET", "/dashboard/stores/{store}/invoices/export.csv", {}),
    ("GET", "/dashboard/stores/{store}/invoices/{invoice}", {}),
    ("POST", "/dashboard/stores/{store}/invoices/{invoice}/cancel", {}),
    ("POST", "/dashboard/stores/{store}/invoices/{invoice}/decision", {"decision": "accepted", "note": "ok"}),
    ("POST", "/dashboard/stores/{store}/invoices/{invoice}/deliveries/{delivery}/redeliver", {}),
    ("GET", "/dashboard/stores/{store}/inbox", {}),
    ("POST", "/dashboard/stores/{store}/inbox/{payment}/attach", {"invoice": "{invoice}"}),
    ("GET", "/dashboard/stores/{store}/notifications", {}),
    ("POST", "/dashboard/stores/{store}/notifications/settings",
     {"webhook_url": "", "email_notifications": "1", "notification_email": "intruder@other.test"}),
    ("POST", "/dashboard/stores/{store}/notifications/test", {"channel": "store"}),
    ("POST", "/dashboard/stores/{store}/deliveries/{delivery}/redeliver", {}),
    ("POST", "/dashboard/stores/{store}/endpoints/{endpoint}/rotate", {}),
    ("POST", "/dashboard/stores/{store}/contract-webhooks",
     {"contract": "veltpay", "url": "https://intruder.test/hook", "rotate": "1"}),
    ("GET", "/dashboard/stores/{store}/overview", {}),
    ("GET", "/dashboard/mailbox/{email}", {}),
    ("GET", "/dashboard/mailbox/{email}/html", {}),
    ("GET", "/dashboard/stores/{store}/edit", {}),
    ("POST", "/dashboard/stores/{store}/edit", {"name": "Taken over", "platform_fee_percent": "0",
                                                "underpayment_tolerance_percent": "0", "default_expiry_hours": "24"}),
    ("GET", "/dashboard/stores/{store}/integrations", {}),
]
# The email itself, served into the mailbox's sandboxed frame under its own policy (inline styles, as sent).
EMAIL_FRAME = "/dashboard/mailbox/{email}/html"
# What a viewer may open (read only); everything else in the store answers them 403.
VIEWER_READS = {"/dashboard/stores/{store}", "/dashboard/stores/{store}/invoices",
                "/dashboard/stores/{store}/invoices/export.csv", "/dashboard/stores/{store}/invoices/{invoice}",
                "/dashboard/stores/{store}/inbox", "/dashboard/stores/{store}/notifications",
                "/dashboard/stores/{store}/overview", "/dashboard/mailbox/{email}", EMAIL_FRAME,
                "/dashboard/stores/{store}/integrations"}
# The rules' converters, for the placeholders of the paths above.
RULES = {"{store}": "<int:store_id>", "{user}": "<int:user_id>", "{key}": "<int:key_id>",
         "{endpoint}": "<int:endpoint_id>", "{email}": "<int:email_id>",
         "{invoice}": "<string(maxlength=32):number>", "{delivery}": "<int:delivery_id>",
         "{payment}": "<int:payment_id>", "export.csv": "export.<any(csv, json):fmt>"}
ACCOUNT_ROUTES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/dashboard/", {}),
    ("GET", "/dashboard/stores/new", {}),
    ("POST", "/dashboard/stores/new", {"name": "Anon", "network": "sandbox"}),
    ("GET", "/dashboard/account", {}),
    ("GET", "/dashboard/mailbox", {}),
    ("POST", "/dashboard/account", {"current_password": "x", "new_password": "y" * 12}),
    ("POST", "/dashboard/sign-out", {}),
    ("POST", "/dashboard/sign-out-everywhere", {}),
    ("GET", "/dashboard/account/two-factor", {}),
    ("GET", "/dashboard/admin/users", {}),
    ("POST", "/dashboard/admin/users", {"email": "intruder@shop.test"}),
    ("POST", "/dashboard/account/two-factor", {"code": "123456"}),
    ("POST", "/dashboard/account/two-factor/disable", {"password": "x", "code": "123456"}),
]
PUBLIC_ROUTES = {"/dashboard/sign-in", "/dashboard/sign-up", "/dashboard/forgot-password",
                 "/dashboard/password/<token>", "/dashboard/sign-in/code"}


@pytest.fixture
def shop(services) -> dict[str, Any]:
    owner = make_user(services, "owner@shop.test")
    make_user(services, "viewer@shop.test")
    outsider = make_user(services, "outsider@other.test")
    store_id = make_store(services, owner, "Shop")
    make_store(services, outsider, "Other")
    add_member(services, store_id, "viewer@shop.test", "viewer")
    with services.uow() as uow:
        key_id = uow.session.query(ApiKey).filter_by(store_id=store_id).one().id
        store = uow.session.get(Store, store_id)
        assert store is not None
        store.webhook_url = "http://127.0.0.1:9/hook"  # so the invoice has a delivery to redeliver
    invoice, _ = new_invoice(services, store_id), new_invoice(services, store_id)  # two: the wallet is shared
    payment_id = unmatched_payment(services, store_id)
    with services.uow() as uow:
        cancel_invoice(uow, uow.session.get(Store, store_id), invoice, services.clock)  # for a delivery row
    with services.uow() as uow:
        delivery_id = uow.session.execute(select(Delivery.id).where(Delivery.invoice_number == invoice)).scalar()
        endpoint = uow.session.execute(select(WebhookEndpoint).where(WebhookEndpoint.store_id == store_id)).scalar_one()
        email = Email(store_id=store_id, message_id="<m1@shop.test>", sender="gw@shop.test",
                      recipient="owner@shop.test", subject="Payment received", text_body="Paid.",
                      html_body='<p style="color: green">Paid.</p>', transport="log")
        uow.session.add(email)
        uow.session.flush()
        extra = {"endpoint": endpoint.id, "secret": endpoint.secret, "email": email.id}
    return {"store": store_id, "user": owner.id, "key": key_id, "invoice": invoice, "delivery": delivery_id,
            "payment": payment_id, **extra}


def _call(client: Any, method: str, path: str, form: dict[str, str], shop: dict[str, Any] | None = None) -> Any:
    if method == "GET":
        return client.get(path)
    form = {name: value.format(**shop) if shop else value for name, value in form.items()}
    return client.post(path, data={"csrf_token": csrf_token(client), **form})


def _unchanged(services, shop: dict[str, Any]) -> None:
    with services.uow() as uow:
        assert [m.email for m in members_of(uow, shop["store"])] == ["owner@shop.test", "viewer@shop.test"]
        keys = uow.session.query(ApiKey).filter_by(store_id=shop["store"]).all()
        assert len(keys) == 1 and keys[0].expires_at is None
        assert uow.session.execute(select(Delivery.id).where(Delivery.is_redelivery)).first() is None
        assert uow.session.execute(select(Payment.invoice_id).where(Payment.id == shop["payment"])).scalar() is None
        assert uow.session.execute(select(InvoiceDecision.id)).first() is None
        store = uow.session.get(Store, shop["store"])
        assert store is not None and store.webhook_url == "http://127.0.0.1:9/hook"
        assert store.notification_email is None and not store.email_notifications
        assert uow.session.execute(select(ContractWebhook.id)).first() is None
        assert uow.session.get(WebhookEndpoint, shop["endpoint"]).secret == shop["secret"]
        tests = select(Delivery.id).where(Delivery.event_type == "webhook_test")
        assert uow.session.execute(tests).first() is None
        assert store.name == "Shop"


def _rule(path: str) -> str:
    for placeholder, converter in RULES.items():
        path = path.replace(placeholder, converter)
    return path


def test_the_matrix_covers_every_dashboard_route(app) -> None:
    listed = {_rule(p) for _, p, _ in STORE_ROUTES + ACCOUNT_ROUTES} | PUBLIC_ROUTES
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/dashboard")}
    assert routes == listed


def test_anonymous_is_sent_to_sign_in_everywhere(services, client, shop) -> None:
    for method, path, form in STORE_ROUTES + ACCOUNT_ROUTES:
        answer = _call(client, method, path.format(**shop), form)
        assert answer.status_code == 302, (method, path)
        assert answer.headers["Location"].startswith("/dashboard/sign-in"), (method, path)
    _unchanged(services, shop)


def test_viewer_reads_the_store_and_changes_nothing(services, client, shop) -> None:
    sign_in(client, "viewer@shop.test")
    for method, path, form in STORE_ROUTES:
        answer = _call(client, method, path.format(**shop), form, shop)
        expected = 200 if method == "GET" and path in VIEWER_READS else 403
        assert answer.status_code == expected, (method, path)
    page = client.get(f"/dashboard/stores/{shop['store']}").get_data(as_text=True)
    assert "Add a member" not in page and "Remove" not in page
    _unchanged(services, shop)


def test_member_of_another_store_gets_404_everywhere(services, client, shop) -> None:
    sign_in(client, "outsider@other.test")
    for method, path, form in STORE_ROUTES:
        answer = _call(client, method, path.format(**shop), form, shop)
        assert answer.status_code == 404, (method, path)
        assert "Shop" not in answer.get_data(as_text=True)
    assert "Other" in client.get("/dashboard/").get_data(as_text=True)
    _unchanged(services, shop)


def test_every_post_without_or_with_a_wrong_csrf_token_is_refused(services, client, shop) -> None:
    sign_in(client, "owner@shop.test")
    for method, path, form in STORE_ROUTES + ACCOUNT_ROUTES:
        if method != "POST":
            continue
        assert client.post(path.format(**shop), data=form).status_code == 400, path
        assert client.post(path.format(**shop), data={**form, "csrf_token": "wrong"}).status_code == 400, path
    _unchanged(services, shop)
    assert client.get("/dashboard/").status_code == 200  # still signed in: sign-out without a token did nothing


def test_owner_pages_work_without_scripts_inline_styles_or_other_hosts(services, client, shop) -> None:
    sign_in(client, "owner@shop.test")
    pages = [p.format(**shop) for m, p, _ in STORE_ROUTES + ACCOUNT_ROUTES if m == "GET" and "/export." not in p
             and p != EMAIL_FRAME]
    for path in pages:
        answer = client.get(path)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200, path
        assert "unsafe-inline" not in answer.headers["Content-Security-Policy"], path
        assert "<script" not in html and "style=" not in html and "<style" not in html, path
        assert not re.search(r'(src|href|action)="(https?:)?//', html), path  # nothing from another host
        # Every form that posts carries its token; a GET form (the invoice filter) must not put it in the URL.
        assert html.count('<form method="post"') == html.count('name="csrf_token"'), path
        assert html.count("<form") == html.count('<form method="post"') + html.count('<form method="get"'), path
    frame = client.get(EMAIL_FRAME.format(**shop))
    policy = frame.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
