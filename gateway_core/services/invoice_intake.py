"""Invoice creation on the hot path: a cached key, then one write straight to the database driver.

Every checkout starts here, so this path avoids the two costs that dominated a create: reading the key and
its store on every request, and the ORM and SQLAlchemy's execution layer around a handful of inserts.

- The key's store (with its wallets) is cached per process for `api_key_cache_seconds`. The cache cannot
  let a revoked key through: the invoice insert itself requires the key to be valid at that moment, and the
  key's rotation deadline is checked on every hit. Store settings (wallets, expiry, fees) reach a web process
  within the cache's lifetime.
- The invoice, its quotes and its event go to an InvoiceWriter as rows. Invoices that need more than that
  (allocated deposit keys, a contract that announces creation through the outbox) take the general path,
  services.invoices.create_invoice, as does anything the writer declines: a repeated external id (identical
  or conflicting) or a key that stopped being valid, which the general path then answers exactly.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store
from gateway_core.adapters.notify.voltxt_payloads import voltxt_event
from gateway_core.domain.errors import InvalidApiKey
from gateway_core.ports import Clock, InvoiceWriter, NewInvoiceRows, RateSource
from gateway_core.services.allocation import Allocator
from gateway_core.services.assess import event_fields
from gateway_core.services.invoices import InvoiceRequest, create_invoice, draft_invoice, needs_allocation
from gateway_core.services.keys import ValidKey, digest_of, valid_key
from gateway_core.services.outbox import check_callback_url
from gateway_core.services.views import InvoiceView, new_invoice_view

# Contracts whose invoice.created causes no delivery, so its outbox has nothing to write: VOLTXT announces
# payments, not creation. Checked against the payload mapping itself, so a future mapping turns this off.
SILENT_AT_CREATION = frozenset(
    {"voltxt"} if all(voltxt_event("invoice.created", mode) is None for mode in ("direct", "deposit")) else ()
)


class KeyCache:
    """Valid keys by digest, for `seconds`; least recently used ones go first beyond `max_entries`."""

    def __init__(self, seconds: float, max_entries: int = 4096,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[tuple[str, str], tuple[float, ValidKey]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, kind: str) -> ValidKey | None:
        with self._lock:
            entry = self._entries.get((digest, kind))
            if entry is None:
                return None
            if self._monotonic() - entry[0] >= self.seconds:
                del self._entries[(digest, kind)]
                return None
            self._entries.move_to_end((digest, kind))
            return entry[1]

    def put(self, digest: str, kind: str, key: ValidKey) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._entries[(digest, kind)] = (self._monotonic(), key)
            self._entries.move_to_end((digest, kind))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, digest: str, kind: str) -> None:
        with self._lock:
            self._entries.pop((digest, kind), None)


@dataclass(frozen=True)
class Caller:
    """Who is creating: the key's store (shared between requests: read it, never change or attach it)."""

    store: Store
    digest: str
    kind: str
    per_minute: int | None = None  # the key's own request budget (None: the contract's default)


class InvoiceIntake:
    def __init__(self, uow: Callable[..., UnitOfWork], writer: InvoiceWriter | None, rates: RateSource,
                 clock: Clock, limits: tuple[Decimal, Decimal], outbound_allowlist: Sequence[str] = (),
                 allocators: Mapping[str, Allocator] | None = None, cache_seconds: float = 5.0) -> None:
        self._uow = uow
        self.writer = writer
        self._rates = rates
        self._clock = clock
        self._limits = limits
        self._allowlist = outbound_allowlist
        self._allocators = allocators
        self.keys = KeyCache(cache_seconds)

    def caller(self, raw_key: object, kind: str = "voltxt") -> Caller:
        """The key's store, from the cache when fresh; InvalidApiKey for an unknown, malformed or expired key."""
        digest = digest_of(raw_key, kind)
        key = self.keys.get(digest, kind)
        if key is not None and key.expires_at is not None and key.expires_at <= self._clock.now():
            self.keys.forget(digest, kind)
            raise InvalidApiKey("The provided API key is invalid")
        if key is None:
            with self._uow(read_only=True) as uow:
                key = valid_key(uow, digest, self._clock, kind)
            self.keys.put(digest, kind, key)
        return Caller(key.store, digest, kind, key.per_minute)

    def create(self, caller: Caller, request: InvoiceRequest) -> tuple[InvoiceView, bool]:
        """Create the invoice, or return the existing one for an identical retry. Returns (view, created)."""
        store = caller.store
        if (self.writer is None or request.contract not in SILENT_AT_CREATION
                or needs_allocation(store, self._allocators)):
            return self._create_in_general(caller, request)
        if request.callback_url:  # issue 4: the SSRF guard refuses callback URLs we would never call
            check_callback_url(request.callback_url, self._allowlist)
        draft = draft_invoice(store, request, self._rates, self._clock, self._limits)
        event = event_fields(store.id, "invoice.created", draft.invoice["status"], False, False, draft.now)
        rows = NewInvoiceRows(draft.invoice, draft.quotes, event, caller.digest, caller.kind, draft.now)
        if self.writer.insert(rows) is None:
            # A repeated external id or a key revoked since it was cached: the general path answers both.
            self.keys.forget(caller.digest, caller.kind)
            return self._create_in_general(caller, request)
        return new_invoice_view(draft.invoice, draft.quotes, store), True

    def _create_in_general(self, caller: Caller, request: InvoiceRequest) -> tuple[InvoiceView, bool]:
        # The store is read again, attached to this transaction's session (allocation updates its row).
        with self._uow(read_only=True) as uow:
            store = valid_key(uow, caller.digest, self._clock, caller.kind).store
        with self._uow() as uow:
            return create_invoice(uow, store, request, self._rates, self._clock, self._limits,
                                  outbound_allowlist=self._allowlist, allocators=self._allocators)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
