"""The dashboard's notifications page (issue 22 point 5): settings through the core's challenge, test sends and
redeliveries through the outbox, the delivery log's filters, endpoint health with its chart, secrets per role."""

# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from gateway_core.adapters.models import ContractWebhook, Email, Store, WebhookEndpoint
from tests.integration.dashboard_support import add_member, make_store, make_user, post_form, sign_in
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    deliveries,
    dispatcher,
    napp,
    nclient,
    nsettings,
    nsvc,
    receiver,
)

WHSEC = re.compile(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>")


def _shop(nsvc) -> int:
    owner = make_user(nsvc, "owner@shop.test")
    store_id = make_store(nsvc, owner, "Shop")
    make_user(nsvc, "manager@shop.test")
    make_user(nsvc, "viewer@shop.test")
    add_member(nsvc, store_id, "manager@shop.test", "manager")
    add_member(nsvc, store_id, "viewer@shop.test", "viewer")
    return store_id


def _post(client: Any, store_id: int, path: str, data: dict[str, Any]) -> Any:
    return post_form(client, f"/dashboard/stores/{store_id}{path}", data,
                     token_from=f"/dashboard/stores/{store_id}/notifications")


def _store(nsvc, store_id: int) -> Store:
    with nsvc.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None
        uow.session.expunge(store)
        return store


def test_owner_sets_the_webhook_through_the_challenge_tests_it_and_redelivers(nsvc, nclient, receiver,
                                                                               dispatcher) -> None:
    store_id = _shop(nsvc)
    sign_in(nclient, "owner@shop.test")
    url = receiver.url("/hook")
    saved = _post(nclient, store_id, "/notifications/settings",
                  {"webhook_url": url, "webhook_events": ["payment_completed", "invoice_expired"]})
    assert saved.status_code == 302 and "done=saved" in saved.headers["Location"]
    assert any(r.method == "GET" and "venmob_challenge=" in r.path for r in receiver.received)
    store = _store(nsvc, store_id)
    assert store.webhook_url == url and store.webhook_events == {"events": ["payment_completed", "invoice_expired"]}

    assert _post(nclient, store_id, "/notifications/test", {"channel": "store"}).status_code == 302
    dispatcher.run_until_idle()
    (sent,) = receiver.posts("/hook")
    assert sent.json()["event_type"] == "webhook_test"

    page = nclient.get(f"/dashboard/stores/{store_id}/notifications").get_data(as_text=True)
    assert url in page and "webhook_test" in page and "100.00 %" in page
    assert '<svg class="dash-chart"' in page and 'class="chart-ok"' in page  # the endpoint's chart, no style=
    secret = WHSEC.search(page)
    assert secret is not None

    (original,) = deliveries(nsvc)
    again = _post(nclient, store_id, f"/deliveries/{original.id}/redeliver", {})
    assert again.status_code == 302
    dispatcher.run_until_idle()
    first, second = receiver.posts("/hook")
    assert first.header("webhook-id") == second.header("webhook-id")
    copy = deliveries(nsvc)[-1]
    assert copy.is_redelivery and copy.redelivery_of == original.id

    with nsvc.uow() as uow:
        endpoint_id = uow.session.execute(select(WebhookEndpoint.id)).scalar_one()
    assert _post(nclient, store_id, f"/endpoints/{endpoint_id}/rotate", {}).status_code == 302
    rotated = WHSEC.search(nclient.get(f"/dashboard/stores/{store_id}/notifications").get_data(as_text=True))
    assert rotated is not None and rotated.group(1) != secret.group(1)


def test_a_url_failing_the_challenge_is_not_saved(nsvc, nclient, receiver) -> None:
    store_id = _shop(nsvc)
    sign_in(nclient, "manager@shop.test")
    receiver.on("/bad", status=500)
    refused = _post(nclient, store_id, "/notifications/settings", {"webhook_url": receiver.url("/bad")})
    assert refused.status_code == 422 and "verification failed" in refused.get_data(as_text=True)
    assert _store(nsvc, store_id).webhook_url is None
    not_ready = _post(nclient, store_id, "/notifications/test", {"channel": "store"})
    assert not_ready.status_code == 422


def test_email_settings_and_a_test_email(nsvc, nclient, dispatcher) -> None:
    store_id = _shop(nsvc)
    sign_in(nclient, "owner@shop.test")
    missing = _post(nclient, store_id, "/notifications/settings", {"email_notifications": "1"})
    assert missing.status_code == 422
    ok = _post(nclient, store_id, "/notifications/settings",
               {"email_notifications": "1", "notification_email": "alerts@shop.test"})
    assert ok.status_code == 302
    assert _post(nclient, store_id, "/notifications/test", {"channel": "email"}).status_code == 302
    dispatcher.run_until_idle()
    with nsvc.uow() as uow:
        (email,) = uow.session.execute(select(Email)).scalars().all()
    assert email.recipient == "alerts@shop.test" and "Test email" in email.subject


def test_secrets_are_for_owners_and_viewers_only_read(nsvc, napp, nclient, receiver) -> None:
    store_id = _shop(nsvc)
    sign_in(nclient, "owner@shop.test")
    _post(nclient, store_id, "/notifications/settings", {"webhook_url": receiver.url("/hook")})
    assert _post(nclient, store_id, "/contract-webhooks",
                 {"contract": "veltpay", "url": receiver.url("/velt")}).status_code == 302
    owner_page = nclient.get(f"/dashboard/stores/{store_id}/notifications").get_data(as_text=True)
    with nsvc.uow() as uow:
        hook = uow.session.execute(select(ContractWebhook)).scalar_one()
        contract_secret = nsvc.vault.decrypt(hook.secret_encrypted)
    assert contract_secret in owner_page and WHSEC.search(owner_page)

    nclient = napp.test_client()
    sign_in(nclient, "manager@shop.test")
    manager_page = nclient.get(f"/dashboard/stores/{store_id}/notifications").get_data(as_text=True)
    assert contract_secret not in manager_page and not WHSEC.search(manager_page) and "Redeliver" not in manager_page
    assert _post(nclient, store_id, "/contract-webhooks", {"contract": "veltpay", "rotate": "1"}).status_code == 403
    with nsvc.uow() as uow:
        assert nsvc.vault.decrypt(uow.session.execute(select(ContractWebhook)).scalar_one()
                                  .secret_encrypted) == contract_secret

    nclient = napp.test_client()
    sign_in(nclient, "viewer@shop.test")
    viewer = nclient.get(f"/dashboard/stores/{store_id}/notifications")
    html = viewer.get_data(as_text=True)
    assert viewer.status_code == 200 and receiver.url("/hook") in html
    assert "<form method=\"post\"" not in html.split("</header>", 1)[1] and not WHSEC.search(html)


def test_the_delivery_log_filters_by_status_event_endpoint_and_date(nsvc, nclient, receiver, dispatcher,
                                                                     clock) -> None:
    store_id = _shop(nsvc)
    sign_in(nclient, "owner@shop.test")
    _post(nclient, store_id, "/notifications/settings", {"webhook_url": receiver.url("/hook")})
    _post(nclient, store_id, "/notifications/test", {"channel": "store"})
    dispatcher.run_until_idle()
    clock.advance(days=3)
    receiver.on("/hook", status=500)
    _post(nclient, store_id, "/notifications/test", {"channel": "store"})
    dispatcher.run_until_idle()
    old, new = deliveries(nsvc)
    base = f"/dashboard/stores/{store_id}/notifications"

    def ids(query: str) -> set[int]:
        answer = nclient.get(f"{base}?{query}")
        assert answer.status_code == 200, query
        return {int(n) for n in re.findall(r'/deliveries/(\d+)/redeliver', answer.get_data(as_text=True))}

    assert ids("") == {old.id, new.id}
    assert ids("status=delivered") == {old.id}
    assert ids("event=webhook_test") == {old.id, new.id} and ids("event=payment_completed") == set()
    assert ids(f"endpoint={old.endpoint_id}") == {old.id, new.id} and ids("endpoint=999999") == set()
    day = new.created_at.strftime("%Y-%m-%d")
    assert ids(f"since={day}") == {new.id} and ids(f"until={old.created_at:%Y-%m-%d}") == {old.id}
    assert ids(f"before={new.id}") == {old.id}
    assert nclient.get(f"{base}?since=yesterday").status_code == 400
    assert nclient.get(f"{base}?status=lost").status_code == 400


def test_every_endpoint_on_the_page_has_a_test_button_whose_outcome_the_page_shows(database_url, tmp_path,
                                                                                    clock, receiver) -> None:
    """Store webhook, each contract webhook and email: a button each, a delivery through the outbox to a real
    receiver or SMTP server, and the page it leads to shows how that delivery went."""
    from gateway_core.bootstrap import dispatcher_for
    from gateway_core.contracts.virtexgate_payloads import signature
    from tests.conftest import running_app, running_services
    from tests.fakes.smtp import SmtpServer
    from tests.integration.notify_support import notify_settings_for

    with SmtpServer() as smtp:
        settings = notify_settings_for(database_url, tmp_path, smtp_url=smtp.url)
        with running_services(settings, clock) as svc, running_app(settings, clock) as app:
            worker = dispatcher_for(svc)
            try:
                client = app.test_client()
                store_id = _shop(svc)
                sign_in(client, "owner@shop.test")
                assert _post(client, store_id, "/notifications/settings", {
                    "webhook_url": receiver.url("/store"), "email_notifications": "1",
                    "notification_email": "alerts@shop.test"}).status_code == 302
                for contract in ("virtexgate", "veltpay"):
                    assert _post(client, store_id, "/contract-webhooks",
                                 {"contract": contract, "url": receiver.url(f"/{contract}")}).status_code == 302
                html = client.get(f"/dashboard/stores/{store_id}/notifications").get_data(as_text=True)
                buttons = re.findall(r'name="channel" value="([a-z]+)"', html)
                assert sorted(buttons) == ["email", "store", "veltpay", "virtexgate"]

                receiver.on("/veltpay", status=503, body=b"down for maintenance")
                shown = {}
                for channel in buttons:
                    sent = _post(client, store_id, "/notifications/test", {"channel": channel})
                    assert sent.status_code == 302 and "test=" in sent.headers["Location"]
                    pending = client.get(sent.headers["Location"]).get_data(as_text=True)
                    assert re.search(r'id="test-outcome".*?pending', pending, re.S), channel
                    shown[channel] = sent.headers["Location"]
                worker.run_until_idle()
                outcome = {channel: re.search(r'id="test-outcome">(.*?)</p>', client.get(url).get_data(as_text=True),
                                              re.S).group(1) for channel, url in shown.items()}
                with svc.uow() as uow:
                    secret = svc.vault.decrypt(uow.session.execute(select(ContractWebhook.secret_encrypted).where(
                        ContractWebhook.contract == "virtexgate")).scalar_one())
            finally:
                worker.shutdown(wait=True)
    assert "delivered (200)" in outcome["store"] and "delivered (200)" in outcome["virtexgate"]
    assert "delivered" in outcome["email"] and "alerts@shop.test" in outcome["email"]
    assert "pending (503)" in outcome["veltpay"] and "down for maintenance" in outcome["veltpay"]
    (store_hook,) = receiver.posts("/store")
    assert store_hook.json()["event_type"] == "webhook_test"
    (vg,) = receiver.posts("/virtexgate")
    assert vg.json()["test"] is True and vg.header("X-Signature") == signature(secret, vg.body)  # signed as VG signs
    assert len(receiver.posts("/veltpay")) == 1
    (mail,) = smtp.parsed()
    assert mail["To"] == "alerts@shop.test" and "Test email" in mail["Subject"]
