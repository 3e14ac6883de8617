"""A store's notifications: webhook URL and events, contract webhooks, signing secrets, test sends, the delivery
log with redelivery, each endpoint's health, and email settings. Everything goes through the core use cases the
VOLTXT API and the CLI use (the challenge on a new URL, the outbox for tests and redeliveries).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import redirect, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import store_action, store_for
from bridge.dashboard.blueprint import bp, page, t
from bridge.dashboard.charts import latency_bars
from bridge.dashboard.messages import said
from bridge.extensions import services
from gateway_core.contracts.registry import formats
from gateway_core.domain.errors import GatewayError, ValidationFailed
from gateway_core.notifications.contract_webhooks import contract_webhook, set_contract_webhook
from gateway_core.notifications.dashboard_log import (
    STATUSES,
    LogFilter,
    delivery_log,
    recent_attempts,
    rotate_endpoint_secret,
    store_delivery,
)
from gateway_core.notifications.delivery_log import endpoint_stats
from gateway_core.notifications.notify_settings import settings_view, update_settings
from gateway_core.notifications.outbox import enqueue_test, redeliver

Page = tuple[str, int] | BaseResponse
# What a redirect after a POST may announce (?done=…): locale keys, so nothing from the URL reaches the page.
NOTICES = ("saved", "test_queued", "redelivery_queued", "secret_rotated")


def _day(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationFailed(t("dash_invalid_filter"), errors={name: t("dash_must_be_date")}) from None


def _whole(value: str | None, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ValidationFailed(t("dash_invalid_filter"), errors={name: t("dash_a_whole_number")})
    return int(value)


def _log_filter() -> LogFilter:
    args = request.args
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ValidationFailed(t("dash_invalid_filter"), errors={"status": t("dash_must_be_one_of",
                                                                              values=", ".join(STATUSES))})
    until = _day(args.get("until"), "until")
    return LogFilter(status=status, event_type=(args.get("event") or None), endpoint_id=_whole(args.get("endpoint"),
                     "endpoint"), since=_day(args.get("since"), "since"),
                     until=until + timedelta(days=1) if until else None, before_id=_whole(args.get("before"), "before"))


def _page(store_id: int, status: int = 200, wanted: LogFilter | None = None, **extra: Any) -> Page:
    svc = services()
    wanted = wanted or LogFilter()
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id)
        store = found.store
        owner = found.may("keys")
        stats = endpoint_stats(uow, store)
        charts = recent_attempts(uow, store_id)
        hooks = []
        for contract in sorted(formats()):
            hook = contract_webhook(uow.session, store_id, contract)
            hooks.append({"contract": contract, "url": hook.url if hook else None,
                          "secret": svc.vault.decrypt(hook.secret_encrypted) if hook and owner else None})
        done = request.args.get("done")
        test = request.args.get("test", "")  # the test delivery whose outcome the page shows
        return page("notifications.html", status, store=store, role=found.role, may=found.may,
                    test=store_delivery(uow, store_id, int(test)) if test.isdigit() and len(test) <= 18 else None,
                    settings=settings_view(uow, store), endpoints=stats, hooks=hooks,
                    charts={e["endpoint_id"]: latency_bars(charts.get(e["endpoint_id"], []), e["url"]) for e in stats},
                    log=delivery_log(uow, store_id, wanted), wanted=wanted, statuses=STATUSES,
                    args=request.args, notice_key=done if done in NOTICES else None, **extra)


def _back(store_id: int, done: str, **shown: int) -> BaseResponse:
    return redirect(url_for("dashboard.notifications_page", store_id=store_id, done=done, **shown))


def _failed(store_id: int, exc: GatewayError) -> Page:
    problem_status = 404 if exc.code.endswith("NOT_FOUND") else 422
    error, errors = said(exc)
    return _page(store_id, problem_status, error=error, errors=errors)


@bp.route("/stores/<int:store_id>/notifications")
@login_required
def notifications_page(store_id: int) -> Page:
    try:
        wanted = _log_filter()
    except ValidationFailed as exc:  # the page unfiltered, with the filter's error
        error, errors = said(exc)
        return _page(store_id, 400, error=error, errors=errors)
    return _page(store_id, wanted=wanted)


@bp.route("/stores/<int:store_id>/notifications/settings", methods=["POST"])
@store_action("edit")
def notifications_save(store_id: int) -> Page:
    svc = services()
    form = request.form
    events = form.getlist("webhook_events")
    fields = {"webhook_url": form.get("webhook_url", "").strip(),
              "webhook_events": "all" if form.get("all_events") or not events else events,
              "email_notifications": bool(form.get("email_notifications")),
              "notification_email": form.get("notification_email", "").strip()}
    try:
        update_settings(svc.uow, svc.webhooks, svc.clock.now(), lambda uow: store_for(uow, store_id, "edit").store,
                        fields)
    except GatewayError as exc:
        return _failed(store_id, exc)
    return _back(store_id, "saved")


@bp.route("/stores/<int:store_id>/notifications/test", methods=["POST"])
@store_action("edit")
def notifications_test(store_id: int) -> Page:
    """A test delivery to the store webhook, the email recipient or a contract's webhook, through the outbox; the
    page it leads to shows that delivery's outcome once the worker has sent it."""
    svc = services()
    channel = request.form.get("channel", "")
    if channel not in ("store", "email", *formats()):
        channel = "store"
    with svc.uow() as uow:
        store = store_for(uow, store_id, "edit").store
        if channel == "store":
            ready = bool(store.webhook_url)
        elif channel == "email":
            ready = bool(store.email_notifications and store.notification_email)
        else:
            ready = contract_webhook(uow.session, store_id, channel) is not None
        test = enqueue_test(uow.session, store, channel, svc.clock.now()) if ready else None
    if test is None:
        return _page(store_id, 422, error=t("dash_test_not_ready"))
    return _back(store_id, "test_queued", test=test.id)


@bp.route("/stores/<int:store_id>/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@store_action("edit")
def delivery_redeliver(store_id: int, delivery_id: int) -> Page:
    svc = services()
    try:
        with svc.uow() as uow:
            redeliver(uow.session, store_for(uow, store_id, "edit").store, delivery_id, svc.clock.now())
    except GatewayError as exc:
        if exc.code in ("STORE_NOT_FOUND", "FORBIDDEN"):
            raise
        return _failed(store_id, exc)
    return _back(store_id, "redelivery_queued")


@bp.route("/stores/<int:store_id>/endpoints/<int:endpoint_id>/rotate", methods=["POST"])
@store_action("keys")
def endpoint_rotate(store_id: int, endpoint_id: int) -> Page:
    svc = services()
    with svc.uow() as uow:
        store_for(uow, store_id, "keys")
        rotate_endpoint_secret(uow, store_id, endpoint_id)
    return _back(store_id, "secret_rotated")


@bp.route("/stores/<int:store_id>/contract-webhooks", methods=["POST"])
@store_action("edit")
def contract_webhook_set(store_id: int) -> Page:
    """Set a contract's webhook URL (managers too); a new secret (rotate=1) is for owners only (asked below)."""
    svc = services()
    rotate = bool(request.form.get("rotate"))
    try:
        with svc.uow() as uow:
            store_for(uow, store_id, "keys" if rotate else "edit")
            contract = request.form.get("contract", "")
            url = request.form.get("url", "").strip()
            if rotate and not url:
                hook = contract_webhook(uow.session, store_id, contract)
                url = hook.url if hook else ""
            set_contract_webhook(uow, svc.vault, svc.clock, store_id, contract, url,
                                 svc.settings.outbound_allowlist, new_secret=rotate)
    except GatewayError as exc:
        if exc.code in ("STORE_NOT_FOUND", "FORBIDDEN"):
            raise
        return _failed(store_id, exc)
    return _back(store_id, "secret_rotated" if rotate else "saved")
