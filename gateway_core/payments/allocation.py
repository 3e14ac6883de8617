"""Per-chain address allocation at invoice creation (deposit keys, token accounts), chosen by chain name.

build_services puts the allocators its chain clients need on Services.allocators; a chain without one
keeps the addresses the draft gave (the store's wallet, or a sandbox address). Allocation is a step of the one
write path: it runs inside the creating transaction, after the invoice row and before its quotes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class NewInvoice:
    """An invoice being written: its row's id and facts, and its quote rows (an allocator sets "address")."""

    id: int
    number: str
    network: str
    settlement_mode: str
    quotes: list[dict[str, Any]]


Allocator = Callable[[Session, NewInvoice], None]


def allocate_addresses(session: Session, invoice: NewInvoice, allocators: Mapping[str, Allocator]) -> None:
    """Let each chain's allocator replace its quotes' addresses."""
    for chain in sorted({q["chain"] for q in invoice.quotes}):
        allocator = allocators.get(chain)
        if allocator is not None:
            allocator(session, invoice)
