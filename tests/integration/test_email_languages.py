"""Merchant emails in the store's language (issue 19): every language renders every email with each string its
own, numbers and times as the language writes them; the store's language is set by the command line, the API
and the dashboard, English unless set, and the worker's emails follow it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.cli import main
from gateway_core.adapters import i18n
from gateway_core.adapters.models import Email, Store
from gateway_core.adapters.notify.email_render import TEMPLATES, render
from gateway_core.stores.manage import create_store
from tests.conftest import deliver_due, post_json
from tests.e2e.test_email_browser import EVENTS, contexts
from tests.integration.dashboard_support import make_user, post_form, sign_in
from tests.integration.test_merchant_email import paid_payload

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r"""\bt\(\s*["']([a-z_A-Z0-9]+)["']\s*[,)]""")
LABEL = re.compile(r"""\blabel\(\s*["']([a-z_A-Z0-9]+)["']""")
QUOTED = re.compile(r"""["'](email_[a-z_]*[a-z])["']""")  # keys chosen by a condition: t("a" if x else "b")
LANGUAGES = i18n.available()


def test_every_string_a_template_asks_for_is_in_english() -> None:
    """The locale test checks each language against en.json; this checks en.json against the templates."""
    english = i18n.catalogue("en")
    asked = set()
    for folder in (TEMPLATES, ROOT / "templates" / "checkout"):
        for path in folder.rglob("*.*"):
            text = path.read_text(encoding="utf-8")
            asked |= set(KEY.findall(text)) | set(LABEL.findall(text)) | set(QUOTED.findall(text))
    for event in EVENTS:
        asked |= {f"email_{event}_headline", f"email_{event}_subject"}
    asked |= {f"email_status_{s}" for s in ("pending", "partially_paid", "underpaid", "paid", "confirmed", "settled",
                                            "auto_processed", "expired", "cancelled")}
    asked |= {f"email_network_{n}" for n in ("mainnet", "devnet", "sandbox")}
    assert asked - set(english) == set()
    used_in_code = {"email_base_units"}  # email_render._raw
    assert {k for k in english if k.startswith("email_")} <= asked | used_in_code  # no unused strings


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_renders_every_email_in_that_language(services, store, lang: str) -> None:
    english_strings, own = i18n.catalogue("en"), json.loads((i18n.LOCALES / f"{lang}.json").read_text("utf-8"))
    for event, context in contexts(services, store.id).items():
        subject, text, html = render(event, context, "#0F766E", lang=lang)
        for part in (subject, text, html):
            assert "email_" not in part, (lang, event, part)  # a missing key would show itself
        assert f'<html lang="{lang}">' in html
        headline = own[f"email_{event}_headline"]
        assert headline in text and str(_escaped(headline)) in html, (lang, event)
        if lang != "en":
            english = render(event, context, "#0F766E", lang="en")[0]
            assert subject != english, (lang, event, subject)  # the subject is the language's own
            assert english_strings[f"email_{event}_headline"] not in text or \
                english_strings[f"email_{event}_headline"] == headline
        assert subject.startswith(("[Devnet] ", "[Sandbox] ")) and len(subject) <= 120, subject


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_numbers_and_times_are_written_as_each_language_writes_them(services, store) -> None:
    context = paid_payload(services, store.id, "1234.56", "USDC", network="devnet", tx_id="5j7sig")
    context["timestamp"] = "2026-12-06T16:05:00Z"
    _, english, _ = render("payment_completed", context, None, lang="en")
    subject, german, german_html = render("payment_completed", context, None, lang="de")
    _, french, _ = render("payment_completed", context, None, lang="fr")
    assert subject.startswith("[Devnet] Bezahlt: 1.234,56 USD, Rechnung ")
    assert "1.234,56 USDC" in german and "1.234.560.000 Basiseinheiten (6 Dezimalstellen)" in german
    assert "1.234,56 USDC" in german_html and "100\xa0%" in german and "06.12.2026, 16:05:00 UTC" in german
    assert "1\u202f234,56 USDC" in french and "6 déc. 2026" in french  # narrow no-break space groups in French
    assert "1,234.56 USDC" in english and "Dec 6, 2026" in english and "100%" in english
    assert "Zahlungsübersicht" in german_html and "Payment summary" not in german_html


def test_an_unknown_language_renders_english(services, store) -> None:
    context = paid_payload(services, store.id, "10", "USDC")
    assert render("email_test", context, None, lang="xx")[0] == "[Sandbox] Test email from Test Shop"


def test_the_language_is_english_unless_set_and_the_cli_sets_it(app, services) -> None:
    runner = app.test_cli_runner()
    made = runner.invoke(main, ["store", "create", "--name", "Laden", "--network", "sandbox", "--language", "DE",
                                "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["language"] == "de"
    plain = runner.invoke(main, ["store", "create", "--name", "Shop", "--network", "sandbox"])
    assert plain.exit_code == 0, plain.output
    changed = runner.invoke(main, ["store", "set", "Shop", "--language", "pt"])
    assert changed.exit_code == 0 and "language             pt-BR" in changed.output, changed.output
    refused = runner.invoke(main, ["store", "set", "Shop", "--language", "klingon"])
    assert refused.exit_code != 0 and "must be one of: de, en, es" in refused.output, refused.output
    with services.uow() as uow:
        languages = {s.name: s.language for s in uow.session.execute(select(Store)).scalars()}
    assert languages == {"Laden": "de", "Shop": "pt-BR"}


def test_the_api_reads_and_sets_the_language(client, store) -> None:
    path = "/api/plugin/store/settings"
    read = post_json(client, path, {"api_key": store.api_key}).get_json()["data"]["settings"]
    assert read["language"] == "en"
    changed = post_json(client, path, {"api_key": store.api_key, "language": "zh-hans"})
    assert changed.status_code == 200 and changed.get_json()["data"]["settings"]["language"] == "zh-Hans"
    bad = post_json(client, path, {"api_key": store.api_key, "language": 7})
    assert bad.status_code == 422 and "language" in json.dumps(bad.get_json())


def test_the_worker_mails_in_the_stores_language(services, clock) -> None:
    with services.uow() as uow:
        made = create_store(uow, services.vault, name="Boutique", network="sandbox", email="patron@boutique.test",
                            email_notifications=True, language="fr")
    context = paid_payload(services, made.id, "1234.5", "SOL")
    assert context  # paying enqueued the store's emails
    deliver_due(services)
    with services.uow() as uow:
        emails = list(uow.session.execute(select(Email).where(Email.store_id == made.id)).scalars())
    assert emails, "no email was sent"
    subjects = {e.subject for e in emails}
    assert any(s.startswith("[Sandbox] Payée : 1\u202f234,5 USD, facture ") for s in subjects), subjects
    for email in emails:
        assert '<html lang="fr">' in email.html_body and "Récapitulatif du paiement" in email.html_body
        assert "RÉCAPITULATIF DU PAIEMENT" in email.text_body


def test_the_dashboards_new_store_form_sets_the_language(services, client) -> None:
    make_user(services, "owner@laden.test")
    sign_in(client, "owner@laden.test")
    form = client.get("/dashboard/stores/new").get_data(as_text=True)
    assert '<option selected value="en">English</option>' in form and '<option value="de">Deutsch</option>' in form
    created = post_form(client, "/dashboard/stores/new", {"name": "Laden", "network": "sandbox",
                                                          "settlement_mode": "direct", "language": "de"},
                        token_from="/dashboard/stores/new")
    assert created.status_code == 201
    with services.uow() as uow:
        store = uow.session.execute(select(Store).where(Store.name == "Laden")).scalar_one()
    assert store.language == "de"
    assert "emails in Deutsch" in client.get(f"/dashboard/stores/{store.id}").get_data(as_text=True)
    refused = post_form(client, "/dashboard/stores/new", {"name": "Other", "network": "sandbox",
                                                          "settlement_mode": "direct", "language": "xx"},
                        token_from="/dashboard/stores/new")
    assert refused.status_code == 400
