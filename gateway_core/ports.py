"""The seams of the core: small protocols with one module per implementation under adapters/."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class WatchedAddress:
    """An address the watcher must look at, with the references expected there (direct mode shares addresses)."""

    address: str
    asset: str
    # Deposit mode: a per-invoice address the gateway derived (balances can be polled instead of histories).
    deposit: bool = False
    # Deposit mode: whether the buyer picked this asset on the payment page (None: no pick yet). A client may
    # read the accounts of assets the buyer did not pick less often than every tick.
    chosen: bool | None = None
    # When the newest invoice watching this address was opened (push subscriptions go to the newest first);
    # not part of the address's identity.
    opened: datetime | None = field(default=None, compare=False)
    # Every invoice watching it is closed (watched for late payments only: polled, never subscribed).
    closed: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ObservedTransfer:
    """A transfer as a chain reports it, before it is matched to an invoice."""

    chain: str
    network: str
    tx_id: str
    transfer_index: int
    asset: str
    amount: int  # base units credited to `to_address`
    to_address: str
    from_address: str | None
    reference: str | None
    block_time: datetime
    confirmations: int
    final: bool
    # Keys that may be the reference (Solana: the transfer instruction's extra accounts); any one that is a
    # quote's reference at `to_address` attributes the transfer. `reference` alone when there is one answer.
    references: tuple[str, ...] = ()
    # A transaction that names the address (and reference) but failed on chain: it moved nothing (amount 0),
    # and a point-of-sale contract tells the buyer (VentaConnect TRANSACTION_FAILED).
    failed: bool = False


@dataclass(frozen=True)
class ScanResult:
    transfers: Sequence[ObservedTransfer]
    cursor: str | None
    # Per-scope cursors that moved (clients with `scoped_cursors = True`, e.g. one per Solana account).
    cursors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TxFinality:
    confirmations: int
    final: bool
    # False when the chain dropped the transaction (it will never finalize).
    exists: bool = True


class ChainClient(Protocol):
    """Reads one chain. Implementations: adapters/chains/{sandbox,solana,tron}.py.

    A client that keeps a cursor per scope (Solana: one per account) sets `scoped_cursors = True`; the
    watcher then calls `scan(..., scoped={scope: position})` and persists `ScanResult.cursors`.
    """

    chain: str

    def scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None) -> ScanResult:
        """Transfers to watched addresses since `cursor`, and the cursor to persist afterwards."""
        ...

    def finality(self, network: str, tx_ids: Sequence[str]) -> dict[str, TxFinality]:
        """Current confirmations and finality of transactions seen earlier."""
        ...


@dataclass(frozen=True)
class RateQuote:
    """A rate with its provenance: the sources it was taken from and when (what a quote records)."""

    rate: Decimal
    sources: tuple[str, ...]
    at: datetime
    # How long an amount quoted at this rate holds (a volatile asset's live rate); None: the invoice's life.
    lock: timedelta | None = None


class RateSource(Protocol):
    """Prices of assets in fiat currencies. Implementations: adapters/rates/{fixed,aggregate,book}.py."""

    def rate(self, asset: str, currency: str) -> Decimal:
        """Price of one unit of `asset` in `currency`; RateUnavailable if unknown or not fresh enough."""
        ...

    def quote(self, asset: str, currency: str) -> RateQuote:
        """The rate with its sources and time; RateUnavailable as for rate()."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


# -- notifications (issue 4) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResult:
    """What an outbound request came to: status (None if no answer), a capped body, latency, error."""

    status: int | None
    body: bytes
    latency: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Success as webhooks define it: a 2xx answer in time."""
        return self.error is None and self.status is not None and 200 <= self.status < 300


class WebhookTransport(Protocol):
    """Outbound HTTP behind the SSRF guard. Implementation: adapters/notify/webhooks.py."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResult: ...

    def get(self, url: str, timeout: float, headers: Mapping[str, str] | None = None) -> HttpResult: ...

    def request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                timeout: float) -> HttpResult:
        """Any method (storefront REST calls such as WooCommerce's PUT), under the same guard."""
        ...


class DeliveryChannel(Protocol):
    """Sends outbox deliveries of one channel beyond the VOLTXT ones: another contract's webhooks, or the calls a
    storefront adapter makes to its platform (Saleor, Shopify, WooCommerce). Registered in Services.channels.

    `credentials` runs in the claim transaction (read and decrypt what signing needs); `send` runs outside any
    transaction, through the SSRF-guarded transport, and answers ok only when the other side accepted.
    """

    def credentials(self, session: Any, delivery: Any, vault: Any) -> dict[str, str]: ...

    def send(self, job: Any, at: datetime, transport: WebhookTransport, timeout: float) -> HttpResult: ...


@dataclass(frozen=True)
class OutgoingEmail:
    """A rendered multipart message: a text part and an HTML part."""

    message_id: str
    sender: str
    recipient: str
    subject: str
    text: str
    html: str
    date: datetime


class Mailer(Protocol):
    """Sends email. Implementations: adapters/notify/email.py (SMTP, and the log mailer of `voltbridge run`)."""

    name: str

    def send(self, email: OutgoingEmail) -> None:
        """Send or raise (OSError / smtplib.SMTPException); the dispatcher records and retries."""
        ...
