"""A store's invoices: the list (filters, prefix search, keyset pages) and its CSV / JSON export. Any member.

Both read the core's one listing (gateway_core/invoices/listing.py); the export streams rows as they are read.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, request, stream_with_context
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import store_for
from bridge.dashboard.blueprint import bp, language, page
from bridge.dashboard.messages import said
from bridge.extensions import services
from gateway_core.adapters.i18n import translate
from gateway_core.domain import money
from gateway_core.domain.errors import ValidationFailed
from gateway_core.domain.lifecycle import Status
from gateway_core.invoices.export import export_chunks
from gateway_core.invoices.listing import InvoicePage, iter_invoices, list_invoices, parse_filter
from gateway_core.keys.api_keys import KEY_KINDS
from gateway_core.stores.manage import NETWORKS

Page = tuple[str, int] | BaseResponse
FILTER_KEYS = ("q", "status", "from", "to", "asset", "network", "contract", "platform")
MIMETYPES = {"csv": "text/csv", "json": "application/json"}
CHOICES = {"status": tuple(s.value for s in Status), "asset": money.ASSET_ORDER, "network": NETWORKS,
           "contract": KEY_KINDS}


def _filter_args() -> dict[str, str]:
    return {key: request.args.get(key, "").strip() for key in FILTER_KEYS}


@bp.route("/stores/<int:store_id>/invoices")
@login_required
def invoice_list(store_id: int) -> Page:
    svc = services()
    args = _filter_args()
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id)
        status, error, errors = 200, None, {}
        listed = InvoicePage([], None, None)
        try:
            flt = parse_filter(dict(args))
            listed = list_invoices(uow, store_id, flt, after=request.args.get("after") or None,
                                   before=request.args.get("before") or None)
        except ValidationFailed as exc:
            status, (error, errors) = 400, said(exc)
        kept = {key: value for key, value in args.items() if value}  # the filter, carried by every link
        lang = language()  # each status's label once, not once a row
        labels = {value: translate(lang, f"dash_status_{value}") for value in CHOICES["status"]}
        return page("invoices.html", status, store=found.store, args=args, kept=kept, listed=listed,
                    filtered=bool(kept), choices=CHOICES, labels=labels, error=error, errors=errors)


@bp.route("/stores/<int:store_id>/invoices/export.<any(csv, json):fmt>")
@login_required
def invoice_export(store_id: int, fmt: str) -> Response:
    svc = services()
    with svc.uow(read_only=True) as uow:
        store_for(uow, store_id)
    flt = parse_filter(dict(_filter_args()))  # a bad filter: 422 before anything streams

    def rows() -> Iterator[str]:
        with svc.uow(read_only=True) as uow:
            yield from export_chunks(iter_invoices(uow, store_id, flt), fmt)

    stamp = svc.clock.now().strftime("%Y%m%d-%H%M%S")
    response = Response(stream_with_context(rows()), mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="invoices-store{store_id}-{stamp}.{fmt}"'
    return response
