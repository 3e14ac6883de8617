"""The payment page and receipt in the buyer's language: Accept-Language, a switcher whose choice is remembered
(cookie), and numbers and dates written as the language writes them (Babel)."""

from __future__ import annotations

from tests.conftest import tick
from tests.integration.test_checkout_page import Page, create, pay


def get(client, path: str, **headers: str) -> Page:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return Page(response.get_data(as_text=True))


def test_accept_language_picks_the_language_and_its_numbers(client, store) -> None:
    number = create(client, store.api_key, amount="1234.5")
    german = get(client, f"/pay/{number}", **{"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert german.first(lang="de") and german.say("title") == "Wähle eine Währung zum Bezahlen"
    assert german.say("fiat-amount") == "1.234,5 USD"
    assert german.say("choose-USDC").endswith("1.234,5 USDC")
    chinese = get(client, f"/pay/{number}", **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.first(lang="zh-Hans") and chinese.say("title") == "选择付款币种"
    brazil = get(client, f"/pay/{number}", **{"Accept-Language": "pt"})
    assert brazil.first(lang="pt-BR")
    assert get(client, f"/pay/{number}", **{"Accept-Language": "ja"}).first(lang="en")


def test_the_switcher_choice_is_remembered_over_accept_language(client, store) -> None:
    number = create(client, store.api_key)
    doc = get(client, f"/pay/{number}", **{"Accept-Language": "de"})
    links = {attrs["hreflang"]: attrs for tag, attrs in doc.elements if tag == "a" and "hreflang" in attrs}
    assert {"es", "pt-BR", "fr", "de", "it", "tr", "id", "vi", "zh-Hans", "en"} <= set(links)
    assert links["de"].get("aria-current") == "true" and "aria-current" not in links["fr"]
    chosen = client.get(f"/pay/{number}?lang=fr", headers={"Accept-Language": "de"})
    assert "voltbridge_lang=fr" in chosen.headers["Set-Cookie"] and "SameSite=Lax" in chosen.headers["Set-Cookie"]
    again = get(client, f"/pay/{number}", **{"Accept-Language": "de"})
    assert again.first(lang="fr") and again.say("title") == "Choisissez une devise de paiement"
    assert "Set-Cookie" not in client.get(f"/pay/{number}?lang=xx").headers  # unknown: nothing remembered


def test_the_receipt_is_translated_with_local_dates(client, store, services) -> None:
    number = create(client, store.api_key)
    pay(client, number)
    tick(services)
    tick(services)
    doc = get(client, f"/pay/{number}/receipt?lang=de")
    assert doc.first(lang="de")
    html = client.get(f"/pay/{number}/receipt?lang=de").get_data(as_text=True)
    assert "Beleg" in html and "Drucken" in html and "0,6666 SOL" in html
    assert "1 SOL = 150 USD" in html and " UTC</time>" in html
    when = services.clock.now()
    assert when.strftime("%d.%m.%Y") in html  # German date order
