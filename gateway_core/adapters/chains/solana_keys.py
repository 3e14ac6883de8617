"""Gateway keys derived from one seed (SLIP-0010 ed25519, hardened only), so no private key is ever stored.

m/44'/501'/0'/0'            the fee payer: pays rent for deposit token accounts and every sweep's fees
m/44'/501'/1'/<index>'      the deposit key of invoice allocation <index> (a solana_deposits row id)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from solders.keypair import Keypair

HARDENED = 0x8000_0000
_SOLANA = (44, 501)
_HEX = re.compile(r"^(0x)?([0-9a-fA-F]{32,128})$")


def slip10_ed25519(seed: bytes, path: list[int]) -> tuple[bytes, bytes]:
    """(private key, chain code) at `path`; every index is hardened, as ed25519 requires."""
    digest = hmac.new(b"ed25519 seed", seed, hashlib.sha512).digest()
    key, chain_code = digest[:32], digest[32:]
    for index in path:
        data = b"\x00" + key + (index | HARDENED).to_bytes(4, "big")
        digest = hmac.new(chain_code, data, hashlib.sha512).digest()
        key, chain_code = digest[:32], digest[32:]
    return key, chain_code


def seed_bytes(text: str) -> bytes:
    """GATEWAY_SEED as bytes: hex (16-64 bytes) or a BIP-39 mnemonic (PBKDF2, empty passphrase)."""
    text = text.strip()
    if match := _HEX.match(text):
        return bytes.fromhex(match.group(2))
    words = unicodedata.normalize("NFKD", " ".join(text.split()))
    if len(words.split()) < 12:
        raise ValueError("GATEWAY_SEED must be hex (16-64 bytes) or a mnemonic of at least 12 words")
    return hashlib.pbkdf2_hmac("sha512", words.encode(), b"mnemonic", 2048)


class GatewayKeys:
    """The fee payer and the deposit keys, derived on demand from the seed."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._cache: dict[tuple[int, ...], Keypair] = {}

    def __repr__(self) -> str:  # never let the seed reach a log line
        return "GatewayKeys(<seed hidden>)"

    def _keypair(self, *path: int) -> Keypair:
        key, _ = slip10_ed25519(self._seed, list(path))
        return Keypair.from_seed(key)

    def fee_payer(self) -> Keypair:
        """The gateway's fee-payer key (kept: every sweep and token account needs it)."""
        path = (*_SOLANA, 0, 0)
        if path not in self._cache:
            self._cache[path] = self._keypair(*path)
        return self._cache[path]

    def deposit(self, index: int) -> Keypair:
        """The deposit key for allocation `index`."""
        if index < 0 or index >= HARDENED:
            raise ValueError("deposit index out of range")
        return self._keypair(*_SOLANA, 1, index)
