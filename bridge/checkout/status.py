"""The payment page's live status: polled JSON, the payment request of one asset, server-sent events."""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, current_app

from bridge.checkout.common import (
    bp,
    language,
    limits,
    load,
    rate_limited,
    secure,
)
from bridge.checkout_wire import (
    payment_amount,
    payment_request,
    qr_payload,
    status_document,
)
from bridge.extensions import services
from bridge.jsonio import dumps, json_response
from bridge.qr import qr_svg
from gateway_core.adapters import wakeup
from gateway_core.adapters.i18n import number as local_number
from gateway_core.adapters.i18n import translate
from gateway_core.checkout_view import Phase, checkout_state
from gateway_core.domain.errors import InvoiceNotFound
from gateway_core.domain.money import plain
from gateway_core.invoices.manage import public_invoice


@bp.get("/pay/<number>/status.json")
def status_json(number: str) -> Response:
    """Display-safe status for the page's polling fallback (rate limited per client)."""
    limited = rate_limited()
    if limited:
        return limited
    _, state = load(number)
    return secure(json_response(status_document(state, services().clock.now())))


@bp.get("/pay/<number>/request/<asset>")
def pay_request(number: str, asset: str) -> Response:
    """The current payment request (remainder once part is paid) for one asset, with its QR code."""
    limited = rate_limited()
    if limited:
        return limited
    view, state = load(number)
    option = state.option(asset.upper())
    if option is None:
        raise InvoiceNotFound("Asset not offered by this invoice")
    lang = language()
    settings = services().settings
    amount = option.units(payment_amount(option))
    title = translate(lang, "qr_title" if option.chain == "solana" else "qr_title_address",
                      amount=local_number(amount, lang), asset=option.asset)
    return secure(json_response({"asset": option.asset, "amount": plain(amount),
                                  "payment_url": payment_request(option, view, settings),
                                  "qr_svg": str(qr_svg(qr_payload(option, view, settings), title))}))


@bp.get("/pay/<number>/events")
def events(number: str) -> Response:
    """Server-sent status events: one on connect, one per change, heartbeats; ends after a bounded time."""
    limited = rate_limited()  # reconnects count against the polling budget too
    if limited:
        return limited
    load(number)  # unknown invoices are a 404 before any stream opens
    slots = limits().streams
    if not slots.acquire():
        body = {"error": {"code": "TOO_MANY_STREAMS", "message": "Live updates are busy; poll status.json"}}
        return secure(json_response(body, 503, headers={"Retry-After": "10"}))
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    response = Response(_stream(app, number), mimetype="text/event-stream",
                        headers={"X-Accel-Buffering": "no"})
    released = []

    def release() -> None:
        if not released:  # close() may be called more than once
            released.append(True)
            slots.release()

    response.call_on_close(release)
    return secure(response)


def _stream(app: Flask, number: str) -> Iterator[str]:
    svc = services(app)
    config = app.config
    started = last_write = time.monotonic()
    last = ""
    yield "retry: 3000\n\n"
    wakeup.listen(svc.settings.database_url)
    while True:
        seen = wakeup.changes.generation()  # noted before the read: a change committed during it wakes us
        with app.app_context():  # the request context is gone while a response streams
            with svc.uow() as uow:
                view = public_invoice(uow, number, svc.clock)
            view = svc.current_view(view)
        now = svc.clock.now()
        document = status_document(checkout_state(view, now), now)
        fingerprint = dumps({k: v for k, v in document.items() if k not in ("server_time", "seconds_left")})
        if fingerprint != last:
            last = fingerprint
            last_write = time.monotonic()
            yield f"event: status\ndata: {dumps(document)}\n\n"
            if document["phase"] in (Phase.PAID, Phase.CANCELLED):
                return  # nothing more will change for the buyer
        elif time.monotonic() - last_write >= config["CHECKOUT_HEARTBEAT_SECONDS"]:
            last_write = time.monotonic()
            yield ": heartbeat\n\n"
        if time.monotonic() - started >= config["CHECKOUT_STREAM_SECONDS"]:
            return
        wakeup.changes.wait(seen, config["CHECKOUT_POLL_SECONDS"])  # a committed status change wakes us
