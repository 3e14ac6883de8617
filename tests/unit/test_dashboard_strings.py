"""Every string key the dashboard templates use is in English (and so, by test_locales, in every language)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bridge.dashboard.notifications import NOTICES

ROOT = Path(__file__).resolve().parents[2]


def test_every_dashboard_string_key_exists() -> None:
    strings = json.loads((ROOT / "locales/en.json").read_text(encoding="utf-8"))
    used: set[str] = set()
    for template in (ROOT / "templates/dashboard").glob("*.html"):
        used |= set(re.findall(r'\bt\(\s*["\']([a-z_]+)["\']\s*[,)]', template.read_text(encoding="utf-8")))
    # Keys built from a value: notices, endpoint health, alert kinds.
    used |= {f"dash_done_{n}" for n in NOTICES}
    used |= {f"dash_health_{h}" for h in ("healthy", "degraded", "failing")}
    used |= {f"dash_alert_{k}" for k in ("fee_payer_low", "watcher_behind", "rates_unavailable", "worker_silent")}
    used.add("dash_test_not_ready")
    assert used - set(strings) == set()
    assert len(used) > 50
