"""The SSRF guard: an outbound URL is allowed only if every address its host resolves to is public.

Callers connect to the address that was checked (never resolving again), so a DNS answer that changes
between check and connect (rebinding) cannot redirect a request into the gateway's network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Prefixes that embed or route to an IPv4 address the plain checks would not look inside.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")
# Names that never mean a public host, refused even before resolution.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class UnsafeUrl(ValueError):
    """An outbound URL the guard refuses; the message says why, without echoing secrets."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (address) and what to say (host for Host and SNI, path)."""

    scheme: str
    host: str
    port: int
    address: str
    path: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address getaddrinfo gives for host (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Allowlist:
    """OUTBOUND_ALLOWLIST: host names and addresses/CIDRs that may be reached despite the guard."""

    def __init__(self, entries: Sequence[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.hosts.add(entry.strip().lower().rstrip("."))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address, if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    if address in _TEREDO and address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: IPAddress) -> str | None:
    """Why an address must not be reached, or None if it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
        if embedded_ipv4(address) is not None:
            # Translated or tunnelled to IPv4 space by some gateway we cannot see: refuse outright.
            return "an IPv6 address that tunnels to IPv4 (NAT64, 6to4 or Teredo)"
    for flag in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified", "site_local"):
        if getattr(address, f"is_{flag}", False):
            return f"a {flag.replace('_', '-')} address"
    if not address.is_global:
        return "a non-public address"
    return None


def check_url(url: str, allowlist: Allowlist, resolver: Resolver = system_resolver) -> Target:
    """Parse and resolve url; UnsafeUrl unless it is http(s) and every resolved address is allowed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("the URL's port is not valid") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_allowed = allowlist.allows_host(host)
    lowered = host.lower()
    if not host_allowed and (lowered == "localhost" or lowered.endswith(_LOCAL_SUFFIXES)):
        raise UnsafeUrl(f"{host} is a local name")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(f"{host} cannot be resolved ({exc.__class__.__name__})") from None
    if not addresses:
        raise UnsafeUrl(f"{host} has no address")
    for address in addresses:
        if host_allowed or allowlist.allows_address(address):
            continue
        reason = refusal(address)
        if reason:
            raise UnsafeUrl(f"{host} resolves to {reason}")
    return Target(scheme, host, port, str(addresses[0]), path)


class _NotResolved(OSError):
    """Creation checks never resolve a name."""


def _never_resolve(host: str, port: int) -> list[str]:
    raise _NotResolved("not resolved at creation")


def creation_problem(url: str, allowlist: Allowlist) -> str | None:
    """Why a URL given at creation (an invoice's callback_url, a webhook URL) must be refused, or None.

    Refused: anything but http(s), credentials, local names and literal non-public addresses. Host names are
    not resolved here (no DNS on the request path): the guard resolves and checks them before every send.
    """
    try:
        check_url(url, allowlist, _never_resolve)
    except UnsafeUrl as exc:
        return None if isinstance(exc.__context__, _NotResolved) else str(exc)
    return None
