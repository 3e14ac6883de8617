"""Acceptance 8 of issue 4: merchant email over SMTP (a real aiosmtpd server on 127.0.0.1), parsed as received."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from gateway_core.adapters.models import Email
from gateway_core.adapters.notify.email import SmtpMailer, mailer_from_url
from gateway_core.bootstrap import Services, build_services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.notifications.dispatch import Dispatcher
from gateway_core.payments.transfers import record_transfers
from gateway_core.ports import ObservedTransfer, OutgoingEmail
from gateway_core.stores.manage import create_store, find_store
from tests.fakes.smtp import SmtpServer
from tests.fakes.tls import contexts
from tests.integration.notify_support import configure, deliveries, notify_settings_for

WALLET = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"


@contextmanager
def mailing(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Services, Dispatcher]]:
    """Services as the worker builds them, and its dispatcher, both shut down afterwards."""
    svc = build_services(settings, clock=clock)
    worker = dispatcher_for(svc)
    try:
        yield svc, worker
    finally:
        worker.shutdown()
        if svc.engine is not None:
            svc.engine.dispose()


def test_the_merchant_gets_a_multipart_email_with_summary_details_links_and_branding(
        database_url, tmp_path, clock) -> None:
    with SmtpServer() as smtp, mailing(notify_settings_for(database_url, tmp_path, smtp_url=smtp.url),
                                       clock) as (svc, worker):
        with svc.uow() as uow:
            made = create_store(uow, svc.vault, name="Bright Shop", network="devnet", email="owner@bright.test",
                                wallets={"SOL": WALLET}, platform_fee_percent=Decimal("1"))
        configure(svc, made.id, email_notifications=True, brand_color="#E11D48",
                  support_email="help@bright.test", website_url="https://bright.test")
        with svc.uow() as uow:
            request = InvoiceRequest(amount=Decimal("99.99"), external_id="order_77", platform="woocommerce",
                                     customer_email="buyer@example.com", customer_name="Jane Buyer",
                                     description="Two mugs")
            view = create_invoice(uow, find_store(uow, made.id), request, svc.invoicing).view
        quote = view.quotes[0]
        record_transfers(svc.uow, [ObservedTransfer(
            chain="solana", network="devnet", tx_id="5j7sigABC", transfer_index=0, asset="SOL",
            amount=quote.amount_due, to_address=WALLET, from_address=None, reference=quote.reference,
            block_time=clock.now(), confirmations=32, final=True)], svc.clock, svc.quoting)
        worker.run_until_idle()
        messages = smtp.wait_for(2)

    envelopes = smtp.handler.messages
    assert [rcpt for _, rcpt, _ in envelopes] == [["owner@bright.test"], ["owner@bright.test"]]
    by_subject = {m["Subject"]: m for m in messages}
    # Short, distinct per event, and marked off mainnet.
    assert set(by_subject) == {f"[Devnet] Payment received: 0.6666 SOL, invoice {view.number}",
                               f"[Devnet] Paid: 99.99 USD, invoice {view.number}"}
    message = by_subject[f"[Devnet] Paid: 99.99 USD, invoice {view.number}"]
    assert re.fullmatch(r"<evt_[0-9a-f]{24}\.\d+@gateway\.test>", message["Message-ID"])
    assert parsedate_to_datetime(message["Date"]) == clock.now()
    assert message["From"] == "Bright Shop via voltbridge <voltbridge@gateway.test>"
    assert message["To"] == "owner@bright.test"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    tx_link = "https://explorer.solana.com/tx/5j7sigABC?cluster=devnet"
    address_link = f"https://explorer.solana.com/address/{WALLET}?cluster=devnet"
    for part in (text, html):
        assert view.number in part and "order_77" in part and "Two mugs" in part
        assert "Jane Buyer" in part and "buyer@example.com" in part
        assert "0.6666 SOL" in part and "99.99 USD" in part and "100%" in part
        assert tx_link in part and address_link in part
        assert "666,600,000 base units (9 decimals)" in part and "lamports" not in part and "Bright Shop" in part
        assert "Account rent" not in part  # direct settlement: no deposit account, no rent
        assert "help@bright.test" in part and "0.006666 SOL (1%)" in part
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "max-width:600px" in html and "background:#E11D48" in html
    assert f'href="{tx_link}"' in html and f'href="{address_link}"' in html
    assert f'<a href="{tx_link}" style="color:#E11D48;">5j7sigABC</a>' in html  # the transaction id is the link


def test_deposit_mode_email_shows_the_rent(nsvc_deposit_email) -> None:
    text = nsvc_deposit_email
    assert "Customer paid:   0.6666 SOL  [666,600,000 base units (9 decimals)]" in text
    assert "Account rent:    0.00203928 SOL  [2,039,280 base units (9 decimals)]" in text
    assert "Held by the deposit account: 0.66863928 SOL" in text


@pytest.fixture
def nsvc_deposit_email(database_url, tmp_path, clock) -> str:
    """The log mailer (the embedded default): the email is logged and kept in the database."""
    from tests.integration.notify_support import pay

    with mailing(notify_settings_for(database_url, tmp_path), clock) as (svc, worker):
        with svc.uow() as uow:
            made = create_store(uow, svc.vault, name="Vault Shop", network="sandbox", settlement_mode="deposit",
                                email="vault@shop.test")
        configure(svc, made.id, email_notifications=True)
        with svc.uow() as uow:
            view = create_invoice(uow, find_store(uow, made.id), InvoiceRequest(amount=Decimal("99.99")),
                                  svc.invoicing).view
        pay(svc, view.number, "SOL")
        worker.run_until_idle()
        assert [d.status for d in deliveries(svc, channel="email")] == ["delivered"]
        with svc.uow() as uow:
            (email,) = uow.session.execute(select(Email)).scalars().all()
        assert email.transport == "log" and email.recipient == "vault@shop.test" and "<html" in email.html_body
        return email.text_body


def _email() -> OutgoingEmail:
    from datetime import UTC, datetime

    return OutgoingEmail("<evt_1.1@gateway.test>", '"Shop via voltbridge" <voltbridge@gateway.test>',
                         "owner@shop.test", "Hello", "text part", "<p>html part</p>", datetime.now(UTC))


def test_smtp_with_starttls_and_credentials() -> None:
    server_tls, client_tls = contexts("127.0.0.1")
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    with SmtpServer(tls_context=server_tls, require_starttls=True, authenticator=authenticator,
                    auth_required=True) as smtp:
        mailer = SmtpMailer("127.0.0.1", smtp.port, starttls="required", username="mailer", password="s3cret",
                            ssl_context=client_tls)
        mailer.send(_email())
        (message,) = smtp.wait_for(1)
    assert logins == [(b"mailer", b"s3cret")]
    assert message["Subject"] == "Hello" and message.get_body(("html",)).get_content().strip() == "<p>html part</p>"


def test_smtp_url_parsing() -> None:
    assert mailer_from_url("log://").name == "log"
    plain = mailer_from_url("smtp://user%40x:p%3Ass@mail.example:2525?starttls=required")
    assert isinstance(plain, SmtpMailer)
    assert (plain.host, plain.port, plain.username, plain.password, plain.starttls, plain.implicit_tls) == (
        "mail.example", 2525, "user@x", "p:ss", "required", False)
    tls = mailer_from_url("smtps://mail.example")
    assert isinstance(tls, SmtpMailer) and tls.port == 465 and tls.implicit_tls
    with pytest.raises(ValueError):
        mailer_from_url("http://mail.example")


def test_smtps_implicit_tls() -> None:
    server_tls, client_tls = contexts("127.0.0.1")
    with SmtpServer(ssl_context=server_tls) as smtp:
        mailer = SmtpMailer("127.0.0.1", smtp.port, implicit_tls=True, ssl_context=client_tls)
        mailer.send(_email())
        (message,) = smtp.wait_for(1)
    assert message["Message-ID"] == "<evt_1.1@gateway.test>" and message.get_body(("plain",)).get_content().strip() \
        == "text part"


def test_a_payment_dropped_before_finality_reaches_the_merchant_by_email(database_url, tmp_path, clock) -> None:
    """VOLTXT webhooks have no event for it, but the shop may already be fulfilling after payment_received."""
    import sqlalchemy as sa

    from gateway_core.adapters.models import Invoice
    from gateway_core.payments.sandbox import simulate_payment
    from gateway_core.payments.transfers import _apply_finality
    from gateway_core.ports import TxFinality
    from tests.conftest import tick

    with SmtpServer() as smtp, mailing(notify_settings_for(
            database_url, tmp_path, smtp_url=smtp.url, sandbox_finality_seconds=30.0), clock) as (svc, worker):
        with svc.uow() as uow:
            made = create_store(uow, svc.vault, name="Mug Shop", network="sandbox", email="owner@mugs.test")
        configure(svc, made.id, email_notifications=True)
        with svc.uow() as uow:
            view = create_invoice(uow, find_store(uow, made.id),
                                     InvoiceRequest(amount=Decimal("10"), external_id="order_9"), svc.invoicing).view
        with svc.uow() as uow:
            transfer = simulate_payment(uow, view.number, clock, "USDC")
        tick(svc)  # paid, not yet final: payment_received goes out
        with svc.uow() as uow:
            invoice = uow.session.execute(sa.select(Invoice).where(Invoice.number == view.number)).scalar_one()
            invoice_id, payment_id = invoice.id, invoice.payments[0].id
        with svc.uow() as uow:
            _apply_finality(uow.session, invoice_id, [payment_id],
                            {transfer.tx_id: TxFinality(confirmations=0, final=False, exists=False)}, clock.now())
        worker.run_until_idle()
        messages = smtp.wait_for(2)

    by_subject = {m["Subject"]: m for m in messages}
    dropped = f"[Sandbox] Payment dropped: 10 USDC, invoice {view.number}"
    assert set(by_subject) == {f"[Sandbox] Payment received: 10 USDC, invoice {view.number}", dropped}
    assert [d.channel for d in deliveries(svc, event_type="payment_dropped")] == ["email"]  # never a webhook
    alert = by_subject[dropped]
    for part in (alert.get_body(("plain",)).get_content(), alert.get_body(("html",)).get_content()):
        unfolded = " ".join(part.split())  # text lines are folded at 78 characters
        assert transfer.tx_id in unfolded and "order_9" in unfolded and "which is awaiting payment again" in unfolded
        assert "hold it until a new payment completes" in unfolded
