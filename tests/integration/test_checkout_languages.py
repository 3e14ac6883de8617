"""The payment page and receipt in the buyer's language: Accept-Language, a switcher whose choice is remembered
(cookie), and numbers and dates written as the language writes them (Babel)."""

from __future__ import annotations

import json
import re

from tests.conftest import post_json, tick
from tests.integration.test_checkout_page import Page, create, pay, status
from tests.qr_decode import decode_svg
from tests.solana_pay_parser import parse


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


def test_amounts_rates_and_percentages_are_local_while_machine_values_stay_plain(client, store, services) -> None:
    number = create(client, store.api_key, amount="370368", fiat_currency="JPY")  # 2,469.12 USDC; 1 SOL = 22,500 JPY
    assert post_json(client, f"/pay/{number}/asset", {"asset": "USDC"}).status_code == 200
    pay(client, number, asset="USDC", mode="partial")  # half: 1,234.56 USDC
    tick(services)
    tick(services)

    german = get(client, f"/pay/{number}?lang=de")
    assert german.say("fiat-amount") == "370.368 JPY"
    assert german.say("detail") == "1.234,56 USDC erhalten. Sende die restlichen 1.234,56 USDC."
    assert german.text["pay-USDC-amount"] == "1.234,56"
    assert german.say("quote-SOL").startswith("1 SOL = 22.500 JPY") and german.say("quote-USDC").startswith(
        "1 USDC = 150 JPY")
    assert german.text["progress"] == "50\xa0%"
    assert german.say("choose-USDC").endswith("2.469,12 USDC")

    french = get(client, f"/pay/{number}?lang=fr")
    assert french.text["pay-USDC-amount"] == "1\u202f234,56"  # a narrow no-break space groups French digits
    assert french.text["detail"] == "1\u202f234,56 USDC reçus. Envoyez les 1\u202f234,56 USDC restants."
    assert "22\u202f500 JPY" in french.text["quote-SOL"] and french.text["fiat-amount"].startswith("370\u202f368")

    # What machines and wallets read stays as the contract writes it, whatever the language.
    for doc in (german, french):
        assert doc.first(id="pay-USDC-amount")["data-value"] == "1234.56"
        link = doc.first(data_testid="wallet-link-USDC")["href"]
        assert parse(link, decimals=6).amount == "1234.56"
    html = client.get(f"/pay/{number}?lang=fr").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="checkout-data">(.*?)</script>', html,
                                re.S).group(1))  # type: ignore[union-attr]
    assert data["status"]["amount_remaining"] == "1234.56" and data["status"]["progress_percent"] == "50"
    assert data["numbers"] == {"decimal": ",", "group": "\u202f", "minus": "-", "percent": "{n}\xa0%"}
    assert status(client, number)["amount_remaining"] == "1234.56"
    request = client.get(f"/pay/{number}/request/USDC?lang=fr", headers={"Accept-Language": "fr"}).get_json()
    assert request["amount"] == "1234.56"
    (scanned,) = decode_svg(request["qr_svg"])
    assert scanned.startswith("solana:") and parse(scanned, decimals=6).amount == "1234.56"
    assert "<title>QR code" not in request["qr_svg"] and "1\u202f234,56" in request["qr_svg"]  # its title is read
