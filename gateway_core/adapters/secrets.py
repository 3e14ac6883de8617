"""API key storage: a SHA-256 digest to find the key, Fernet encryption to recover it for signing."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


def key_digest(raw_key: str) -> str:
    """Lookup digest of an API key (keys are 190 bits of randomness, so no salt or stretching is needed)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class KeyVault:
    """Encrypts secrets at rest with a key derived from the app's SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        derived = hashlib.sha256(b"voltbridge/api-key-encryption/v1\0" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("secret cannot be decrypted with this SECRET_KEY") from None
