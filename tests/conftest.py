"""Fixtures: every test that touches a database runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge import create_app
from bridge.migrate import upgrade
from gateway_core.adapters.db import make_engine, normalise_url
from gateway_core.adapters.models import Base
from gateway_core.bootstrap import Services, build_services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.stores.manage import NewStore, create_store
from gateway_core.worker import expire_invoices, watch_chains
from storefront_adapters import install_channels

PG_URL = os.environ.get("TEST_DATABASE_URL")

def _compile_url_builders_once() -> None:
    """Werkzeug compiles two URL-builder functions for every rule of every app it binds (an AST, then
    `compile()`): two thirds of the CPU time of `create_app`, which the suite calls for almost every test. The
    code generated depends only on the rule's text, its parsed parts and its defaults, and the function takes
    the rule as its `self`: so each distinct builder is compiled once per test process and shared. Werkzeug's
    own behaviour is unchanged; a Werkzeug without this private method is simply left alone."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return
    builders: dict[Any, Any] = {}

    def shared_builder(rule: Rule, append_unknown: bool = True) -> Any:
        defaults = rule.defaults or {}
        if any(is_dynamic and part in defaults for is_dynamic, part in rule._trace):
            return compile_builder(rule, append_unknown)  # a converted default is baked in: not shared
        key = (rule.rule, append_unknown, tuple(rule._trace), tuple(defaults))
        if key not in builders:
            builders[key] = compile_builder(rule, append_unknown)
        return builders[key]

    shared_builder.shared = True  # type: ignore[attr-defined]
    Rule._compile_builder = shared_builder  # type: ignore[method-assign]


_compile_url_builders_once()



# Passwords hashed with argon2id's cheapest parameters in this process and every process the suite starts (the
# accounts tests hash and verify hundreds of times); the same library, hash format and code paths.
os.environ["ARGON2_PROFILE"] = "test"
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_sessionstart(session: pytest.Session) -> None:
    """With TEST_DATABASE_URL set, an unreachable PostgreSQL fails the run: it must never pass by skipping."""
    if not PG_URL:
        return
    engine = sa.create_engine(normalise_url(PG_URL))
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {exc}", returncode=3)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test would dominate the run time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> Iterator[str]:
    """A schema of its own in the test database for this run (each xdist worker's), so concurrent runs never collide."""
    assert PG_URL
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"vb_test_{worker}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(normalise_url(PG_URL))
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    emptied = _EMPTYING.pop(url, None)
    if emptied is not None:
        emptied[0].dispose()
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


_EMPTYING: dict[str, tuple[sa.Engine, str]] = {}  # schema URL -> its engine and the statements that empty it


def empty_pg(url: str) -> None:
    """Every table emptied and every id sequence restarted, in one round trip on a kept connection.

    DELETE rather than TRUNCATE: on tables this small, TRUNCATE's per-table file work costs about fifteen
    times as much (a second per test on a busy machine).
    """
    if url not in _EMPTYING:
        engine = sa.create_engine(normalise_url(url), pool_size=1)
        with engine.connect() as connection:
            sequences = connection.execute(sa.text(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()"
            )).scalars().all()
        statements = ([f"DELETE FROM {table.name}" for table in reversed(Base.metadata.sorted_tables)]
                      + [f"ALTER SEQUENCE {name} RESTART" for name in sequences])
        _EMPTYING[url] = engine, "; ".join(statements)
    engine, sql = _EMPTYING[url]
    with engine.begin() as connection:
        connection.exec_driver_sql(sql)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "voltbridge.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_migrated")
    empty_pg(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {}, instance_path=str(tmp_path / "instance"), database_url=database_url, secret_key="test-secret-key",
        public_url="https://gateway.test", sandbox_finality_seconds=0.0, rate_sources=("fixed",),
    )


@contextmanager
def running_services(settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    """The worker's view (plain SQLAlchemy sessions), with its engine disposed afterwards."""
    svc = install_channels(build_services(settings, clock=clock))  # as the worker process wires it
    try:
        yield svc
    finally:
        if svc.engine is not None:
            svc.engine.dispose()
        close = getattr(svc.chains.get("solana"), "close", None)
        if close is not None:
            close()  # the Solana adapter's loop thread and sockets


@contextmanager
def running_app(settings: Settings, clock: FrozenClock) -> Iterator[Any]:
    """A testing Flask app on these settings, with its engine disposed afterwards."""
    from bridge.extensions import db

    application = create_app(settings, clock=clock)
    application.testing = True
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()


@pytest.fixture
def services(settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    with running_services(settings, clock) as svc:
        yield svc


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Iterator[Any]:
    with running_app(settings, clock) as application:
        yield application


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def store(services: Services) -> NewStore:
    """A sandbox store accepting SOL, USDC and USDT."""
    with services.uow() as uow:
        return create_store(uow, services.vault, name="Test Shop", network="sandbox", email="owner@shop.test")


def tick(services: Services) -> None:
    """One run of the worker's jobs, as the scheduler would run them."""
    watch_chains(services)
    expire_invoices(services)


def deliver_due(services: Services) -> None:
    """Send every delivery due now, as a worker's dispatcher would, and wait for them to be recorded."""
    dispatcher = dispatcher_for(services)
    try:
        dispatcher.run_until_idle()
    finally:
        dispatcher.shutdown(wait=False)


def invoice_body(api_key: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"api_key": api_key, "platform": "woocommerce", "external_invoice_id": "order_1",
                            "amount_type": "fiat", "amount": Decimal("99.99"), "fiat_currency": "USD"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def post_json(client: Any, path: str, body: Any) -> Any:
    from bridge.jsonio import dumps

    return client.post(path, data=dumps(body), content_type="application/json")


@pytest.fixture
def fresh_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
