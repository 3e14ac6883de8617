# ruff: noqa: F811 - pytest fixtures are imported from shopify_support and used as arguments
"""Shopify authenticates its payment requests with mutual TLS: the TLS terminator in front of the app demands a
client certificate from Shopify's CA and passes the verified subject on; the app believes that header only
behind a proxy it trusts (TRUST_PROXY). A real TLS server with test CAs (trustme) stands in for nginx."""

from __future__ import annotations

import http.client
import ssl
from typing import Any

import pytest
import trustme
from cryptography import x509

from bridge.jsonio import dumps
from gateway_core.clock import FrozenClock
from tests.conftest import running_app
from tests.fakes.mtls import MutualTlsProxy
from tests.fakes.shopify import payment_session, session_headers
from tests.integration.shopify_support import (  # noqa: F401 - fixtures
    SHOP,
    fake_shopify,
    installed,
    post_session,
    sandbox_store,
    sapp,
    sclient,
    shopify_settings_for,
    ssettings,
    ssvc,
)


@pytest.fixture
def cas() -> tuple[trustme.CA, trustme.CA]:
    """(the public CA our server certificate comes from, Shopify's self-signed client CA)."""
    return trustme.CA(), trustme.CA()


def client_context(server_ca: trustme.CA, cert: trustme.LeafCert | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


def post_over_tls(port: int, context: ssl.SSLContext, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("POST", "/shopify/payment_sessions", body=dumps(body).encode(),
                           headers={"Content-Type": "application/json", **session_headers(SHOP), **headers})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def subject_of(cert: trustme.LeafCert) -> str:
    return x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).subject.rfc4514_string()


def test_a_client_with_shopifys_certificate_gets_through_and_one_without_is_refused(sapp, installed, cas):
    server_ca, shopify_ca = cas
    shopify_cert = shopify_ca.issue_cert("shopify-client", common_name="payments.shopify.com")
    stranger_cert = trustme.CA().issue_cert("shopify-client", common_name="payments.shopify.com")
    with MutualTlsProxy(sapp, server_ca, shopify_ca) as proxy:
        status, answer = post_over_tls(proxy.port, client_context(server_ca, shopify_cert), payment_session())
        assert status == 201, answer
        assert b'"redirect_url":"https://gateway.test/pay/' in answer
        with pytest.raises(OSError):  # no certificate: the handshake fails, the app never sees the request
            post_over_tls(proxy.port, client_context(server_ca, None), payment_session())
        with pytest.raises(OSError):  # a certificate from another CA: likewise
            post_over_tls(proxy.port, client_context(server_ca, stranger_cert), payment_session())


def test_the_app_can_pin_the_subject_of_shopifys_certificate(database_url, tmp_path, fake_shopify, installed, cas):
    server_ca, shopify_ca = cas
    shopify_cert = shopify_ca.issue_cert("shopify-client", common_name="payments.shopify.com")
    other_cert = shopify_ca.issue_cert("shopify-client", common_name="someone-else.example")
    pinned = shopify_settings_for(database_url, tmp_path, fake_shopify.origin,
                                  shopify_client_cert_subject=subject_of(shopify_cert))
    with running_app(pinned, FrozenClock()) as app, MutualTlsProxy(app, server_ca, shopify_ca) as proxy:
        # The proxy overwrites a subject header the client sends itself.
        status, _ = post_over_tls(proxy.port, client_context(server_ca, other_cert), payment_session(),
                                  **{"X-Client-Cert-Subject": subject_of(shopify_cert)})
        assert status == 403
        status, _ = post_over_tls(proxy.port, client_context(server_ca, shopify_cert), payment_session())
        assert status == 201


def test_without_a_verified_subject_from_a_trusted_proxy_payment_requests_are_refused(
        sclient, installed, database_url, tmp_path, fake_shopify):
    missing = post_session(sclient, payment_session(), subject=None)
    assert missing.status_code == 403 and missing.get_json()["error_code"] == "CLIENT_CERTIFICATE_REQUIRED"
    refund = post_session(sclient, {"id": "r"}, path="/shopify/refund_sessions", subject=None)
    assert refund.status_code == 403
    # Without TRUST_PROXY the header is anyone's to send: it is ignored.
    direct = shopify_settings_for(database_url, tmp_path, fake_shopify.origin, trust_proxy=False)
    with running_app(direct, FrozenClock()) as app:
        spoofed = post_session(app.test_client(), payment_session())
        assert spoofed.status_code == 403 and spoofed.get_json()["error_code"] == "CLIENT_CERTIFICATE_REQUIRED"
