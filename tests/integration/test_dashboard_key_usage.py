"""The keys page shows when each key was last used, written in batches (issue 22)."""

from __future__ import annotations

from sqlalchemy import select

from gateway_core.adapters.models import ApiKey
from gateway_core.keys.api_keys import list_keys
from gateway_core.keys.usage import KEY_USAGE
from gateway_core.stores.manage import create_store
from tests.conftest import invoice_body, post_json


def test_a_used_key_shows_when_after_the_batched_write(app, client, services, clock) -> None:
    with services.uow() as uow:
        made = create_store(uow, services.vault, name="Shop", network="sandbox")
    KEY_USAGE.flush(services.uow, clock)  # start from nothing pending
    assert post_json(client, "/api/plugin/invoice/create", invoice_body(made.api_key)).status_code in (200, 201)
    with services.uow() as uow:
        assert uow.session.execute(select(ApiKey.last_used_at)).scalar_one() is None  # no write on the request
    clock.advance(minutes=3)
    assert KEY_USAGE.flush(services.uow, clock) == 1
    with services.uow() as uow:
        (info,) = list_keys(uow, made.id, clock)
    assert info.last_used_at == clock.now()
