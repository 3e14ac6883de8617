"""Per-chain address allocation at invoice creation (deposit keys, token accounts), chosen by chain name.

build_services puts the allocators its chain clients need on Services.allocators; a chain without one
keeps the addresses `_quotes` gave (the store's wallet, or a sandbox address).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from gateway_core.adapters.models import Invoice

Allocator = Callable[[Session, Invoice], None]


def allocate_addresses(session: Session, invoice: Invoice, allocators: Mapping[str, Allocator]) -> None:
    """Let each chain's allocator replace its quotes' addresses; runs inside the creating transaction."""
    for chain in sorted({q.chain for q in invoice.quotes}):
        allocator = allocators.get(chain)
        if allocator is not None:
            allocator(session, invoice)
