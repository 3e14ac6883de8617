"""Build the core's services from settings, picking each port's implementation by name."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway_core.adapters import wakeup
from gateway_core.adapters.chains.sandbox import SandboxChain
from gateway_core.adapters.chains.solana_setup import gateway_keys_from_settings, solana_chain_from_settings
from gateway_core.adapters.chains.tron import tron_chain_from_settings
from gateway_core.adapters.db import UnitOfWork, make_engine, session_factory
from gateway_core.adapters.notify.email import mailer_from_url
from gateway_core.adapters.notify.webhooks import GuardedHttp
from gateway_core.adapters.rates.book import fixed_on_mainnet_warning, rates_from_settings
from gateway_core.adapters.secrets import KeyVault
from gateway_core.clock import SystemClock
from gateway_core.config import Settings
from gateway_core.invoices.create import Invoicing
from gateway_core.invoices.quotes import current_view
from gateway_core.keys.api_keys import KeyCache
from gateway_core.notifications.contract_webhooks import contract_channels
from gateway_core.notifications.dispatch import Dispatcher
from gateway_core.payments.allocation import Allocator
from gateway_core.payments.solana_deposits import SolanaTreasury
from gateway_core.payments.valuation import Quoting
from gateway_core.ports import ChainClient, Clock, DeliveryChannel, Mailer, RateSource, WebhookTransport
from gateway_core.views import InvoiceView

log = logging.getLogger("voltbridge")


@dataclass
class Services:
    """Everything a process (web or worker) needs to run the core's use cases."""

    settings: Settings
    sessions: Callable[[], Session]
    clock: Clock
    rates: RateSource
    vault: KeyVault
    # Chain clients keyed by chain name; each network with open invoices is watched by its chain's client.
    chains: dict[str, ChainClient] = field(default_factory=dict)
    engine: Engine | None = None
    # Notifications (issue 4): outbound HTTP behind the SSRF guard, and the merchant mailer (SMTP_URL).
    webhooks: WebhookTransport | None = None
    mailer: Mailer | None = None
    # Solana deposit mode (issue 5): derives deposit keys, opens token accounts, sweeps.
    solana: SolanaTreasury | None = None
    # Per-chain address allocation at invoice creation (deposit keys and token accounts), by chain name.
    allocators: dict[str, Allocator] = field(default_factory=dict)
    # Outbox channels beyond VOLTXT's, by Delivery.channel: other contracts' webhooks (filled here) and
    # storefront platforms (filled by the composition root: storefront_adapters.install_channels).
    channels: dict[str, DeliveryChannel] = field(default_factory=dict)
    # Keys that create invoices, cached for API_KEY_CACHE_SECONDS (creation checks them again as it writes).
    key_cache: KeyCache = field(default_factory=lambda: KeyCache(0))

    def uow(self, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.sessions, read_only)

    @property
    def invoicing(self) -> Invoicing:
        """What creating an invoice needs, from this process's services."""
        return Invoicing(self.rates, self.clock, self.limits, self.settings.outbound_allowlist, self.allocators,
                         self.key_cache)

    @property
    def limits(self) -> tuple[Decimal, Decimal]:
        return (self.settings.invoice_min_usd, self.settings.invoice_max_usd)

    @property
    def key_grace(self) -> timedelta:
        return timedelta(hours=self.settings.key_rotation_grace_hours)

    @property
    def quote_grace(self) -> timedelta:
        """How long after a quote's lapse a payment of its old amount is still honoured (issue 18)."""
        return timedelta(minutes=self.settings.quote_grace_minutes)

    @property
    def quoting(self) -> Quoting:
        """What re-quoting a lapsed quote and valuing a payment to one need (issue 18)."""
        return Quoting(self.rates, self.quote_grace)

    def current_view(self, view: InvoiceView) -> InvoiceView:
        """The invoice a reader just read, with its lapsed quotes re-quoted (invoices/quotes.current_view); call it
        after the reader's own transaction."""
        return current_view(self.uow, view, self.quoting, self.clock)

    @property
    def late_window(self) -> timedelta:
        return timedelta(hours=self.settings.late_payment_watch_hours)


def build_services(
    settings: Settings,
    *,
    sessions: Callable[[], Session] | None = None,
    clock: Clock | None = None,
    rates: RateSource | None = None,
    engine: Engine | None = None,
) -> Services:
    """Wire the production implementations; tests and the Flask app override pieces by keyword."""
    wakeup.install()  # committed status changes wake the dispatcher and the payment page's streams
    if sessions is None:
        engine = engine or make_engine(settings.database_url)
        sessions = session_factory(engine)
    clock = clock or SystemClock()
    if rates is None and (warning := fixed_on_mainnet_warning(settings)):
        _warn_once(warning)
    services = Services(
        settings=settings,
        sessions=sessions,
        clock=clock,
        rates=rates or rates_from_settings(settings, clock),
        vault=KeyVault(settings.secret_key),
        engine=engine,
        key_cache=KeyCache(settings.api_key_cache_seconds),
    )
    services.chains["sandbox"] = SandboxChain(sessions, clock, settings.sandbox_finality_seconds)
    # Solana (issue 5): devnet/mainnet client, and the treasury (gateway keys) for deposit mode.
    solana = solana_chain_from_settings(settings)
    services.chains["solana"] = solana
    services.solana = SolanaTreasury(gateway_keys_from_settings(settings), solana,
                                     settings.fee_payer_low_balance_lamports)
    services.allocators["solana"] = services.solana.allocate
    # TRON (issue 6): builds its TronGrid clients lazily, on the first tick with TRON invoices.
    services.chains["tron"] = tron_chain_from_settings(settings)
    services.webhooks = GuardedHttp(settings.outbound_allowlist)
    services.channels.update(contract_channels())
    services.mailer = mailer_from_url(settings.smtp_url)
    return services


@functools.cache
def _warn_once(message: str) -> None:
    """A start-up warning, logged once per process however many times services are built (`voltbridge run`
    builds the app's and the worker's; every CLI command builds its own)."""
    log.warning(message)


def dispatcher_for(services: Services, **options: object) -> Dispatcher:
    """A dispatcher wired from Services (settings, clock, transport, mailer, vault)."""
    assert services.webhooks is not None and services.mailer is not None
    settings = services.settings
    values: dict[str, object] = {"mail_from": settings.mail_from, "public_url": settings.public_url,
                                 "concurrency": settings.delivery_concurrency,
                                 "timeout": settings.webhook_timeout_seconds,
                                 "lease": settings.delivery_lease_seconds, "channels": services.channels,
                                 **options}
    return Dispatcher(services.uow, services.clock, services.webhooks, services.mailer, services.vault,
                      **values)  # type: ignore[arg-type]
