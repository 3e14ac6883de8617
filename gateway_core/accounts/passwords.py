"""Password hashing: argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway_core.domain.errors import ValidationFailed

_HASHER = PasswordHasher()  # argon2id by default
MIN_LENGTH, MAX_LENGTH = 10, 256
# Verified against when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY = _HASHER.hash("voltbridge-no-such-user")


def check_strength(password: str) -> None:
    """ValidationFailed unless the password is of a length worth hashing."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationFailed("Invalid password",
                               errors={"password": f"{MIN_LENGTH} to {MAX_LENGTH} characters"})


def hash_password(password: str) -> str:
    """The argon2id hash of a password, parameters included."""
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches the stored hash (None: no such user, checked against a dummy)."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
