"""Per-chain address allocation at invoice creation (deposit keys, token accounts), chosen by chain name.

build_services registers the allocators its chain clients need; a chain without one keeps the addresses
`_quotes` gave (the store's wallet, or a sandbox address).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from gateway_core.adapters.models import Invoice

Allocator = Callable[[Session, Invoice], None]
_ALLOCATORS: dict[str, Allocator] = {}


def register_allocator(chain: str, allocator: Allocator) -> None:
    """Use `allocator` for the quotes of `chain` (the latest registration wins)."""
    _ALLOCATORS[chain] = allocator


def allocate_addresses(session: Session, invoice: Invoice) -> None:
    """Let each chain's allocator replace its quotes' addresses; runs inside the creating transaction."""
    for chain in sorted({q.chain for q in invoice.quotes}):
        allocator = _ALLOCATORS.get(chain)
        if allocator is not None:
            allocator(session, invoice)
