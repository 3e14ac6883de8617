"""Payment and refund sessions: one invoice per Shopify payment session, whatever the retries.

A session's id is its PlatformOrder's order_ref (unique per installation) and, namespaced, its invoice's
external id (unique per store): a retry, or a concurrent duplicate, finds the one invoice the first made.

Test sessions (`test: true`) go to a non-production store: the installation's test store if the operator named
one (`voltbridge shopify allow ... --test-store`), else its own store if that is not on mainnet. Live sessions
go only to a mainnet store. Anything else is refused, and Shopify is told why (paymentSessionReject).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway_core.adapters.models import Delivery, Invoice, PlatformInstallation, PlatformOrder, Store
from gateway_core.bootstrap import Services
from gateway_core.domain.errors import (
    AmountTooHigh,
    AmountTooLow,
    DuplicateExternalId,
    GatewayError,
    NoDestinationWallet,
    ValidationFailed,
)
from gateway_core.invoices.platform_orders import order_invoice
from gateway_core.views import InvoiceView, invoice_view
from storefront_adapters.shopify.adapter import (
    PLATFORM,
    WANTED_EVENTS,
    PaymentSession,
    RefundSession,
    ShopifyAdapter,
    refund_message,
)
from storefront_adapters.shopify.calls import enqueue_call
from storefront_adapters.shopify.errors import PaymentNotFound, PaymentRefused, SessionConflict, ShopNotInstalled
from storefront_adapters.shopify.wire import shop_origin

# What no retry can change: the session is rejected at Shopify, with the reason, so the merchant sees it.
REFUSALS = (PaymentRefused, ValidationFailed, AmountTooLow, AmountTooHigh, NoDestinationWallet)
REFUSED_EVENT = "payment_session.refused"


@dataclass(frozen=True)
class Started:
    view: InvoiceView
    created: bool


def installation_for(session: Session, shop: str) -> PlatformInstallation | None:
    return session.execute(select(PlatformInstallation).where(
        PlatformInstallation.platform == PLATFORM, PlatformInstallation.account == shop_origin(shop))
    ).scalar_one_or_none()


def installed(session: Session, shop: str) -> PlatformInstallation:
    """The shop's installation, which must hold an access token (Shopify calls us only once installed)."""
    installation = installation_for(session, shop)
    if installation is None or not installation.credentials_encrypted:
        raise ShopNotInstalled(f"{shop} has not installed this payments app")
    return installation


def order_for(session: Session, installation_id: int, order_ref: str) -> PlatformOrder | None:
    return session.execute(select(PlatformOrder).where(
        PlatformOrder.installation_id == installation_id, PlatformOrder.order_ref == order_ref)).scalar_one_or_none()


def store_for(session: Session, installation: PlatformInstallation, test: bool) -> Store:
    """The store a session is paid into: test sessions never on mainnet, live sessions only on mainnet."""
    store = installation.store
    if test:
        test_store_id = (installation.data or {}).get("test_store_id")
        store = (session.get(Store, test_store_id) if test_store_id else None) or store
        if store.network == "mainnet":
            raise PaymentRefused(f"Test payments are not taken on the mainnet store '{store.name}'; name a sandbox "
                                 "store for them with 'voltbridge shopify allow <store> --shop <shop> --test-store'")
        return store
    if store.network != "mainnet":
        raise PaymentRefused(f"Live payments need a mainnet store; '{store.name}' is on {store.network}, where "
                             "coins have no value (switch the payments app to test mode, or map a mainnet store)")
    return store


def start_payment(svc: Services, shop: str, payload: dict[str, Any]) -> Started:
    """The invoice of this payment session, created once; refusals are also reported to Shopify.

    ValidationFailed for a request that is not a payment session (nothing to reject at Shopify then).
    """
    success_url = f"{svc.settings.public_url}/shopify/return/[invoice_number]"
    request, platform_order = ShopifyAdapter(shop, success_url).read(payload)
    refusal: GatewayError | None = None
    with svc.uow() as uow:
        session = uow.session
        installation = installed(session, shop)
        existing = order_for(session, installation.id, request.id)
        if existing is not None:
            return Started(_replayed(existing, request, svc), False)
        try:
            store = store_for(session, installation, request.test)
            if request.kind != "sale":
                raise PaymentRefused("Crypto payments are captured at once: only sale payment sessions are supported")
            data = {"kind": "payment", "gid": request.gid, "test": request.test, "events": list(WANTED_EVENTS)}
            found = order_invoice(uow, svc.invoicing, store, installation.id, request.id, platform_order.request,
                                  lambda _number: data)
        except REFUSALS as exc:  # raised before anything was written: the transaction holds only the rejection
            refusal = exc
            _reject_once(session, installation, request, _reason(exc), svc)
        except DuplicateExternalId:
            raise SessionConflict(f"external id {PLATFORM}:{request.id} belongs to another invoice") from None
        else:
            if not found.created:  # a concurrent duplicate won the race
                return Started(_same_amount(found.view, request), False)
            return Started(found.view, True)
    assert refusal is not None
    raise PaymentRefused(_reason(refusal), errors=refusal.errors)


def _reason(exc: GatewayError) -> str:
    detail = "; ".join(f"{field}: {problem}" for field, problem in exc.errors.items())
    return f"{exc.message} ({detail})" if detail else exc.message


def _replayed(order: PlatformOrder, request: PaymentSession, svc: Services) -> InvoiceView:
    """The invoice a retry of the same session gets back (Shopify's amount and currency must not change)."""
    return _same_amount(invoice_view(order.invoice, svc.clock.now()), request)


def _same_amount(view: InvoiceView, request: PaymentSession) -> InvoiceView:
    if view.price_currency != request.currency or view.price_amount != request.amount:
        raise SessionConflict(f"payment session {request.id} was already started for "
                              f"{view.price_amount} {view.price_currency}")
    return view


def _reject_once(session: Session, installation: PlatformInstallation, request: PaymentSession, reason: str,
                 svc: Services) -> None:
    """Queue paymentSessionReject unless a retry of this session already did (Shopify retries refusals)."""
    same_session = Delivery.body.contains(f'"gid":"{request.gid}"', autoescape=True)
    queued = session.execute(select(Delivery.id).where(
        Delivery.store_id == installation.store_id, Delivery.channel == PLATFORM,
        Delivery.event_type == REFUSED_EVENT, same_session).limit(1)).first()
    if queued is None:
        enqueue_call(session, installation, "payment_reject", REFUSED_EVENT, svc.clock.now(), gid=request.gid,
                     message=f"voltbridge refused this payment: {reason}"[:500])


def start_refund(svc: Services, shop: str, refund: RefundSession) -> bool:
    """Record the refund session once and queue its rejection: crypto refunds are the merchant's to make.

    Returns False for a retry of a refund session already recorded.
    """
    with svc.uow() as uow:
        session = uow.session
        installation = installed(session, shop)
        payment = order_for(session, installation.id, refund.payment_id)
        if payment is None:
            raise PaymentNotFound(f"no payment session {refund.payment_id} from {shop}")
        now = svc.clock.now()
        record = PlatformOrder(installation_id=installation.id, order_ref=f"refund:{refund.id}",
                               invoice_id=payment.invoice_id, created_at=now,
                               data={"kind": "refund", "gid": refund.gid, "payment_id": refund.payment_id,
                                     "amount": refund.amount, "currency": refund.currency, "events": []})
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except IntegrityError:
            return False
        view = invoice_view(payment.invoice, now)
        enqueue_call(session, installation, "refund_reject", "refund_session.rejected", now,
                     invoice_number=view.number, gid=refund.gid, message=refund_message(refund, view))
        return True


def return_target(svc: Services, number: str) -> tuple[str | None, InvoiceView | None]:
    """Where a buyer coming back from the pay page goes: Shopify's redirect once a mutation gave us one."""
    with svc.uow() as uow:
        session = uow.session
        invoice = session.execute(select(Invoice).where(Invoice.number == number, Invoice.contract == PLATFORM)
                                  ).scalar_one_or_none()
        if invoice is None:
            return None, None
        order = session.execute(select(PlatformOrder).where(
            PlatformOrder.invoice_id == invoice.id, PlatformOrder.order_ref.not_like("refund:%"))).scalars().first()
        url = (order.data or {}).get("redirect_url") if order is not None else None
        return url, invoice_view(invoice, svc.clock.now())
