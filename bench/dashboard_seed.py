"""500,000 invoices in one store, fast: bulk Core inserts of plausible rows (no API, no quotes or events).

Used by bench/dashboard.py. The mix is a busy shop's year: mostly settled or expired, a few open or underpaid,
customers who come back (an email has ~10 invoices), four contracts and three storefronts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from gateway_core.adapters.models import Invoice

START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
CUSTOMERS = 50_000
STATUSES = [("settled", 45), ("expired", 38), ("pending", 5), ("cancelled", 4), ("underpaid", 2),
            ("paid", 2), ("confirmed", 2), ("partially_paid", 2)]
CONTRACTS = [("voltxt", 85), ("virtexgate", 5), ("veltpay", 5), ("venta", 5)]
PLATFORMS = [("woocommerce", 60), ("saleor", 20), ("shopify", 15), (None, 5)]
ASSETS = [("USDC", 50), ("SOL", 30), ("USDT", 20)]
PAID = {"settled", "paid", "confirmed", "underpaid", "partially_paid"}
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _pick(rng: random.Random, table: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def rows(store_id: int, network: str, count: int, seed: int = 22) -> Iterator[dict[str, Any]]:
    """`count` invoice rows, oldest first, created evenly over a year."""
    rng = random.Random(seed)
    step = SPAN / count
    for i in range(count):
        created = START + step * i
        status = _pick(rng, STATUSES)
        asset = _pick(rng, ASSETS)
        paid = status in PAID
        fiat_minor = rng.randint(500, 50_000)
        yield {
            "number": "".join(rng.choices(ALPHABET, k=14)), "store_id": store_id, "kind": "invoice",
            "contract": _pick(rng, CONTRACTS), "external_id": f"order-{i + 1}", "platform": _pick(rng, PLATFORMS),
            "network": network, "status": status, "overpaid": False, "paid_late": False, "amount_type": "fiat",
            "price_currency": "USD", "price_units": fiat_minor, "fiat_currency": "USD", "fiat_minor": fiat_minor,
            "request_fingerprint": "0" * 64, "customer_email": f"customer{rng.randrange(CUSTOMERS)}@example.com",
            "customer_name": "Bench Buyer", "chosen_asset": asset if paid or rng.random() < 0.5 else None,
            "paid_asset": asset if paid else None, "created_at": created, "updated_at": created,
            "expires_at": created + timedelta(hours=24), "paid_at": created + timedelta(minutes=5) if paid else None,
        }


def seed(engine: Engine, store_id: int, network: str, count: int, batch: int = 5_000) -> None:
    """Insert the rows in batches (executemany), one transaction per batch."""
    statement = insert(Invoice.__table__)  # type: ignore[arg-type]
    chunk: list[dict[str, Any]] = []
    for row in rows(store_id, network, count):
        chunk.append(row)
        if len(chunk) == batch:
            with engine.begin() as connection:
                connection.execute(statement, chunk)
            chunk = []
    if chunk:
        with engine.begin() as connection:
            connection.execute(statement, chunk)
