"""Where notifications may go: public addresses, and private ones only when the operator allows.

Every host a notifier names is resolved and each address judged before anything is
sent: cloud metadata, unspecified and multicast addresses never; loopback,
link-local, private and other non-global ones only when ``SIDECAR_OUTBOUND_ALLOW``
lists the host or a network holding the address. The signed JSON requests are sent
here too, without following redirects and without reading the answer.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

import requests

from sidecar.errors import SidecarError

ALWAYS_REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32", "0.0.0.0/8"))
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9])?\.?)+$", re.I)


class Refused(SidecarError):
    """The destination is one the sidecar may not call, or cannot be called."""


@dataclass(frozen=True)
class Policy:
    """Which non-public destinations the operator allows: host names and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple = ()

    @classmethod
    def parse(cls, text: str) -> Policy:
        """From ``host,10.0.0.0/8,127.0.0.1/32``. :raise ValueError: a bad entry"""
        hosts, networks = set(), []
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not HOST_NAME.match(entry):
                    raise ValueError(f"{entry!r} is neither a host name nor a CIDR") from None
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def check(self, host: str, address) -> None:
        """Return when the sidecar may connect to address for host. :raise Refused:"""
        judged = getattr(address, "ipv4_mapped", None) or address
        if any(judged in net for net in ALWAYS_REFUSED if net.version == judged.version) \
                or judged.is_unspecified or judged.is_multicast:
            raise Refused(f"{host}: a cloud metadata, unspecified or multicast address is "
                          "never called")
        if judged.is_global or host.lower().rstrip(".") in self.hosts or any(
                judged in net for net in self.networks if net.version == judged.version):
            return
        raise Refused(f"{host}: a private, loopback or link-local address; the operator "
                      "may allow it with SIDECAR_OUTBOUND_ALLOW")


@dataclass(frozen=True)
class Client:
    """Checks destinations against the policy and POSTs signed bodies."""

    policy: Policy = Policy()

    def check_host(self, host: str, port: int) -> None:
        """Every address host resolves to must be allowed. :raise Refused:"""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                raise Refused(f"{host}: the name does not resolve") from None
            addresses = [ipaddress.ip_address(i[4][0].split("%", 1)[0]) for i in infos]
        for address in addresses:
            self.policy.check(host, address)

    def post(self, url: str, body: bytes, *, headers: Mapping[str, str],
             timeout: float) -> int:
        """POST body to an allowed URL; the status, the answer unread. :raise Refused:"""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused("only http(s) URLs with a host are called")
        self.check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        try:
            with requests.post(url, data=body, headers=dict(headers), timeout=timeout,
                               allow_redirects=False, stream=True) as response:
                return response.status_code
        except requests.RequestException as exc:
            raise Refused(f"{parts.hostname}: {type(exc).__name__}") from None
