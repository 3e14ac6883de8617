"""What the buyer's pages and endpoints share: the blueprint and its limits, security headers, the invoice
lookup, the language, the error page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.exceptions import Forbidden

from bridge.errors import Problem, register_format
from bridge.extensions import services
from bridge.i18n import COOKIE, language_name, pick
from bridge.jsonio import json_response
from bridge.ratelimit import StatusBucket, StreamSlots, retry_after, status_bucket
from gateway_core.adapters.i18n import available, known, translate
from gateway_core.checkout_view import CheckoutState, checkout_state
from gateway_core.domain.errors import InvoiceNotFound
from gateway_core.invoices.checkout import StoreContact, store_contact
from gateway_core.invoices.manage import public_invoice
from gateway_core.views import InvoiceView

bp = Blueprint("checkout", __name__)

# Invoice numbers are 14 characters today; other contracts' ids (UUIDs) fit too. Anything else is a 404
# without a database query.
NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PAGE_PATH = re.compile(r"^/pay(?:-dynamic)?/[^/]*(?:/receipt)?/?$")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'self'")


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


def limits() -> Limits:
    """The status bucket and stream slots of this app."""
    return current_app.extensions["voltbridge.checkout"]  # type: ignore[no-any-return]


def secure(response: Response) -> Response:
    """The buyer-facing headers: this page's content policy, no caching, no referrer to other sites."""
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
        lang = language()
        template = "checkout/not_found.html" if problem.status == 404 else "checkout/error.html"
        html = render_template(template, lang=lang, t=lambda key, **kw: translate(lang, key, **kw),
                               request_id=request_id, problem=problem)
        return secure(Response(html, status=problem.status, mimetype="text/html"))
    body: dict[str, Any] = {"error": {"code": problem.code, "message": problem.message}, "request_id": request_id}
    if problem.errors:
        body["errors"] = problem.errors
    return secure(json_response(body, problem.status))


def same_site() -> None:
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


def checked_number(number: str) -> str:
    """`number` when it can be an invoice number, else a 404 without a database query."""
    if not NUMBER.match(number):
        raise InvoiceNotFound("Invoice with given number not found")
    return number


def load(number: str) -> tuple[InvoiceView, CheckoutState]:
    """The invoice (public view, as of now) and its checkout state."""
    svc = services()
    with svc.uow() as uow:
        view = public_invoice(uow, checked_number(number), svc.clock)
    view = svc.current_view(view)
    return view, checkout_state(view, svc.clock.now())


def load_with_contact(number: str) -> tuple[InvoiceView, CheckoutState, StoreContact]:
    """As `load`, with the store's contact details for the page."""
    svc = services()
    with svc.uow() as uow:
        view = public_invoice(uow, checked_number(number), svc.clock)
        contact = store_contact(uow, view.store_id)
    view = svc.current_view(view)
    return view, checkout_state(view, svc.clock.now()), contact


def language() -> str:
    """?lang= (the switcher), else the remembered choice, else Accept-Language."""
    return pick(request.accept_languages, request.args.get("lang") or request.cookies.get(COOKIE))


def remember(response: Response) -> Response:
    """A language picked with the switcher is kept for a year (the buyer's own choice, no tracking)."""
    chosen = known(request.args.get("lang"))
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return response


def languages(lang: str) -> list[dict[str, Any]]:
    """The language switcher's entries, the current one marked."""
    return [{"code": code, "name": language_name(code), "current": code == lang} for code in available()]


def rate_limited() -> Response | None:
    """A 429 when this client spent its status budget, else None."""
    wait = limits().status.take(request.remote_addr or "-")
    if not wait:
        return None
    body = {"error": {"code": "RATE_LIMITED", "message": "Too many status requests; slow down"}}
    return secure(json_response(body, 429, headers={"Retry-After": retry_after(wait)}))


def page_path(view: InvoiceView) -> str:
    """The payment page of the invoice (dynamic invoices have their own path)."""
    return f"/{'pay-dynamic' if view.kind == 'dynamic' else 'pay'}/{view.number}"
