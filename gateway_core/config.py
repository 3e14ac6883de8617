"""Settings from the environment. Nothing here runs at import time: call Settings.from_env()."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
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


RATE_SOURCE_NAMES = ("coinbase", "kraken", "bitstamp", "coingecko")
RATE_URL_VARIABLES = {"coinbase": "COINBASE_API_URL", "kraken": "KRAKEN_API_URL", "bitstamp": "BITSTAMP_API_URL",
                      "coingecko": "COINGECKO_API_URL", "fx": "FX_API_URL"}


def _parse_rate_sources(text: str) -> tuple[str, ...]:
    """'coinbase,kraken' -> ('coinbase', 'kraken'); 'fixed' alone prices every network with the fixed table."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if names == ("fixed",):
        return names
    unknown = [n for n in names if n not in RATE_SOURCE_NAMES]
    if unknown or not names:
        raise ConfigError(f"RATE_SOURCES={text!r}: give some of {', '.join(RATE_SOURCE_NAMES)} (in order), or 'fixed'")
    return names


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
    # Live rates (issue 18): sources in order ('fixed' alone: the fixed table everywhere, mainnet included),
    # the aggregate's rules, the cache, and the provider base URLs (fakes on 127.0.0.1 in tests and benchmarks).
    rate_sources: tuple[str, ...] = RATE_SOURCE_NAMES
    sandbox_rates: str = "fixed"
    rate_timeout_seconds: float = 3.0
    rate_min_sources: int = 2
    rate_max_spread_percent: Decimal = Decimal("2")
    rate_cache_seconds: float = 30.0
    rate_max_age_seconds: float = 120.0
    rate_source_urls: dict[str, str] = field(default_factory=dict)
    quote_lock_minutes: float = 15.0
    quote_grace_minutes: float = 5.0
    instance_path: str = "instance"
    key_rotation_grace_hours: int = 24
    watch_interval_seconds: float = 5.0
    expiry_interval_seconds: float = 15.0
    sandbox_finality_seconds: float = 5.0
    late_payment_watch_hours: int = 72
    invoice_min_usd: Decimal = Decimal("0.01")
    invoice_max_usd: Decimal = Decimal("1000000")
    max_request_bytes: int = 64 * 1024
    # How long a web process trusts its copy of a key's store (wallets, expiry, fees) before reading it again.
    # A revoked or expired key is refused at once regardless: the invoice insert itself checks the key.
    api_key_cache_seconds: float = 5.0
    # Requests a minute per VOLTXT key (plugin and dynamic-payment endpoints) unless the key has its own limit.
    voltxt_rate_limit_per_minute: int = 600
    log_level: str = "INFO"
    log_json: bool = True
    trust_proxy: bool = False
    # Notifications (issue 4): outbox dispatch and merchant email.
    mail_from: str = ""
    delivery_interval_seconds: float = 1.0
    delivery_concurrency: int = 32
    webhook_timeout_seconds: float = 30.0
    delivery_lease_seconds: float = 90.0
    # Hosted payment page (issue 3): USDC mints for Solana Pay links (sandbox uses devnet's), stream and poll limits.
    usdc_mint_devnet: str = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
    usdc_mint_mainnet: str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    checkout_max_streams: int = 4
    checkout_status_per_minute: int = 60
    # Solana (issue 5): endpoints, their request-rate limit, the gateway seed (deposit keys and fee payer).
    solana_rpc_url_devnet: str = "https://api.devnet.solana.com"
    solana_rpc_url_mainnet: str = "https://api.mainnet-beta.solana.com"
    solana_rpc_rate_limit: int = 100  # requests per solana_rpc_rate_period seconds, per endpoint
    solana_rpc_rate_period: float = 10.0
    solana_rpc_timeout: float = 10.0
    solana_rpc_retries: int = 3
    solana_rpc_backoff: float = 0.5
    # Push (issue 21): pub/sub endpoints (empty: derived from the RPC URL), on/off, subscriptions per socket.
    solana_ws_url_devnet: str = ""
    solana_ws_url_mainnet: str = ""
    solana_push: bool = True
    solana_ws_max_subscriptions: int = 1000
    gateway_seed: str = field(default="", repr=False)
    fee_payer_low_balance_lamports: int = 50_000_000
    sweep_interval_seconds: float = 15.0
    # TRON (issue 6): TronGrid key (sent on every request), endpoints and USDT contracts per network, limits.
    trongrid_api_key: str = ""
    tron_api_url_nile: str = "https://nile.trongrid.io"
    tron_api_url_mainnet: str = "https://api.trongrid.io"
    tron_usdt_contract_nile: str = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
    tron_usdt_contract_mainnet: str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    tron_requests_per_second: float = 10.0
    tron_timeout_seconds: float = 10.0
    tron_max_blocks_per_tick: int = 100
    tron_start_lookback_blocks: int = 100
    # Shared counters (issue 8): per-key rate limits across web processes; empty = counted in each process.
    redis_url: str = field(default="", repr=False)
    # Shopify payments app (issue 7): the app's credentials and scopes, the Payments Apps API version, and how
    # the TLS terminator vouches for Shopify's client certificate (mTLS). SHOPIFY_API_ORIGIN replaces
    # https://{shop} for the API calls (a local fake in development and tests; never set in production).
    shopify_api_key: str = ""
    shopify_api_secret: str = field(default="", repr=False)
    shopify_scopes: str = "write_payment_gateways,write_payment_sessions"
    shopify_api_version: str = "2025-07"
    shopify_api_origin: str = ""
    shopify_require_client_cert: bool = True
    shopify_client_cert_header: str = "X-Client-Cert-Subject"
    shopify_client_cert_subject: str = ""
    # Merchant dashboard (issue 22): anyone may sign up when set; otherwise only the first account (the admin).
    allow_signup: bool = False
    # Operations (issue 23): who may read /metrics (addresses or networks; or a bearer token), and how far
    # behind its chain's head (slots or blocks) a watcher may be before /readyz answers 503.
    metrics_allowlist: tuple[str, ...] = ("127.0.0.1", "::1")
    metrics_token: str = field(default="", repr=False)
    watch_max_lag: int = 300
    # One worker per job family on PostgreSQL (advisory locks). Off: every worker runs every job, which the
    # row-level guards keep correct (the tests of those guards turn it off); only the RPC budget suffers.
    job_locks: bool = True

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
            "rate_sources": _parse_rate_sources(env.get("RATE_SOURCES") or ",".join(RATE_SOURCE_NAMES)),
            "sandbox_rates": env.get("SANDBOX_RATES", "fixed").strip().lower(),
            "rate_source_urls": {name: env[var].rstrip("/") for name, var in RATE_URL_VARIABLES.items()
                                 if env.get(var)},
            "log_level": env.get("LOG_LEVEL", "INFO").upper(),
            "log_json": _bool(env.get("LOG_JSON", "1")),
            "trust_proxy": _bool(env.get("TRUST_PROXY", "0")),
            "mail_from": env.get("MAIL_FROM", ""),
            "usdc_mint_devnet": env.get("USDC_MINT_DEVNET") or cls.usdc_mint_devnet,
            "usdc_mint_mainnet": env.get("USDC_MINT_MAINNET") or cls.usdc_mint_mainnet,
            "solana_rpc_url_devnet": env.get("SOLANA_RPC_URL_DEVNET") or cls.solana_rpc_url_devnet,
            "solana_rpc_url_mainnet": env.get("SOLANA_RPC_URL_MAINNET") or cls.solana_rpc_url_mainnet,
            "solana_ws_url_devnet": env.get("SOLANA_WS_URL_DEVNET", ""),
            "solana_ws_url_mainnet": env.get("SOLANA_WS_URL_MAINNET", ""),
            "solana_push": _bool(env.get("SOLANA_PUSH", "1")),
            "trongrid_api_key": env.get("TRONGRID_API_KEY", ""),
            "tron_api_url_nile": env.get("TRON_API_URL_NILE") or cls.tron_api_url_nile,
            "tron_api_url_mainnet": env.get("TRON_API_URL_MAINNET") or cls.tron_api_url_mainnet,
            "tron_usdt_contract_nile": env.get("TRON_USDT_CONTRACT_NILE") or cls.tron_usdt_contract_nile,
            "tron_usdt_contract_mainnet": env.get("TRON_USDT_CONTRACT_MAINNET") or cls.tron_usdt_contract_mainnet,
            "redis_url": env.get("REDIS_URL", "").strip(),
            "shopify_api_key": env.get("SHOPIFY_API_KEY", ""),
            "shopify_api_secret": env.get("SHOPIFY_API_SECRET", ""),
            "shopify_scopes": env.get("SHOPIFY_SCOPES") or cls.shopify_scopes,
            "shopify_api_version": env.get("SHOPIFY_API_VERSION") or cls.shopify_api_version,
            "shopify_api_origin": env.get("SHOPIFY_API_ORIGIN", "").rstrip("/"),
            "shopify_require_client_cert": _bool(env.get("SHOPIFY_REQUIRE_CLIENT_CERT", "1")),
            "shopify_client_cert_header": env.get("SHOPIFY_CLIENT_CERT_HEADER") or cls.shopify_client_cert_header,
            "shopify_client_cert_subject": env.get("SHOPIFY_CLIENT_CERT_SUBJECT", ""),
            "allow_signup": _bool(env.get("ALLOW_SIGNUP", "0")),
            "metrics_token": env.get("METRICS_TOKEN", "").strip(),
            "job_locks": _bool(env.get("JOB_LOCKS", "1")),
        }
        if "METRICS_ALLOWLIST" in env:
            values["metrics_allowlist"] = tuple(a.strip() for a in env["METRICS_ALLOWLIST"].split(",") if a.strip())
        numeric = {
            "key_rotation_grace_hours": ("KEY_ROTATION_GRACE_HOURS", int),
            "watch_interval_seconds": ("WATCH_INTERVAL_SECONDS", float),
            "expiry_interval_seconds": ("EXPIRY_INTERVAL_SECONDS", float),
            "sandbox_finality_seconds": ("SANDBOX_FINALITY_SECONDS", float),
            "late_payment_watch_hours": ("LATE_PAYMENT_WATCH_HOURS", int),
            "invoice_min_usd": ("INVOICE_MIN_USD", Decimal),
            "invoice_max_usd": ("INVOICE_MAX_USD", Decimal),
            "api_key_cache_seconds": ("API_KEY_CACHE_SECONDS", float),
            "voltxt_rate_limit_per_minute": ("VOLTXT_RATE_LIMIT_PER_MINUTE", int),
            "delivery_interval_seconds": ("DELIVERY_INTERVAL_SECONDS", float),
            "delivery_concurrency": ("DELIVERY_CONCURRENCY", int),
            "webhook_timeout_seconds": ("WEBHOOK_TIMEOUT_SECONDS", float),
            "delivery_lease_seconds": ("DELIVERY_LEASE_SECONDS", float),
            "checkout_max_streams": ("CHECKOUT_MAX_STREAMS", int),
            "checkout_status_per_minute": ("CHECKOUT_STATUS_PER_MINUTE", int),
            "solana_rpc_rate_limit": ("SOLANA_RPC_RATE_LIMIT", int),
            "solana_rpc_rate_period": ("SOLANA_RPC_RATE_PERIOD", float),
            "solana_rpc_timeout": ("SOLANA_RPC_TIMEOUT", float),
            "solana_rpc_retries": ("SOLANA_RPC_RETRIES", int),
            "solana_rpc_backoff": ("SOLANA_RPC_BACKOFF", float),
            "solana_ws_max_subscriptions": ("SOLANA_WS_MAX_SUBSCRIPTIONS", int),
            "fee_payer_low_balance_lamports": ("FEE_PAYER_LOW_BALANCE_LAMPORTS", int),
            "sweep_interval_seconds": ("SWEEP_INTERVAL_SECONDS", float),
            "tron_requests_per_second": ("TRON_REQUESTS_PER_SECOND", float),
            "tron_timeout_seconds": ("TRON_TIMEOUT_SECONDS", float),
            "tron_max_blocks_per_tick": ("TRON_MAX_BLOCKS_PER_TICK", int),
            "tron_start_lookback_blocks": ("TRON_START_LOOKBACK_BLOCKS", int),
            "rate_timeout_seconds": ("RATE_TIMEOUT_SECONDS", float),
            "rate_min_sources": ("RATE_MIN_SOURCES", int),
            "rate_max_spread_percent": ("RATE_MAX_SPREAD_PERCENT", Decimal),
            "rate_cache_seconds": ("RATE_CACHE_SECONDS", float),
            "rate_max_age_seconds": ("RATE_MAX_AGE_SECONDS", float),
            "quote_lock_minutes": ("QUOTE_LOCK_MINUTES", float),
            "quote_grace_minutes": ("QUOTE_GRACE_MINUTES", float),
            "watch_max_lag": ("WATCH_MAX_LAG", int),
        }
        for name, (var, kind) in numeric.items():
            if var in env:
                try:
                    values[name] = kind(env[var])
                except (ValueError, InvalidOperation):
                    raise ConfigError(f"{var}={env[var]!r} is not a valid {kind.__name__}") from None
        values.update(overrides)
        if values.get("sandbox_rates") not in ("fixed", "live"):
            raise ConfigError(f"SANDBOX_RATES={values.get('sandbox_rates')!r}: fixed or live")
        if not values.get("secret_key"):
            values["secret_key"] = env.get("SECRET_KEY") or _instance_secret(instance)
        if not values.get("gateway_seed"):
            # Deposit keys derive from it: losing it strands deposits, so it is kept like SECRET_KEY.
            values["gateway_seed"] = env.get("GATEWAY_SEED") or _instance_secret(
                instance, "gateway_seed", lambda: secrets.token_hex(32))
        return cls(**values)  # type: ignore[arg-type]


def _instance_secret(instance: Path, name: str = "secret_key",
                     generate: Callable[[], str] = lambda: secrets.token_urlsafe(48)) -> str:
    """The secret generated into the instance folder on first run, so restarts keep decrypting keys."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (web or worker) got there first: use its secret
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
