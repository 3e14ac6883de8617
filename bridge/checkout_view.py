"""What the hosted page says about a phase beyond its title: the detail line, the receipt, the ways out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bridge.checkout_wire import cancel_link, is_web_url, return_url
from gateway_core.checkout_view import CheckoutState, Phase
from gateway_core.contracts.voltxt_payloads import explorer_urls
from gateway_core.domain import money
from gateway_core.invoices.checkout import StoreContact
from gateway_core.views import InvoiceView

Translate = Callable[..., str]
EXPLORER_NAMES = {"solana": "Solana Explorer", "tron": "Tronscan"}


def phase_detail(state: CheckoutState, t: Translate, num: Callable[[Any], str]) -> str:
    """The line under the phase's title, its amounts written by `num` (the page's script fills it the same)."""
    display = state.display
    return t(f"phase_{state.phase.value}_detail", paid=num(display.units(state.amount_paid)),
             due=num(display.units(state.amount_due)), remaining=num(display.units(state.amount_remaining)),
             asset=state.display_asset, confirmations=num(state.confirmations),
             target=num(state.confirmations_target))


def way_back(view: InvoiceView, contact: StoreContact) -> str | None:
    """Where a buyer whose payment window closed goes back to: the store's cancel_url, else its website."""
    return cancel_link(view) or (contact.website_url if is_web_url(contact.website_url) else None)


def receipt(view: InvoiceView, state: CheckoutState, contact: StoreContact, t: Translate,
            when: Callable[[datetime], str], amount: Callable[[Any], str]) -> dict[str, Any] | None:
    """The paid invoice's receipt lines; None before the invoice is paid."""
    if state.phase is not Phase.PAID:
        return None
    quote = view.display_quote
    chain = money.asset(quote.asset).chain
    paid_at = view.confirmed_at or view.paid_at or view.updated_at
    back = return_url(view, state.phase)
    return {
        "asset": quote.asset,
        "amount": amount(quote.units(quote.amount_paid or quote.amount_due)),
        "fiat": f"{amount(view.fiat_amount)} {view.fiat_currency}",
        "rate": t("rate_line", asset=quote.asset, rate=amount(quote.rate), currency=quote.rate_currency),
        "tx_id": view.payment_tx_id,
        "explorer_url": explorer_urls(view)["payment_tx"],
        "explorer": EXPLORER_NAMES.get(chain, chain),
        "time": when(paid_at),
        "time_iso": paid_at.isoformat(),
        "invoice": view.number,
        "order": view.external_id,
        "back_url": f"/pay/{view.number}/return" if back else (contact.website_url
                                                              if is_web_url(contact.website_url) else None),
        "url": f"/pay/{view.number}/receipt",
    }
