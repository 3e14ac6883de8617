"""A store's overview (issue 22 point 6): the core's one read use case, drawn as tables and server-side SVG."""

from __future__ import annotations

from flask_login import login_required

from bridge.dashboard.access import store_for
from bridge.dashboard.blueprint import bp, page
from bridge.dashboard.charts import count_bars
from bridge.extensions import services
from gateway_core.stores.overview import Thresholds, store_overview


@bp.route("/stores/<int:store_id>/overview")
@login_required
def overview_page(store_id: int) -> tuple[str, int]:
    svc = services()
    settings = svc.settings
    limits = Thresholds(settings.fee_payer_low_balance_lamports, settings.watch_max_lag,
                        settings.rate_max_age_seconds)
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id)
        overview = store_overview(uow, found.store, svc.clock.now(), limits)
        charts = {w.days: count_bars(sorted(w.by_status.items()), f"{w.days}d") for w in overview.windows}
        return page("overview.html", store=found.store, may=found.may, overview=overview, charts=charts)
