"""Watch-only TRON deposit addresses: BIP32 public derivation from a store's extended public key.

The merchant exports the account key of m/44'/195'/0' (an xpub); the gateway derives
m/44'/195'/0'/0/i from it with public (non-hardened) derivation only, so no private key is ever needed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

import coincurve
from tronpy.keys import PublicKey

from gateway_core.domain.identifiers import b58check_encode, b58decode

# Serialised public-key versions (BIP32 xpub/tpub); private-key versions are refused by name.
_PUBLIC_VERSIONS = {bytes.fromhex("0488b21e"), bytes.fromhex("043587cf")}
_PRIVATE_VERSIONS = {bytes.fromhex("0488ade4"), bytes.fromhex("04358394")}
_HARDENED = 0x80000000
ACCOUNT_DEPTH = 3  # m/44'/195'/0'
CHAIN_DEPTH = 4  # m/44'/195'/0'/0


class BadExtendedKey(ValueError):
    """A string that is not a usable TRON extended public key."""


@dataclass(frozen=True)
class ExtendedPublicKey:
    depth: int
    child_number: int
    chain_code: bytes
    key: bytes  # compressed SEC1 point, 33 bytes

    def child(self, index: int) -> ExtendedPublicKey:
        """CKDpub (BIP32): the non-hardened child `index` of this key."""
        if not 0 <= index < _HARDENED:
            raise BadExtendedKey("public derivation reaches non-hardened children only")
        digest = hmac.new(self.chain_code, self.key + index.to_bytes(4, "big"), hashlib.sha512).digest()
        try:
            point = coincurve.PublicKey(self.key).add(digest[:32])
        except ValueError:  # probability below 2^-127; BIP32 says skip the index, the caller must not reuse it
            raise BadExtendedKey(f"index {index} derives an invalid key") from None
        return ExtendedPublicKey(self.depth + 1, index, digest[32:], point.format(compressed=True))

    def tron_address(self) -> str:
        """The base58check (0x41) TRON address of this key: keccak of the uncompressed point."""
        uncompressed = coincurve.PublicKey(self.key).format(compressed=False)[1:]
        return str(PublicKey(uncompressed).to_base58check_address())


def parse_xpub(text: str) -> ExtendedPublicKey:
    """Decode and check an extended public key at the account (m/44'/195'/0') or chain (…/0) level."""
    try:
        raw = b58decode(text.strip())
    except ValueError:
        raise BadExtendedKey("not base58") from None
    if len(raw) != 82:
        raise BadExtendedKey("not an extended key (wrong length)")
    payload, checksum = raw[:78], raw[78:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        raise BadExtendedKey("bad checksum")
    version = payload[:4]
    if version in _PRIVATE_VERSIONS:
        raise BadExtendedKey("this is a private key; give the extended PUBLIC key (xpub) only")
    if version not in _PUBLIC_VERSIONS:
        raise BadExtendedKey("unknown extended key version")
    depth, child_number = payload[4], int.from_bytes(payload[9:13], "big")
    key = payload[45:78]
    if key[0] not in (2, 3):
        raise BadExtendedKey("not a public key")
    try:
        coincurve.PublicKey(key)
    except ValueError:
        raise BadExtendedKey("not a point on secp256k1") from None
    if depth == ACCOUNT_DEPTH and child_number != (_HARDENED | 0):
        raise BadExtendedKey("account key must be m/44'/195'/0'")
    if depth == CHAIN_DEPTH and child_number != 0:
        raise BadExtendedKey("chain-level key must be m/44'/195'/0'/0")
    if depth not in (ACCOUNT_DEPTH, CHAIN_DEPTH):
        raise BadExtendedKey("give the account key of m/44'/195'/0' (depth 3)")
    return ExtendedPublicKey(depth, child_number, payload[13:45], key)


@lru_cache(maxsize=64)
def _receive_chain(xpub: str) -> ExtendedPublicKey:
    key = parse_xpub(xpub)
    return key.child(0) if key.depth == ACCOUNT_DEPTH else key


def deposit_address(xpub: str, index: int) -> str:
    """The deposit address m/44'/195'/0'/0/index of the store whose account xpub this is."""
    return _receive_chain(xpub).child(index).tron_address()


def serialise(key: ExtendedPublicKey, parent_fingerprint: bytes = b"\0\0\0\0") -> str:
    """An xpub string for `key` (tests and tooling)."""
    payload = (bytes.fromhex("0488b21e") + bytes([key.depth]) + parent_fingerprint
               + key.child_number.to_bytes(4, "big") + key.chain_code + key.key)
    return b58check_encode(payload)
