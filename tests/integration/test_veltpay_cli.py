# ruff: noqa: F811 - pytest fixtures are imported from veltpay_support and used as arguments
"""Issue 8, points 10 and 11 for VeltPay: keys and the webhook endpoint are managed with `voltbridge`, and what
it prints is what a merchant pastes into a plugin."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from bridge.cli import main
from gateway_core.adapters.models import ApiKey
from tests.conftest import deliver_due
from tests.integration.veltpay_support import (  # noqa: F401 - fixtures
    Key,
    VeltClient,
    cli,
    hooks,
    tron_account,
    vapp,
    velt_store,
    verify_webhook,
    vsettings,
    vsvc,
    webhook_secret,
)


def test_key_create_prints_the_key_id_and_the_secret_once(vapp, vsvc, velt_store, clock) -> None:
    shown = json.loads(cli(vapp, "key", "create", "Velt Shop", "--kind", "veltpay", "--json").output)
    assert set(shown) == {"store_id", "kind", "api_key", "key_id", "secret"}
    assert (shown["store_id"], shown["kind"]) == (velt_store, "veltpay") and shown["api_key"] == shown["secret"]
    with vsvc.uow() as uow:
        (row,) = uow.session.execute(select(ApiKey).where(ApiKey.kind == "veltpay")).scalars()
        assert row.public_id == shown["key_id"]
        assert row.digest == hashlib.sha256(shown["secret"].encode()).hexdigest()
        assert vsvc.vault.decrypt(row.encrypted) == shown["secret"] and shown["secret"] not in row.encrypted
    velt = VeltClient(vapp.test_client(), Key(shown["key_id"], shown["secret"]), clock)
    assert velt.get("/v1/orders").status_code == 200
    human = cli(vapp, "key", "create", str(velt_store), "--kind", "veltpay").output
    assert "key_id: vk_" in human and "secret (shown once):" in human
    assert shown["secret"] not in cli(vapp, "store", "list").output


def test_store_set_contract_veltpay_sets_shows_and_rotates_the_endpoint(vapp, vsvc, velt_store, hooks, clock):
    url = hooks.url("/velt")
    secret = webhook_secret(vapp, "Velt Shop", url)
    shown = cli(vapp, "store", "set", "Velt Shop", "--contract", "veltpay", "--json").output
    assert json.loads(shown) == {"store_id": velt_store, "contract": "veltpay", "webhook_url": url}
    assert secret not in shown
    assert f"veltpay webhook_url  {url}" in cli(vapp, "store", "set", "Velt Shop", "--contract", "veltpay").output
    assert webhook_secret(vapp, "Velt Shop", url) == secret  # setting the URL again keeps the secret
    rotated = json.loads(cli(vapp, "store", "set", "Velt Shop", "--contract", "veltpay", "--rotate-secret",
                             "--json").output)
    assert rotated["webhook_url"] == url and rotated["webhook_secret"] != secret
    key = json.loads(cli(vapp, "key", "create", "Velt Shop", "--kind", "veltpay", "--json").output)
    velt = VeltClient(vapp.test_client(), Key(key["key_id"], key["secret"]), clock)
    assert velt.post("/v1/orders", {"order_ref": "inv_1", "amount": "1"}).status_code == 201
    deliver_due(vsvc)
    (post,) = hooks.posts("/velt")
    assert verify_webhook(post.body, post.headers, rotated["webhook_secret"])
    assert not verify_webhook(post.body, post.headers, secret)


def test_store_set_refuses_endpoints_the_ssrf_guard_would_never_call(vapp, velt_store) -> None:
    result = vapp.test_cli_runner().invoke(main, ["store", "set", "Velt Shop", "--contract", "veltpay",
                                                  "--webhook-url", "http://10.0.0.7/hook"])
    assert result.exit_code != 0 and "not allowed" in result.output.lower()
