"""VentaConnect's encodings: encodeURIComponent exactly as JavaScript does it, and the socket URL's scheme."""

from __future__ import annotations

import pytest

from bridge.contracts.venta_wire import encode_uri_component, socket_url

# Outputs of JavaScript's encodeURIComponent (ECMA-262 §19.2.6.5) for these inputs.
JS_VECTORS = [
    ("solana:Abc?amount=1.5&label=Shop", "solana%3AAbc%3Famount%3D1.5%26label%3DShop"),
    ("-_.!~*'()", "-_.!~*'()"),
    (" +/?#[]@$,;=&:%\"<>\\^`{|}", "%20%2B%2F%3F%23%5B%5D%40%24%2C%3B%3D%26%3A%25%22%3C%3E%5C%5E%60%7B%7C%7D"),
    ("message=Caf\u00e9%20\u2013 \U0001f600", "message%3DCaf%C3%A9%2520%E2%80%93%20%F0%9F%98%80"),
    ("AZaz09", "AZaz09"),
]


@pytest.mark.parametrize(("text", "encoded"), JS_VECTORS)
def test_encode_uri_component_matches_javascript(text: str, encoded: str) -> None:
    assert encode_uri_component(text) == encoded


def test_every_ascii_character_is_escaped_unless_unreserved() -> None:
    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
    for code in range(128):
        char = chr(code)
        expected = char if char in unreserved else f"%{code:02X}"
        assert encode_uri_component(char) == expected, repr(char)


@pytest.mark.parametrize(("public_url", "expected"), [
    ("https://pay.example.com", "wss://pay.example.com/v1/checkout/REF123/ws"),
    ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/v1/checkout/REF123/ws"),
    ("https://example.com/gateway/", "wss://example.com/gateway/v1/checkout/REF123/ws"),
])
def test_socket_url_follows_the_public_urls_scheme(public_url: str, expected: str) -> None:
    assert socket_url(public_url, "REF123") == expected
