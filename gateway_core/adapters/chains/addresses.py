"""Is this string an address money can be sent to? Solana public keys and TRON base58check addresses."""

from __future__ import annotations

import hashlib

from solders.pubkey import Pubkey

from gateway_core.adapters.chains.solana_accounts import associated_token_address
from gateway_core.domain.errors import Said, said
from gateway_core.domain.identifiers import b58decode

TRON_PREFIX = 0x41  # mainnet (and Nile/Shasta, which share it): addresses start with "T"


class BadAddress(ValueError):
    """An address that cannot receive a payment, with the reason in words a merchant can act on (keyed, so the
    dashboard says it in the merchant's language)."""

    def __init__(self, reason: Said) -> None:
        super().__init__(reason.text)
        self.reason = reason


def solana_pubkey(text: str, *, allow_off_curve: bool = False) -> Pubkey:
    """A base58 32-byte ed25519 public key; off-curve keys (program-derived) only when explicitly allowed."""
    try:
        raw = b58decode(text)
    except ValueError:
        raise BadAddress(said("addr_not_base58",
                              "not base58 (Solana addresses use the base58 alphabet, no 0, O, I or l)")) from None
    if len(raw) != 32:
        raise BadAddress(said("addr_solana_length", f"not a Solana public key: decodes to {len(raw)} bytes, not 32",
                              bytes=len(raw)))
    key = Pubkey(raw)
    if not key.is_on_curve() and not allow_off_curve:
        raise BadAddress(said(
            "addr_off_curve",
            "off the ed25519 curve (a program-derived address such as a multisig vault): Solana Pay wallets "
            "derive the USDC token account with the owner on the curve, so USDC paid by QR would fail; "
            "pass --allow-off-curve if this address is meant"))
    return key


def usdc_token_account(owner: str, mint: str, *, allow_off_curve: bool = False) -> str:
    """The associated token account a USDC wallet receives at (its owner checked as a Solana wallet first)."""
    solana_pubkey(owner, allow_off_curve=allow_off_curve)
    return associated_token_address(owner, mint)


def tron_address(text: str) -> str:
    """A TRON base58check address with the mainnet prefix 0x41 and a valid checksum."""
    try:
        raw = b58decode(text)
    except ValueError:
        raise BadAddress(said("addr_not_base58check",
                              "not base58check (TRON addresses use the base58 alphabet)")) from None
    if len(raw) != 25:
        raise BadAddress(said("addr_tron_length", f"not a TRON address: decodes to {len(raw)} bytes, not 25",
                              bytes=len(raw)))
    payload, checksum = raw[:21], raw[21:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        raise BadAddress(said("addr_checksum", "bad base58check checksum (a mistyped character?)"))
    if payload[0] != TRON_PREFIX:
        raise BadAddress(said("addr_tron_prefix",
                              f"prefix 0x{payload[0]:02x} is not TRON's 0x41 (addresses start with T)",
                              prefix=f"0x{payload[0]:02x}"))
    return text
