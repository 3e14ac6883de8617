"""Optional TOTP two-factor (RFC 6238, pyotp) with single-use recovery codes.

The secret is kept encrypted by the KeyVault. A code is accepted once: the time step it matched is stored,
and a code of that step or an earlier one is refused afterwards (a code seen over a shoulder is spent).
Recovery codes are random, so a SHA-256 digest is enough to keep them (no need for a slow hash).
"""

from __future__ import annotations

import hashlib
import secrets

import pyotp
from sqlalchemy import delete, func, select, update

from gateway_core.accounts.passwords import verify_password
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import RecoveryCode, User
from gateway_core.adapters.secrets import KeyVault
from gateway_core.domain.errors import GatewayError
from gateway_core.ports import Clock

ISSUER = "voltbridge"
RECOVERY_CODES = 10
STEP = 30  # seconds, the authenticator apps' default


class WrongCode(GatewayError):
    code = "WRONG_CODE"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").replace(" ", "").encode()).hexdigest()


def _matching_step(secret: str, code: str, clock: Clock) -> int | None:
    """The time step (this one, or one either side for clock drift) whose code this is, else None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp, now = pyotp.TOTP(secret), clock.now().timestamp()
    for offset in (0, -1, 1):
        at = now + offset * STEP
        if secrets.compare_digest(totp.at(at), code):
            return int(at // STEP)
    return None


def is_enabled(uow: UnitOfWork, user_id: int) -> bool:
    user = uow.session.get(User, user_id)
    return user is not None and user.totp_secret is not None


def recovery_codes_left(uow: UnitOfWork, user_id: int) -> int:
    return int(uow.session.execute(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))).scalar_one())


def enable(uow: UnitOfWork, vault: KeyVault, user_id: int, secret: str, code: str, clock: Clock) -> list[str]:
    """Turn two-factor on once the user shows a code of `secret`; the recovery codes, shown this once."""
    step = _matching_step(secret, code, clock)
    user = uow.session.get(User, user_id)
    if step is None or user is None:
        raise WrongCode("That code does not match; check the authenticator app's clock and try again",
                        errors={"code": "wrong code"})
    user.totp_secret, user.totp_last_step = vault.encrypt(secret), step
    uow.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    uow.session.add_all(RecoveryCode(user_id=user_id, code_digest=_digest(c)) for c in codes)
    return codes


def check_code(uow: UnitOfWork, vault: KeyVault, user_id: int, code: str, clock: Clock) -> None:
    """Accept a current TOTP code (once) or an unused recovery code (spending it); else WrongCode."""
    user = uow.session.get(User, user_id, with_for_update=True)
    if user is None or user.totp_secret is None:
        raise WrongCode("Two-factor is not on for this account")
    step = _matching_step(vault.decrypt(user.totp_secret), code, clock)
    if step is not None and step > (user.totp_last_step or 0):
        user.totp_last_step = step
        return
    if step is None:
        spent = uow.session.execute(
            update(RecoveryCode).where(RecoveryCode.user_id == user_id, RecoveryCode.code_digest == _digest(code),
                                       RecoveryCode.used_at.is_(None)).values(used_at=clock.now()))
        if getattr(spent, "rowcount", 0):
            return
    raise WrongCode("Wrong or already used code", errors={"code": "wrong code"})


def disable(uow: UnitOfWork, vault: KeyVault, user_id: int, password: str, code: str, clock: Clock) -> None:
    """Turn two-factor off: the password and a code (or a recovery code) are both needed."""
    user = uow.session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, password):
        raise WrongCode("Wrong password", errors={"password": "wrong password"})
    check_code(uow, vault, user_id, code, clock)
    user.totp_secret, user.totp_last_step = None, None
    uow.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
