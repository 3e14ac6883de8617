"""Concurrent identical requests create one invoice; every client gets that invoice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from gateway_core.adapters.models import Invoice
from tests.conftest import invoice_body, post_json


def test_concurrent_retries_of_one_order_create_one_invoice(app, store, services) -> None:
    def attempt(_: int) -> tuple[int, str]:
        response = post_json(app.test_client(), "/api/plugin/invoice/create",
                             invoice_body(store.api_key, external_invoice_id="race-1"))
        return response.status_code, response.get_json().get("invoice_number", "")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(16)))
    statuses = sorted(code for code, _ in results)
    assert statuses.count(201) == 1 and statuses.count(200) == 15, results
    assert len({number for _, number in results}) == 1
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one() == 1
