"""What the hosted page sends: the display-safe status document, payment requests and return URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bridge.contracts.voltxt_wire import voltxt_status
from bridge.jsonio import iso
from bridge.solana_pay import transfer_request
from gateway_core.checkout_view import CheckoutState, PayOption, Phase
from gateway_core.config import Settings
from gateway_core.domain.money import plain
from gateway_core.views import InvoiceView

# Phases in which the buyer may still send money (the page shows the payment details).
PAYABLE = (Phase.CHOOSE, Phase.AWAITING, Phase.PARTIAL)
# Wallets show the label and message on one or two lines; the page itself shows the full description.
LABEL_CHARS = 64
MESSAGE_CHARS = 140


def status_document(state: CheckoutState, now: datetime) -> dict[str, Any]:
    """The public status: amounts as exact decimal strings (a JS number would print 1e-9), no store or buyer data."""
    display = state.display
    return {
        "number": state.number,
        "status": state.status.value,
        "phase": state.phase.value,
        "chosen_asset": state.chosen_asset,
        "asset": state.display_asset,
        "amount_due": plain(display.units(state.amount_due)),
        "amount_paid": plain(display.units(state.amount_paid)),
        "amount_remaining": plain(display.units(state.amount_remaining)),
        "progress_percent": plain(state.progress_percent),
        "confirmations": state.confirmations,
        "confirmations_required": state.confirmations_target,
        "overpaid": state.overpaid,
        "paid_late": state.paid_late,
        "expires_at": iso(state.expires_at),
        "seconds_left": max(0, int((state.expires_at - now).total_seconds())),
        "server_time": iso(now),
        "options": [
            {"asset": o.asset, "chain": o.chain, "address": o.address,
             "amount_due": plain(o.units(o.amount_due)), "amount_paid": plain(o.units(paid_in(o))),
             "amount_remaining": plain(o.units(o.amount_remaining)), "rate": plain(o.rate),
             "rate_currency": o.rate_currency, "rate_sources": list(o.rate_sources),
             "quote_expires_at": iso(o.locked_until) if o.locked_until else None}
            for o in state.options
        ],
    }


def usdc_mint(settings: Settings, network: str) -> str:
    """The USDC mint a wallet should send; the sandbox has none of its own, so links use devnet's."""
    return settings.usdc_mint_mainnet if network == "mainnet" else settings.usdc_mint_devnet


def paid_in(option: PayOption) -> int:
    """Everything received so far, expressed in this option's asset."""
    return option.amount_due - option.amount_remaining


def payment_amount(option: PayOption) -> int:
    """What a payment request asks for: the remainder once part is paid, else the whole amount."""
    return option.amount_remaining or option.amount_due


def payment_request(option: PayOption, view: InvoiceView, settings: Settings) -> str:
    """The wallet link: Solana Pay transfer request for SOL and USDC (store name and description clipped to what
    a wallet shows); a TRON wallet takes the bare address."""
    return _transfer(option, view, settings, clip(view.store_name, LABEL_CHARS),
                     clip(view.description or f"Invoice {view.number}", MESSAGE_CHARS))


def qr_payload(option: PayOption, view: InvoiceView, settings: Settings) -> str:
    """What the QR code encodes: only what a wallet needs to pay (no label or message), so its size is bounded
    whatever the description (a USDC request fits QR version 10 at error correction M)."""
    return _transfer(option, view, settings, None, None)


def _transfer(option: PayOption, view: InvoiceView, settings: Settings, label: str | None,
              message: str | None) -> str:
    if option.chain != "solana":
        return option.address
    return transfer_request(
        option.address,
        option.units(payment_amount(option)),
        decimals=option.decimals,
        spl_token=usdc_mint(settings, view.network) if option.asset == "USDC" else None,
        references=[option.reference] if option.reference else [],
        label=label,
        message=message,
    )


def clip(text: str | None, limit: int) -> str | None:
    """`text` cut to `limit` characters (the last one an ellipsis when cut); whole code points, never bytes."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "\u2026"


def is_web_url(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def fill_placeholders(url: str, view: InvoiceView) -> str:
    """success_url/cancel_url with VOLTXT's placeholders filled (shared/specs/voltxt-observed-clients.md)."""
    values = {
        "[session_id]": view.number,
        "[invoice_number]": view.number,
        "[payment_status]": voltxt_status(view),
        "[payment_tx_id]": view.payment_tx_id or "",
    }
    for placeholder, value in values.items():
        url = url.replace(placeholder, quote(value, safe=""))
    return url


def return_url(view: InvoiceView, phase: Phase) -> str | None:
    """Where a paid buyer goes back to: the store's success_url, filled in; None before paid or without one."""
    if phase is not Phase.PAID or not is_web_url(view.success_url):
        return None
    return fill_placeholders(view.success_url or "", view)


def cancel_link(view: InvoiceView) -> str | None:
    return fill_placeholders(view.cancel_url, view) if view.cancel_url and is_web_url(view.cancel_url) else None
