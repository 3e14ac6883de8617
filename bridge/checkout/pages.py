"""The buyer's pages: the hosted payment page, its receipt, and the store's logo and colour."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Response, current_app, render_template, request

from bridge.checkout.common import (
    bp,
    language,
    languages,
    load_with_contact,
    remember,
    secure,
)
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
from bridge.extensions import services
from bridge.qr import qr_svg
from gateway_core.adapters.i18n import catalogue, moment, number_symbols, percent, translate
from gateway_core.adapters.i18n import number as local_number
from gateway_core.adapters.notify.email_render import colours
from gateway_core.checkout_view import CheckoutState, Phase
from gateway_core.domain.errors import InvoiceNotFound
from gateway_core.domain.money import plain
from gateway_core.stores.branding import logo_by_digest

DIGEST = re.compile(r"^[0-9a-f]{64}$")
CHAIN_LABEL = {"solana": "chain_solana", "tron": "chain_tron"}


def _current_panel(state: CheckoutState, choosing: bool) -> str:
    if state.phase in PAYABLE:
        return "choose" if state.phase is Phase.CHOOSE or choosing else f"pay-{state.display_asset}"
    return state.phase.value


@bp.get("/pay/<number>")
@bp.get("/pay-dynamic/<number>")
def pay_page(number: str) -> Response:
    """The hosted payment page."""
    view, state, contact = load_with_contact(number)
    svc = services()
    lang = language()

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
        printable=False, languages=languages(lang),
    )
    return remember(secure(Response(html, mimetype="text/html")))


@bp.get("/pay/<number>/receipt")
@bp.get("/pay-dynamic/<number>/receipt")
def receipt_page(number: str) -> Response:
    """The printable receipt of a paid invoice (404 until it is paid)."""
    view, state, contact = load_with_contact(number)
    lang = language()

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    lines = receipt(view, state, contact, t, lambda at: moment(at, lang), lambda n: local_number(n, lang))
    if lines is None:
        raise InvoiceNotFound("No receipt: the invoice is not paid")
    html = render_template("checkout/receipt.html", lang=lang, t=t, view=view, receipt=lines, printable=True,
                           contact=contact,
                           sandbox=view.network == "sandbox", fiat=local_number(view.fiat_amount, lang),
                           languages=languages(lang))
    return remember(secure(Response(html, mimetype="text/html")))


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
    _, _, contact = load_with_contact(number)
    css = ""
    if contact.brand_color:
        tones = colours(contact.brand_color)
        css = f":root {{ --accent: {tones['link_color']}; --brand: {tones['color']}; }}\n"
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
