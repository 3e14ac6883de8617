"""The keys page shows when each key was last used, written in batches (issue 22)."""

from __future__ import annotations

from sqlalchemy import select

from gateway_core.adapters.models import ApiKey
from gateway_core.keys.api_keys import issue_key, list_keys
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


def test_every_contract_s_authenticated_requests_mark_their_key(app, client, services, clock) -> None:
    """Reads as well as creates, each contract's own way of sending its key: every key is marked used."""
    from tests.integration.veltpay_support import Key, VeltClient

    with services.uow() as uow:
        made = create_store(uow, services.vault, name="Shop", network="sandbox")
        keys = {kind: issue_key(uow, services.vault, made.id, kind) for kind in ("virtexgate", "veltpay", "venta")}
    KEY_USAGE.flush(services.uow, clock)
    clock.advance(minutes=3)
    voltxt = {"X-Api-Key": made.api_key}
    assert client.get("/api/plugin/invoice/NOPE0000/status", headers=voltxt).status_code == 404
    assert KEY_USAGE.flush(services.uow, clock) == 1  # a VOLTXT read (not the create path, which caches keys)
    first = clock.now()
    assert client.get("/api/invoices/00000000-0000-0000-0000-000000000000",
                      headers={"X-Api-Key": keys["virtexgate"].api_key}).status_code == 404
    assert client.get("/v1/checkout/cs_test_nope", headers={"x-api-key": keys["venta"].api_key}).status_code == 404
    velt = VeltClient(client, Key(str(keys["veltpay"].key_id), keys["veltpay"].api_key), clock)
    assert velt.get("/v1/orders").status_code == 200
    assert KEY_USAGE.flush(services.uow, clock) == 3
    with services.uow() as uow:
        used = {info.kind: info.last_used_at for info in list_keys(uow, made.id, clock)}
    assert used == {"voltxt": first, **dict.fromkeys(("virtexgate", "veltpay", "venta"), clock.now())}
