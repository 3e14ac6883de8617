"""An independent reader of Solana Pay transfer request URLs, written from the specification's rules
(https://docs.solanapay.com/spec, "Specification: Transfer Request"), sharing no code with bridge/solana_pay.py.

Strict where the specification says "must": a malformed URL raises MalformedRequest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# "a non-negative integer or decimal number"; "a leading 0 before the ." below 1; no scientific notation.
AMOUNT = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")
SINGLE = ("amount", "spl-token", "label", "message", "memo")
PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
UNRESERVED_OR_ESCAPE = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})*$")


class MalformedRequest(ValueError):
    """The URL breaks a rule of the specification."""


@dataclass
class TransferRequest:
    recipient: str
    amount: str | None = None
    spl_token: str | None = None
    references: list[str] = field(default_factory=list)
    label: str | None = None
    message: str | None = None
    memo: str | None = None


def _base58_bytes(text: str) -> int:
    """Number of bytes a base58 string decodes to (leading '1's are zero bytes)."""
    value = 0
    for char in text:
        position = B58_ALPHABET.find(char)
        if position < 0:
            raise MalformedRequest(f"{text!r} is not base58")
        value = value * 58 + position
    zeros = len(text) - len(text.lstrip("1"))
    return zeros + (value.bit_length() + 7) // 8


def _public_key(text: str, what: str) -> str:
    if _base58_bytes(text) != 32:
        raise MalformedRequest(f"{what} must be a base58-encoded 32-byte key")
    return text


def _percent_decode(text: str, what: str) -> str:
    """A URL-encoded UTF-8 string: every reserved character escaped; '+' is not a space here."""
    if not UNRESERVED_OR_ESCAPE.match(text):
        raise MalformedRequest(f"{what} has characters that must be percent-encoded: {text!r}")
    raw = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(ord(text[i]))
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest(f"{what} is not UTF-8") from None


def parse(url: str, decimals: int | None = None) -> TransferRequest:
    """Read a transfer request; `decimals` (9 for SOL, the mint's for a token) bounds the amount's places."""
    scheme, colon, rest = url.partition(":")
    if not colon or scheme != "solana":
        raise MalformedRequest("the scheme must be 'solana:'")
    path, _, query = rest.partition("?")
    if not path or "/" in path:
        raise MalformedRequest("a single recipient is required as the pathname")
    request = TransferRequest(recipient=_public_key(path, "recipient"))
    seen: set[str] = set()
    for pair in filter(None, query.split("&")) if query else []:
        name, equals, value = pair.partition("=")
        if not equals:
            raise MalformedRequest(f"query field {name!r} has no value")
        if name in SINGLE:
            if name in seen:
                raise MalformedRequest(f"only a single {name} field is allowed")
            seen.add(name)
        if name == "amount":
            if not AMOUNT.match(value):
                raise MalformedRequest(f"amount {value!r} is not a plain non-negative decimal")
            places = len(value.partition(".")[2])
            if decimals is not None and places > decimals:
                raise MalformedRequest(f"amount has {places} decimals, more than the asset's {decimals}")
            request.amount = value
        elif name == "spl-token":
            request.spl_token = _public_key(value, "spl-token")
        elif name == "reference":
            request.references.append(_public_key(value, "reference"))
        elif name in ("label", "message", "memo"):
            setattr(request, name, _percent_decode(value, name))
        # Unknown fields are extensions: the specification lets wallets ignore them.
    return request
