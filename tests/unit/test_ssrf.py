"""Acceptance 7 of issue 4 (the rules): which outbound URLs the SSRF guard refuses, before any connection."""

from __future__ import annotations

import socket

import pytest

from gateway_core.adapters.notify.ssrf import Allowlist, UnsafeUrl, check_url, creation_problem


def resolving_to(*addresses: str):
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


REFUSED = {
    "loopback": "127.0.0.1",
    "loopback-other": "127.8.9.10",
    "ipv6-loopback": "::1",
    "private-10": "10.1.2.3",
    "private-172": "172.16.5.4",
    "private-192": "192.168.1.1",
    "link-local-metadata": "169.254.169.254",
    "ipv6-link-local": "fe80::1",
    "ipv6-unique-local": "fd00::1",
    "multicast": "224.0.0.1",
    "ipv6-multicast": "ff02::1",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "unspecified": "0.0.0.0",
    "ipv6-unspecified": "::",
    "cgnat": "100.64.0.1",
    "ipv4-mapped-loopback": "::ffff:127.0.0.1",
    "ipv4-mapped-private": "::ffff:10.0.0.1",
    "nat64-public": "64:ff9b::808:808",
    "nat64-loopback": "64:ff9b::7f00:1",
    "6to4": "2002:7f00:1::1",
    "6to4-public": "2002:808:808::1",
    "teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "documentation": "192.0.2.10",
}


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_non_public_addresses_are_refused_whether_literal_or_resolved(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeUrl):
        check_url(f"http://{host}/hook", Allowlist())
    with pytest.raises(UnsafeUrl):
        check_url("https://hooks.example.com/hook", Allowlist(), resolving_to(address))


def test_a_public_address_is_allowed_and_is_the_one_to_connect_to() -> None:
    resolver = resolving_to("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    target = check_url("https://hooks.example.com:8443/a/b?x=1", Allowlist(), resolver)
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example.com", 8443, "/a/b?x=1")
    assert target.address == "93.184.216.34"
    assert target.host_header == "hooks.example.com:8443"
    assert resolver.calls == ["hooks.example.com"]  # type: ignore[attr-defined]


def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    with pytest.raises(UnsafeUrl, match="loopback"):
        check_url("http://mixed.example.com/", Allowlist(), resolving_to("93.184.216.34", "127.0.0.1"))


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/",
                                 "javascript:alert(1)", "http:///nohost", "http://user:pass@example.com/",
                                 "http://localhost:8000/", "http://printer.local/", "http://db.internal/",
                                 "http://example.com:99999/"])
def test_schemes_credentials_local_names_and_bad_ports_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, Allowlist(), resolving_to("93.184.216.34"))


def test_the_allowlist_lets_development_reach_loopback_and_nothing_else() -> None:
    allow = Allowlist(["127.0.0.1", "10.9.0.0/16", "hooks.lan"])
    assert check_url("http://127.0.0.1:9000/h", allow).address == "127.0.0.1"
    assert check_url("http://api.test/h", allow, resolving_to("10.9.3.4")).address == "10.9.3.4"
    assert check_url("http://hooks.lan/h", allow, resolving_to("192.168.0.5")).address == "192.168.0.5"
    with pytest.raises(UnsafeUrl):
        check_url("http://127.0.0.2/h", allow)
    with pytest.raises(UnsafeUrl):
        check_url("http://api.test/h", allow, resolving_to("10.8.0.1"))


def test_unresolvable_hosts_cannot_be_called() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UnsafeUrl, match="cannot be resolved"):
        check_url("https://nowhere.example/", Allowlist(), fail)


def test_at_creation_names_are_not_resolved_and_literal_or_local_non_public_hosts_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError("creation must not resolve names")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert creation_problem("https://yourstore.com/webhook/voltxt", Allowlist()) is None
    assert creation_problem("https://shop.example/cb", Allowlist()) is None  # checked before each send instead
    assert "private" in (creation_problem("http://169.254.169.254/latest/meta-data", Allowlist()) or "")
    assert "loopback" in (creation_problem("http://[::ffff:127.0.0.1]/", Allowlist()) or "")
    assert "local name" in (creation_problem("http://localhost/", Allowlist()) or "")
    assert "local name" in (creation_problem("https://printer.local/cb", Allowlist()) or "")
    assert creation_problem("ftp://shop.example/", Allowlist())
    assert creation_problem("https://user:pw@shop.example/", Allowlist())
    assert creation_problem("http://127.0.0.1:8080/cb", Allowlist(["127.0.0.1"])) is None
