"""Unguessable identifiers in the shapes the chains and contracts expect."""

from __future__ import annotations

import hashlib
import secrets
import string

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# No 0/O, 1/I/L: invoice numbers are read aloud and typed from screenshots.
INVOICE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVOICE_NUMBER_LENGTH = 14  # 31^14 ≈ 2^69
API_KEY_ALPHABET = string.ascii_letters + string.digits
API_KEY_LENGTH = 32


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58, as used for Solana keys and TRON addresses."""
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rem = divmod(number, 58)
        digits.append(_B58[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Inverse of b58encode; ValueError on characters outside the alphabet."""
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise ValueError(f"not base58: {char!r}")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def b58check_encode(payload: bytes) -> str:
    """Base58 with a 4-byte double-SHA256 checksum (TRON addresses)."""
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return b58encode(payload + checksum)


def _random_text(alphabet: str, length: int) -> str:
    """Uniform characters of `alphabet` from one read of the OS's randomness (secrets.choice reads it once per
    character). Bytes at or above the largest multiple of the alphabet's size are skipped, so no bias."""
    size = len(alphabet)
    ceiling = 256 - 256 % size
    out: list[str] = []
    while len(out) < length:
        out += [alphabet[b % size] for b in secrets.token_bytes(length + length // 2) if b < ceiling]
    return "".join(out[:length])


def new_invoice_number() -> str:
    return _random_text(INVOICE_ALPHABET, INVOICE_NUMBER_LENGTH)


def new_api_key() -> str:
    return _random_text(API_KEY_ALPHABET, API_KEY_LENGTH)


def new_solana_pubkey() -> str:
    """A random 32-byte key in base58: a Solana Pay reference, or a sandbox address."""
    return b58encode(secrets.token_bytes(32))


def new_solana_signature() -> str:
    return b58encode(secrets.token_bytes(64))


def new_tron_address() -> str:
    """A random TRON-shaped address (0x41 prefix, base58check) for sandbox wallets."""
    return b58check_encode(b"\x41" + secrets.token_bytes(20))


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def new_webhook_secret() -> str:
    return secrets.token_hex(32)
