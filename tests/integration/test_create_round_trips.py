"""Issue 17 point 8: what one VOLTXT create costs the database, pinned so it cannot grow silently.

The request is the one the official OpenCart client sends (bench/create_invoice.py sends the same). With the
key cached, a new invoice is one transaction of two statements on PostgreSQL (the invoice with its key check and
its event, then its quotes) and three on SQLite (which has no data-modifying WITH), nothing read before them.
An identical retry adds the check that tells a repeated id from a dead key, and the read of the first invoice.
No timing is asserted: counts only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from bridge.extensions import db
from bridge.jsonio import dumps
from gateway_core.stores.manage import NewStore

SHOP = "https://shop.example/index.php?route=extension/voltxt/payment/voltxt"
CREATE = "/api/plugin/invoice/create"


def opencart_body(api_key: str, external_id: str) -> dict[str, Any]:
    return {
        "api_key": api_key, "platform": "opencart", "external_invoice_id": external_id, "amount": "19.99",
        "amount_type": "fiat", "fiat_currency": "USD", "network": "testnet", "expiry_hours": 24,
        "description": f"Order #{external_id} from Demo Store", "customer_name": "Jane Buyer",
        "customer_email": "jane.buyer@example.com", "callback_url": f"{SHOP}.callback",
        "success_url": f"{SHOP}.success&session_id=[session_id]",
        "cancel_url": f"{SHOP}.cancel&session_id=[session_id]",
        "metadata": {"order_id": external_id, "store_name": "Demo Store", "plugin_version": "1.2.0",
                     "opencart_version": "4.0.2.3", "currency_code": "USD", "customer_id": 42},
    }


@dataclass
class Trips:
    statements: list[str] = field(default_factory=list)
    checkouts: int = 0  # each one a pre-ping on PostgreSQL
    commits: int = 0


@contextmanager
def counted(app: Any) -> Iterator[Trips]:
    """Statements sent (BEGIN IMMEDIATE included on SQLite; psycopg sends BEGIN itself), checkouts, commits."""
    with app.app_context():
        engine = db.engine
    trips = Trips()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        trips.statements.append(" ".join(statement.split())[:60])

    def on_checkout(*_: Any) -> None:
        trips.checkouts += 1

    def on_commit(*_: Any) -> None:
        trips.commits += 1

    listeners = ((engine, "before_cursor_execute", on_statement), (engine.pool, "checkout", on_checkout),
                 (engine, "commit", on_commit))
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield trips
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)


def _create(client: Any, store: NewStore, external_id: str) -> Any:
    return client.post(CREATE, data=dumps(opencart_body(store.api_key, external_id)), content_type="application/json")


def test_a_create_is_one_transaction_of_a_few_statements(app: Any, client: Any, store: NewStore,
                                                          database_url: str) -> None:
    assert _create(client, store, "warm").status_code == 201  # reads the key once, then the cache answers
    with counted(app) as trips:
        response = _create(client, store, "order-1")
    assert response.status_code == 201
    sqlite = database_url.startswith("sqlite")
    expected = ["BEGIN IMMEDIATE", "INSERT INTO invoices", "INSERT INTO events", "INSERT INTO quotes"] if sqlite \
        else ["WITH new_invoice AS (INSERT INTO invoices", "INSERT INTO quotes"]
    assert len(trips.statements) == len(expected), trips.statements
    for sent, start in zip(trips.statements, expected, strict=True):
        assert sent.startswith(start), trips.statements
    assert (trips.checkouts, trips.commits) == (1, 1)


def test_an_identical_retry_reads_what_it_must(app: Any, client: Any, store: NewStore, database_url: str) -> None:
    assert _create(client, store, "order-1").status_code == 201
    with counted(app) as trips:
        response = _create(client, store, "order-1")
    assert response.status_code == 200
    # The insert that wrote nothing, the key check telling a repeated id from a dead key, then the first invoice
    # as any read loads it: with its store, and the selectin loads of the store's wallets, its quotes, payments.
    begin = ["BEGIN IMMEDIATE"] if database_url.startswith("sqlite") else []
    expected = [*begin, "", "SELECT EXISTS", "SELECT invoices.id", "SELECT payments", "SELECT quotes",
                "SELECT store_wallets"]
    assert len(trips.statements) == len(expected), trips.statements
    # The three selectin loads come in the order SQLAlchemy iterates a frozenset of the mappers' properties (hashed
    # by id: it changes with the process's memory layout), so they are compared in any order.
    sent_in_order = [*trips.statements[:-3], *sorted(trips.statements[-3:])]
    for sent, start in zip(sent_in_order, expected, strict=True):
        assert sent.startswith(start), trips.statements
    assert (trips.checkouts, trips.commits) == (1, 1)
