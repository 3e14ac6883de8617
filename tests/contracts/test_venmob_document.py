"""venmob-webhooks.txt: a store webhook URL is verified as the document verifies one, with a GET carrying the
challenge that the handler must answer in plain text. Handlers written to the document (either spelling it
uses) and handlers written for our earlier `challenge` parameter all verify.

voltbridge sends no Venmob payment webhooks (`payment.created`/`payment.updated`): its store webhooks are
VOLTXT's, so the document's payload example has nothing of ours to be compared with.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import post_json
from tests.contracts.conformance import raw

SETTINGS = "/api/plugin/store/settings"


def test_the_document_names_the_parameter() -> None:
    text = raw("venmob/verification.txt").decode()
    assert "sending a GET\nrequest to your webhook URL with a query parameter called Venmob_challenge" in text
    assert "returns the Venmob_challenge\nvalue in plaintext" in text


@pytest.mark.parametrize("param", ["venmob_challenge", "Venmob_challenge", "challenge"])
def test_a_handler_reading_any_spelling_verifies(nclient, shop, receiver, param) -> None:
    receiver.on("/venmob", challenge_param=param)  # answers only the parameter it was written for
    response = post_json(nclient, SETTINGS, {"api_key": shop.api_key, "webhook_url": receiver.url("/venmob")})
    assert response.status_code == 200, response.get_json()
    (challenge,) = [r for r in receiver.received if r.method == "GET"]
    query = parse_qs(urlsplit(challenge.path).query)
    assert list(query) == ["venmob_challenge", "Venmob_challenge", "challenge"]
    assert len({value for values in query.values() for value in values}) == 1  # one token under each name
    assert response.get_json()["data"]["settings"]["webhook_url"] == receiver.url("/venmob")


def test_a_handler_that_does_not_echo_the_challenge_is_refused(nclient, shop, receiver) -> None:
    receiver.on("/other", challenge_param="token")
    response = post_json(nclient, SETTINGS, {"api_key": shop.api_key, "webhook_url": receiver.url("/other")})
    assert response.status_code == 422 and "venmob_challenge" in response.get_json()["message"]
