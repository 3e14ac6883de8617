"""The buyer's side: the hosted payment page, its public status (JSON and server-sent events), the asset
choice, the return to the store, and the sandbox's simulate control.

Public and unauthenticated: the unguessable invoice number is the only key, so every response here is
display-safe (no buyer data, no store settings) and the polling endpoints are rate limited per client.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request
from werkzeug.exceptions import Forbidden

from bridge.checkout_view import phase_detail, receipt, way_back
from bridge.checkout_wire import (
    PAYABLE,
    cancel_link,
    payment_amount,
    payment_request,
    qr_payload,
    return_url,
    status_document,
)
from bridge.contracts.voltxt_wire import parse_amount
from bridge.errors import Problem, register_format
from bridge.extensions import services
from bridge.i18n import COOKIE, language_name, pick
from bridge.jsonio import dumps, json_response, read_json_object
from bridge.qr import qr_svg
from bridge.ratelimit import StatusBucket, StreamSlots, retry_after, status_bucket
from gateway_core.adapters import wakeup
from gateway_core.adapters.i18n import available, catalogue, known, moment, number_symbols, percent, translate
from gateway_core.adapters.i18n import number as local_number
from gateway_core.adapters.notify.email_render import colours
from gateway_core.checkout_view import CheckoutState, Phase, checkout_state
from gateway_core.domain import money
from gateway_core.domain.errors import InvoiceNotFound, ValidationFailed
from gateway_core.domain.money import plain
from gateway_core.invoices.checkout import StoreContact, choose_payment_asset, simulated_amount, store_contact
from gateway_core.invoices.manage import public_invoice
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.branding import logo_by_digest
from gateway_core.views import InvoiceView

bp = Blueprint("checkout", __name__)

# Invoice numbers are 14 characters today; other contracts' ids (UUIDs) fit too. Anything else is a 404
# without a database query.
NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")
PAGE_PATH = re.compile(r"^/pay(?:-dynamic)?/[^/]*(?:/receipt)?/?$")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
CHAIN_LABEL = {"solana": "chain_solana", "tron": "chain_tron"}


@dataclass
class Limits:
    status: StatusBucket
    streams: StreamSlots


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    settings = services(app).settings
    app.extensions["voltbridge.checkout"] = Limits(
        status_bucket(settings.redis_url, settings.checkout_status_per_minute),
        StreamSlots(settings.checkout_max_streams),
    )
    # Stream timing: bounded streams (the page reconnects), heartbeats so proxies keep them open.
    app.config.setdefault("CHECKOUT_STREAM_SECONDS", 60.0)
    app.config.setdefault("CHECKOUT_HEARTBEAT_SECONDS", 15.0)
    app.config.setdefault("CHECKOUT_POLL_SECONDS", 1.0)
    app.config.setdefault("CHECKOUT_REDIRECT_SECONDS", 3)
    register_format(app, "/pay/", render_problem)
    register_format(app, "/pay-dynamic/", render_problem)


def _limits() -> Limits:
    return current_app.extensions["voltbridge.checkout"]  # type: ignore[no-any-return]


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    # same-origin, not no-referrer: nothing leaks to other sites, and browsers without Sec-Fetch-Site still send
    # the page's own Origin on its posts (under no-referrer they send "Origin: null", which _same_site refuses).
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def render_problem(problem: Problem, request_id: str) -> Response:
    """A friendly HTML page for the buyer's pages (and form posts); JSON for the page's own requests."""
    if PAGE_PATH.match(request.path) or request.mimetype == "application/x-www-form-urlencoded":
        lang = _language()
        template = "checkout/not_found.html" if problem.status == 404 else "checkout/error.html"
        html = render_template(template, lang=lang, t=lambda key, **kw: translate(lang, key, **kw),
                               request_id=request_id, problem=problem)
        return _secure(Response(html, status=problem.status, mimetype="text/html"))
    body: dict[str, Any] = {"error": {"code": problem.code, "message": problem.message}, "request_id": request_id}
    if problem.errors:
        body["errors"] = problem.errors
    return _secure(json_response(body, problem.status))


def _same_site() -> None:
    """Refuse a state change that another site's page had the buyer's browser send (403, nothing changed).

    Browsers say where a request comes from (Sec-Fetch-Site, else Origin); a request with neither is not a
    browser's (curl, scripts) and carries nothing ambient another site could borrow.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        if site.strip().lower() in ("same-origin", "none"):  # "none": typed or bookmarked by the buyer
            return
        raise Forbidden("Cross-site requests are refused")
    origin = request.headers.get("Origin")
    if origin is None:
        return
    own = {_origin(services().settings.public_url), f"{request.scheme}://{request.host}".lower()}
    if origin.strip().lower() not in own:
        raise Forbidden("Cross-site requests are refused")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _number(number: str) -> str:
    if not NUMBER.match(number):
        raise InvoiceNotFound("Invoice with given number not found")
    return number


def _load(number: str) -> tuple[InvoiceView, CheckoutState]:
    svc = services()
    with svc.uow() as uow:
        view = public_invoice(uow, _number(number), svc.clock)
    view = svc.current_view(view)
    return view, checkout_state(view, svc.clock.now())


def _load_with_contact(number: str) -> tuple[InvoiceView, CheckoutState, StoreContact]:
    svc = services()
    with svc.uow() as uow:
        view = public_invoice(uow, _number(number), svc.clock)
        contact = store_contact(uow, view.store_id)
    view = svc.current_view(view)
    return view, checkout_state(view, svc.clock.now()), contact


def _language() -> str:
    """?lang= (the switcher), else the remembered choice, else Accept-Language."""
    return pick(request.accept_languages, request.args.get("lang") or request.cookies.get(COOKIE))


def _remember(response: Response) -> Response:
    """A language picked with the switcher is kept for a year (the buyer's own choice, no tracking)."""
    chosen = known(request.args.get("lang"))
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return response


def _languages(lang: str) -> list[dict[str, Any]]:
    return [{"code": code, "name": language_name(code), "current": code == lang} for code in available()]


def _rate_limited() -> Response | None:
    wait = _limits().status.take(request.remote_addr or "-")
    if not wait:
        return None
    body = {"error": {"code": "RATE_LIMITED", "message": "Too many status requests; slow down"}}
    return _secure(json_response(body, 429, headers={"Retry-After": retry_after(wait)}))


def _page_path(view: InvoiceView) -> str:
    return f"/{'pay-dynamic' if view.kind == 'dynamic' else 'pay'}/{view.number}"


def _current_panel(state: CheckoutState, choosing: bool) -> str:
    if state.phase in PAYABLE:
        return "choose" if state.phase is Phase.CHOOSE or choosing else f"pay-{state.display_asset}"
    return state.phase.value


@bp.get("/pay/<number>")
@bp.get("/pay-dynamic/<number>")
def pay_page(number: str) -> Response:
    """The hosted payment page."""
    view, state, contact = _load_with_contact(number)
    svc = services()
    lang = _language()

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    def num(value: Decimal) -> str:
        return local_number(value, lang)

    options = []
    for option in state.options:
        # The amount a wallet takes stays plain (data-value, the copy button, QR, links); people read it localised.
        amount = option.units(payment_amount(option))
        url = payment_request(option, view, svc.settings)
        title = t("qr_title", amount=num(amount), asset=option.asset) if option.chain == "solana" else \
            t("qr_title_address", asset=option.asset)
        holds = int((option.locked_until - svc.clock.now()).total_seconds()) if option.locked_until else None
        options.append({"option": option, "amount": plain(amount), "amount_text": num(amount),
                        "due": num(option.units(option.amount_due)),
                        "url": url, "qr": qr_svg(qr_payload(option, view, svc.settings), title),
                        "chain_label": t(CHAIN_LABEL[option.chain]),
                        "rate": t("rate_line", asset=option.asset, rate=num(option.rate),
                                  currency=option.rate_currency),
                        "sources": t("rate_sources", sources=", ".join(option.rate_sources))
                        if option.rate_sources else "",
                        "holds": None if holds is None else countdown(holds, state.phase, t("quote_refreshing"))})
    base = f"/pay/{view.number}"
    data = {
        "status": status_document(state, svc.clock.now()),
        "urls": {"status": f"{base}/status.json", "events": f"{base}/events", "choose": f"{base}/asset",
                 "request": f"{base}/request/", "return": f"{base}/return", "simulate": f"{base}/simulate",
                 "receipt": f"{base}/receipt"},
        "redirect_seconds": current_app.config["CHECKOUT_REDIRECT_SECONDS"],
        "has_return": return_url(view, Phase.PAID) is not None,
        "strings": catalogue(lang),
        "numbers": number_symbols(lang),  # the script writes amounts that arrive later as Babel does
    }
    html = render_template(
        "checkout/pay.html", lang=lang, t=t, view=view, state=state, options=options, data=data,
        panel=_current_panel(state, request.args.get("change") == "1"), cancel_url=cancel_link(view),
        sandbox=view.network == "sandbox", fiat=local_number(view.fiat_amount, lang),
        countdown=countdown(data["status"]["seconds_left"], state.phase, t("expired_short")),
        detail=phase_detail(state, t, num), progress=percent(state.progress_percent, lang), contact=contact,
        way_back=way_back(view, contact), receipt=receipt(view, state, contact, t, lambda at: moment(at, lang), num),
        printable=False, languages=_languages(lang),
    )
    return _remember(_secure(Response(html, mimetype="text/html")))


@bp.get("/pay/<number>/receipt")
@bp.get("/pay-dynamic/<number>/receipt")
def receipt_page(number: str) -> Response:
    """The printable receipt of a paid invoice (404 until it is paid)."""
    view, state, contact = _load_with_contact(number)
    lang = _language()

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    lines = receipt(view, state, contact, t, lambda at: moment(at, lang), lambda n: local_number(n, lang))
    if lines is None:
        raise InvoiceNotFound("No receipt: the invoice is not paid")
    html = render_template("checkout/receipt.html", lang=lang, t=t, view=view, receipt=lines, printable=True,
                           contact=contact,
                           sandbox=view.network == "sandbox", fiat=local_number(view.fiat_amount, lang),
                           languages=_languages(lang))
    return _remember(_secure(Response(html, mimetype="text/html")))


def countdown(seconds: int, phase: Phase, expired: str) -> str:
    """'h:mm:ss' or 'mm:ss', as the page's script shows it, so the first paint matches the script's."""
    if seconds <= 0 or phase in (Phase.EXPIRED, Phase.UNDERPAID, Phase.CANCELLED):
        return expired
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@bp.get("/logo/<digest>")
def logo(digest: str) -> Response:
    """A store's logo, by the digest of its bytes: immutable, so cached for a year."""
    if not DIGEST.match(digest):
        raise InvoiceNotFound("No such logo")
    svc = services()
    with svc.uow() as uow:
        found = logo_by_digest(uow, digest)
    if found is None:
        raise InvoiceNotFound("No such logo")
    response = Response(found[1], mimetype=found[0])
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


@bp.get("/pay/<number>/brand.css")
def brand_css(number: str) -> Response:
    """The store's colour for its payment page (a stylesheet: the page's policy allows no inline style)."""
    _, _, contact = _load_with_contact(number)
    css = ""
    if contact.brand_color:
        tones = colours(contact.brand_color)
        css = f":root {{ --accent: {tones['link_color']}; --brand: {tones['color']}; }}\n"
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/pay/<number>/status.json")
def status_json(number: str) -> Response:
    """Display-safe status for the page's polling fallback (rate limited per client)."""
    limited = _rate_limited()
    if limited:
        return limited
    _, state = _load(number)
    return _secure(json_response(status_document(state, services().clock.now())))


@bp.get("/pay/<number>/request/<asset>")
def pay_request(number: str, asset: str) -> Response:
    """The current payment request (remainder once part is paid) for one asset, with its QR code."""
    limited = _rate_limited()
    if limited:
        return limited
    view, state = _load(number)
    option = state.option(asset.upper())
    if option is None:
        raise InvoiceNotFound("Asset not offered by this invoice")
    lang = _language()
    settings = services().settings
    amount = option.units(payment_amount(option))
    title = translate(lang, "qr_title" if option.chain == "solana" else "qr_title_address",
                      amount=local_number(amount, lang), asset=option.asset)
    return _secure(json_response({"asset": option.asset, "amount": plain(amount),
                                  "payment_url": payment_request(option, view, settings),
                                  "qr_svg": str(qr_svg(qr_payload(option, view, settings), title))}))


@bp.get("/pay/<number>/events")
def events(number: str) -> Response:
    """Server-sent status events: one on connect, one per change, heartbeats; ends after a bounded time."""
    limited = _rate_limited()  # reconnects count against the polling budget too
    if limited:
        return limited
    _load(number)  # unknown invoices are a 404 before any stream opens
    slots = _limits().streams
    if not slots.acquire():
        body = {"error": {"code": "TOO_MANY_STREAMS", "message": "Live updates are busy; poll status.json"}}
        return _secure(json_response(body, 503, headers={"Retry-After": "10"}))
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    response = Response(_stream(app, number), mimetype="text/event-stream",
                        headers={"X-Accel-Buffering": "no"})
    released = []

    def release() -> None:
        if not released:  # close() may be called more than once
            released.append(True)
            slots.release()

    response.call_on_close(release)
    return _secure(response)


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


@bp.post("/pay/<number>/asset")
def choose(number: str) -> Response:
    """Remember the buyer's asset (VirtexGate's Waiting); a form post returns to the page."""
    _same_site()
    form = request.mimetype == "application/x-www-form-urlencoded"
    body = dict(request.form) if form else read_json_object()
    asset = body.get("asset")
    if not isinstance(asset, str) or not asset:
        raise ValidationFailed("Request validation failed", errors={"asset": "is required"})
    svc = services()
    with svc.uow() as uow:
        view = choose_payment_asset(uow, _number(number), asset, svc.clock)
    if form:
        return _secure(redirect(_page_path(view), 303))  # type: ignore[arg-type]
    now = svc.clock.now()
    return _secure(json_response(status_document(checkout_state(view, now), now)))


@bp.get("/pay/<number>/return")
def back_to_store(number: str) -> Response:
    """To the store's success_url with its placeholders filled once paid; back to the page before that."""
    view, state = _load(number)
    target = return_url(view, state.phase) or _page_path(view)
    return _secure(redirect(target, 303))  # type: ignore[arg-type]


@bp.post("/pay/<number>/simulate")
def simulate(number: str) -> Response:
    """Sandbox only: add a transfer to the ledger (404 for invoices on any other network).

    Body: optional `asset` (default: the chosen one), and `amount` or `mode` (full, partial, overpay).
    """
    _same_site()
    body = read_json_object(required=False)
    errors: dict[str, str] = {}
    amount: Decimal | None = None
    if body.get("amount") not in (None, ""):
        amount = parse_amount(body.get("amount"), "amount", errors)
    asset = body.get("asset")
    if asset is not None and not isinstance(asset, str):
        errors["asset"] = "must be SOL, USDC or USDT"
    mode = body.get("mode")
    if mode is not None and not isinstance(mode, str):
        errors["mode"] = "must be full, partial or overpay"
    if errors:
        raise ValidationFailed("Request validation failed", errors=errors)
    svc = services()
    with svc.uow() as uow:
        if mode and amount is None:
            view = public_invoice(uow, _number(number), svc.clock)
            if view.network != "sandbox":
                raise InvoiceNotFound("Invoice with given number not found on the sandbox network")
            code = (asset or view.chosen_asset or view.quotes[0].asset).upper()
            amount = simulated_amount(checkout_state(view, svc.clock.now()), code, mode)
        transfer = simulate_payment(uow, number, svc.clock, asset, amount)
    sent = money.from_base_units(transfer.amount, money.asset(transfer.asset))
    return json_response({"success": True, "tx_id": transfer.tx_id, "asset": transfer.asset,
                          "amount_base_units": transfer.amount, "amount": plain(sent),
                          "to_address": transfer.to_address}, 201)
