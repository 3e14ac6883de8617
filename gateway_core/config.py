"""Settings from the environment. Nothing here runs at import time: call Settings.from_env()."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path


class ConfigError(ValueError):
    """A setting that cannot be used as given."""


def _parse_rates(text: str) -> dict[tuple[str, str], Decimal]:
    """'SOL/USD=150,USDC/USD=1' -> {('SOL','USD'): Decimal('150'), ...}."""
    table: dict[tuple[str, str], Decimal] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            pair, value = item.split("=", 1)
            base, quote = pair.strip().upper().split("/", 1)
            rate = Decimal(value.strip())
        except (ValueError, InvalidOperation):
            raise ConfigError(f"RATES entry {item!r} is not ASSET/FIAT=NUMBER") from None
        if not rate.is_finite() or rate <= 0:
            raise ConfigError(f"RATES entry {item!r} must be a positive number")
        table[(base, quote)] = rate
    return table


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the app and the worker are built from."""

    database_url: str
    secret_key: str
    public_url: str = "http://127.0.0.1:8000"
    outbound_allowlist: tuple[str, ...] = ()
    smtp_url: str = "log://"
    rates: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    instance_path: str = "instance"
    key_rotation_grace_hours: int = 24
    watch_interval_seconds: float = 5.0
    expiry_interval_seconds: float = 15.0
    sandbox_finality_seconds: float = 5.0
    late_payment_watch_hours: int = 72
    invoice_min_usd: Decimal = Decimal("0.01")
    invoice_max_usd: Decimal = Decimal("1000000")
    max_request_bytes: int = 64 * 1024
    log_level: str = "INFO"
    log_json: bool = True
    trust_proxy: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read the environment (or `environ`), apply overrides, and fill safe defaults."""
        env = os.environ if environ is None else environ
        instance = Path(str(overrides.pop("instance_path", None) or env.get("INSTANCE_PATH", "instance")))
        instance = instance.resolve()
        values: dict[str, object] = {
            "instance_path": str(instance),
            "database_url": env.get("DATABASE_URL") or f"sqlite:///{instance / 'voltbridge.db'}",
            "public_url": env.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            "outbound_allowlist": tuple(
                h.strip() for h in env.get("OUTBOUND_ALLOWLIST", "").split(",") if h.strip()
            ),
            "smtp_url": env.get("SMTP_URL", "log://"),
            "rates": _parse_rates(env.get("RATES", "")),
            "log_level": env.get("LOG_LEVEL", "INFO").upper(),
            "log_json": _bool(env.get("LOG_JSON", "1")),
            "trust_proxy": _bool(env.get("TRUST_PROXY", "0")),
        }
        numeric = {
            "key_rotation_grace_hours": ("KEY_ROTATION_GRACE_HOURS", int),
            "watch_interval_seconds": ("WATCH_INTERVAL_SECONDS", float),
            "expiry_interval_seconds": ("EXPIRY_INTERVAL_SECONDS", float),
            "sandbox_finality_seconds": ("SANDBOX_FINALITY_SECONDS", float),
            "late_payment_watch_hours": ("LATE_PAYMENT_WATCH_HOURS", int),
            "invoice_min_usd": ("INVOICE_MIN_USD", Decimal),
            "invoice_max_usd": ("INVOICE_MAX_USD", Decimal),
        }
        for name, (var, kind) in numeric.items():
            if var in env:
                try:
                    values[name] = kind(env[var])
                except (ValueError, InvalidOperation):
                    raise ConfigError(f"{var}={env[var]!r} is not a valid {kind.__name__}") from None
        values.update(overrides)
        if not values.get("secret_key"):
            values["secret_key"] = env.get("SECRET_KEY") or _instance_secret(instance)
        return cls(**values)  # type: ignore[arg-type]


def _instance_secret(instance: Path) -> str:
    """The secret generated into the instance folder on first run, so restarts keep decrypting keys."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
