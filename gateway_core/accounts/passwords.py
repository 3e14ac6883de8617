"""Password hashing: argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile), unless
`ARGON2_PROFILE=test` asks for its cheapest parameters (one pass over 1 MiB, one lane): the suite hashes and
verifies hundreds of times, as Django's test settings swap their password hasher. A stored hash carries its
parameters, so either profile verifies the other's hashes."""

from __future__ import annotations

import os
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway_core.domain.errors import ValidationFailed, said

MIN_LENGTH, MAX_LENGTH = 10, 256


@cache
def _hasher() -> PasswordHasher:
    if os.environ.get("ARGON2_PROFILE", "") == "test":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()  # argon2id by default


@cache
def _dummy() -> str:
    # Verified against when the email is unknown, so a miss costs as much time as a wrong password. Made on first
    # use, not at import: a quarter of a CPU second that processes which never sign anyone in need not pay.
    return _hasher().hash("voltbridge-no-such-user")


def check_strength(password: str) -> None:
    """ValidationFailed unless the password is of a length worth hashing."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationFailed(said("invalid_password", "Invalid password", min=MIN_LENGTH, max=MAX_LENGTH),
                               errors={"password": said("d_length", f"{MIN_LENGTH} to {MAX_LENGTH} characters",
                                                        low=MIN_LENGTH, high=MAX_LENGTH)})


def hash_password(password: str) -> str:
    """The argon2id hash of a password, parameters included."""
    check_strength(password)
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches the stored hash (None: no such user, checked against a dummy)."""
    try:
        return _hasher().verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
