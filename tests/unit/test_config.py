"""Settings come from the environment when the app or worker is built, with safe defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from gateway_core.config import ConfigError, Settings


def test_defaults_are_the_embedded_gateway(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'voltbridge.db'}"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.outbound_allowlist == ()
    assert settings.smtp_url == "log://"
    assert settings.rates == {}
    assert settings.key_rotation_grace_hours == 24


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path: Path) -> None:
    first = Settings.from_env({"INSTANCE_PATH": str(tmp_path)}).secret_key
    second = Settings.from_env({"INSTANCE_PATH": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "given"}).secret_key == "given"


def test_every_documented_variable_is_read(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgresql://u@db/x", "SECRET_KEY": "s",
        "PUBLIC_URL": "https://pay.example.com/", "OUTBOUND_ALLOWLIST": "127.0.0.1, 10.0.0.0/8",
        "SMTP_URL": "smtp://mail:25", "RATES": "SOL/USD=142.5, usdc/eur=0.9", "KEY_ROTATION_GRACE_HOURS": "2",
        "WATCH_INTERVAL_SECONDS": "0.5", "INVOICE_MIN_USD": "1", "LOG_JSON": "0",
    })
    assert settings.database_url == "postgresql://u@db/x"
    assert settings.public_url == "https://pay.example.com"
    assert settings.outbound_allowlist == ("127.0.0.1", "10.0.0.0/8")
    assert settings.smtp_url == "smtp://mail:25"
    assert settings.rates == {("SOL", "USD"): Decimal("142.5"), ("USDC", "EUR"): Decimal("0.9")}
    assert settings.key_rotation_grace_hours == 2 and settings.watch_interval_seconds == 0.5
    assert settings.invoice_min_usd == Decimal("1") and settings.log_json is False


@pytest.mark.parametrize("env", [{"RATES": "SOL=150"}, {"RATES": "SOL/USD=-1"}, {"RATES": "SOL/USD=abc"},
                                 {"KEY_ROTATION_GRACE_HOURS": "soon"}])
def test_bad_values_are_refused_with_the_variable_named(tmp_path: Path, env: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", **env})


def test_rates_override_the_fixed_table(tmp_path: Path) -> None:
    from gateway_core.adapters.rates.fixed import FixedRateSource

    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", "RATES": "SOL/USD=200"})
    rates = FixedRateSource(settings.rates)
    assert rates.rate("SOL", "USD") == Decimal("200") and rates.rate("USDC", "USD") == Decimal("1")
    assert rates.rate("SOL", "EUR") == Decimal("138")


def test_nothing_reads_the_environment_at_import(tmp_path: Path) -> None:
    """Importing every module with a poisoned environment must not fail or create files."""
    code = (
        "import bridge, bridge.cli, bridge.contracts.voltxt, gateway_core.worker, gateway_core.bootstrap\n"
        "import os; assert not os.path.exists(os.environ['INSTANCE_PATH'])\n"
    )
    env = {**os.environ, "RATES": "garbage", "INSTANCE_PATH": str(tmp_path / "never"), "DATABASE_URL": "nope://"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=Path(__file__).resolve().parents[2])


def test_rate_settings_are_read_and_checked(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", "RATE_SOURCES": "Kraken, coingecko",
        "RATE_TIMEOUT_SECONDS": "1.5", "RATE_MIN_SOURCES": "3", "RATE_MAX_SPREAD_PERCENT": "1.5",
        "RATE_CACHE_SECONDS": "10", "RATE_MAX_AGE_SECONDS": "60", "QUOTE_LOCK_MINUTES": "10",
        "QUOTE_GRACE_MINUTES": "2", "KRAKEN_API_URL": "http://127.0.0.1:9/", "SANDBOX_RATES": "live",
    })
    assert settings.rate_sources == ("kraken", "coingecko") and settings.rate_timeout_seconds == 1.5
    assert settings.rate_min_sources == 3 and settings.rate_max_spread_percent == Decimal("1.5")
    assert (settings.rate_cache_seconds, settings.rate_max_age_seconds) == (10, 60)
    assert (settings.quote_lock_minutes, settings.quote_grace_minutes) == (10, 2)
    assert settings.rate_source_urls == {"kraken": "http://127.0.0.1:9"} and settings.sandbox_rates == "live"
    defaults = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s"})
    assert defaults.rate_sources == ("coinbase", "kraken", "bitstamp", "coingecko")
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s",
                              "RATE_SOURCES": "fixed"}).rate_sources == ("fixed",)
    for bad in ({"RATE_SOURCES": "binance"}, {"RATE_SOURCES": "fixed,kraken"}, {"SANDBOX_RATES": "maybe"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", **bad})
