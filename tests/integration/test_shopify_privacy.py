# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 20, point 9 (Shopify): shop/redact leaves the shop's domain in no stored row; Shopify-Request-Id is
logged with each session; signed install queries older than a day are refused."""

from __future__ import annotations

import logging

from sqlalchemy import select, text

from gateway_core.adapters.models import Base, Invoice, Store
from tests.conftest import tick
from tests.fakes.shopify import payment_session, refund_session
from tests.integration.shopify_support import (  # noqa: F401 - fixtures
    SHOP,
    fake_shopify,
    installed,
    invoice_of,
    pay,
    post_session,
    sandbox_store,
    sapp,
    sclient,
    sdispatcher,
    ssettings,
    ssvc,
)
from tests.integration.test_shopify_install import PRIVACY_PAYLOADS, callback_query, start_install, webhook


def rows_naming(svc, needle: str) -> list[str]:
    """Every stored row, in every table, whose text mentions `needle` (table and row, for the failure message)."""
    found = []
    with svc.uow() as uow:
        for table in Base.metadata.sorted_tables:
            for row in uow.session.execute(select(table)).mappings():
                if any(needle in str(value) for value in row.values()):
                    found.append(f"{table.name}: {dict(row)}")
    return found


def test_shop_redact_leaves_the_shop_domain_in_no_stored_row(sclient, ssvc, installed, sdispatcher, clock):
    with ssvc.uow() as uow:  # the merchant gets emails too: the description travels in them
        store = uow.session.get(Store, installed.id)
        store.notification_email, store.email_notifications = "owner@shop.test", True
    paid, cancelled = payment_session(amount="15.00"), payment_session(amount="16.00")
    assert post_session(sclient, paid).status_code == 201 and post_session(sclient, cancelled).status_code == 201
    assert post_session(sclient, refund_session(paid["id"]), path="/shopify/refund_sessions").status_code == 201
    pay(ssvc, invoice_of(ssvc, paid["id"]).number)
    clock.advance(hours=25)
    tick(ssvc)
    sdispatcher.run_until_idle()  # Shopify's answers (with the shop's checkout URLs) are in the delivery log
    before = rows_naming(ssvc, SHOP)
    assert any(r.startswith("invoices:") for r in before) and any(r.startswith("delivery_attempts:") for r in before)

    assert webhook(sclient, "shop/redact", PRIVACY_PAYLOADS["shop/redact"]).status_code == 200
    assert rows_naming(ssvc, SHOP) == []
    with ssvc.uow() as uow:
        descriptions = uow.session.execute(select(Invoice.description)).scalars().all()
    assert descriptions == ["Shopify checkout at redacted-shop"] * 2  # the merchant's records stay
    with ssvc.uow() as uow:  # and the database still reads as JSON where it held JSON
        assert uow.session.execute(text("select count(*) from deliveries")).scalar_one() > 0
        assert all(isinstance(i.extra, dict) for i in uow.session.execute(select(Invoice)).scalars())


def test_each_session_is_logged_with_shopifys_request_id(sclient, ssvc, installed, caplog):
    body = payment_session(amount="15.00")
    with caplog.at_level(logging.INFO, logger="bridge.shopify"):
        response = sclient.post("/shopify/payment_sessions", json=body, headers={
            "Shopify-Shop-Domain": SHOP, "Shopify-Request-Id": "req-4f2a", "Shopify-Api-Version": "2025-07",
            "X-Client-Cert-Subject": "CN=payments.shopify.com,O=Shopify Inc."})
        refused = sclient.post("/shopify/payment_sessions", json={**body, "amount": "99.00"}, headers={
            "Shopify-Shop-Domain": SHOP, "Shopify-Request-Id": "req-9c01",
            "X-Client-Cert-Subject": "CN=payments.shopify.com,O=Shopify Inc."})
        refund = sclient.post("/shopify/refund_sessions", json=refund_session(body["id"]), headers={
            "Shopify-Shop-Domain": SHOP, "Shopify-Request-Id": "req-77aa",
            "X-Client-Cert-Subject": "CN=payments.shopify.com,O=Shopify Inc."})
    assert (response.status_code, refused.status_code, refund.status_code) == (201, 409, 201)
    records = {r.shopify_request_id: r for r in caplog.records if hasattr(r, "shopify_request_id")}
    started = records["req-4f2a"]
    assert started.message == "shopify payment session" and started.session_id == body["id"]
    assert started.invoice_number == invoice_of(ssvc, body["id"]).number and started.shop == SHOP
    assert records["req-9c01"].levelno == logging.WARNING and records["req-9c01"].error_code == "SESSION_CONFLICT"
    assert records["req-77aa"].message == "shopify refund session" and records["req-77aa"].payment_id == body["id"]


def test_a_signed_callback_more_than_a_day_old_is_refused(sclient, ssvc, installed, fake_shopify, clock):
    state = start_install(sclient)
    query = callback_query(SHOP, fake_shopify.issue_code(SHOP), state)
    clock.advance(days=1, seconds=1)  # the query says 2026-01-15T12:00:00Z
    response = sclient.get(f"/shopify/auth/callback?{query}")
    assert response.status_code == 401 and "more than a day old" in response.get_json()["errors"]
