"""Solana Pay transfer request URLs (solana:<recipient>?amount=…&spl-token=…&reference=…&label=…&message=…).

Written to the specification's rules: the amount in user units, plain decimal notation with a leading
zero below one and never more decimals than the asset has; keys in base58 (32 bytes); text fields
percent-encoded as UTF-8 (spaces as %20, never '+', which some parsers read literally).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import quote

from gateway_core.domain.identifiers import b58decode

SOL_DECIMALS = 9


def _key(value: str, field: str) -> str:
    try:
        raw = b58decode(value)
    except ValueError:
        raise ValueError(f"{field} is not base58: {value!r}") from None
    if len(raw) != 32:
        raise ValueError(f"{field} must encode 32 bytes, got {len(raw)}")
    return value


def format_amount(amount: Decimal, decimals: int) -> str:
    """'0.5', '12', '0.000000001': user units, no exponent, no trailing zeros, at most `decimals` places."""
    if not amount.is_finite() or amount < 0:
        raise ValueError("amount must be a non-negative number")
    if amount != amount.quantize(Decimal(1).scaleb(-decimals)):
        raise ValueError(f"amount {amount} has more than {decimals} decimals")
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def transfer_request(
    recipient: str,
    amount: Decimal | None = None,
    *,
    decimals: int = SOL_DECIMALS,
    spl_token: str | None = None,
    references: Sequence[str] = (),
    label: str | None = None,
    message: str | None = None,
    memo: str | None = None,
) -> str:
    """The transfer request URL; `decimals` is the asset's (9 for SOL, the mint's for an SPL token)."""
    params: list[tuple[str, str]] = []
    if amount is not None:
        params.append(("amount", format_amount(amount, decimals)))
    if spl_token:
        params.append(("spl-token", _key(spl_token, "spl-token")))
    params.extend(("reference", _key(ref, "reference")) for ref in references)
    for name, text in (("label", label), ("message", message), ("memo", memo)):
        if text:
            params.append((name, quote(text, safe="")))
    query = "&".join(f"{name}={value}" for name, value in params)
    return f"solana:{_key(recipient, 'recipient')}" + (f"?{query}" if query else "")
