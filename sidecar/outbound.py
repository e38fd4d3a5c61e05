"""The one guarded HTTP client for calls the sidecar makes on a user's behalf (DESIGN §10).

Pipeline owners choose URLs the sidecar fetches (``triggers.apiUrl``) and operators
choose where webhooks go; without a guard either can aim the sidecar at the cloud
metadata service or at something only the cluster network reaches. So every such call
(SCM file API, approval and notification webhooks) goes through :class:`Client`:

- The host is resolved once and the connection made to that very address (TLS still
  verifies the certificate for the name, and sends it as SNI), so DNS cannot answer a
  public address to the check and a private one to the connection.
- Cloud metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200) and
  unspecified or multicast addresses are always refused. Loopback, link-local, private
  and other non-global ranges only when the operator lists the host or a CIDR holding
  the address in ``SIDECAR_OUTBOUND_ALLOW``. IPv4 addresses inside IPv6 ones
  (``::ffff:a.b.c.d``, NAT64, 6to4) are judged as the IPv4 address.
- A redirect is followed only for a GET without a credential (re-checked hop by hop);
  with a credential, or for a POST, the 3xx itself is the answer.
- The body is read in pieces up to a limit and dropped beyond it; one deadline bounds
  the whole call (resolving, connecting, TLS, headers, body, redirects): a watchdog
  shuts the socket down when it passes, so a server trickling a byte at a time cannot
  stretch it.
- Errors name the URL's host and what went wrong, never the remote body.

Written on the standard library's ``http.client``: the connection must go to a
chosen address while naming another host, which requests/urllib3 only allow through
private attributes.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import unquote, urljoin, urlsplit

from sidecar.errors import ConfigError, Problem, SidecarError

log = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALWAYS_REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32", "0.0.0.0/8"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9])?\.?)+$", re.I)
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class OutboundError(SidecarError):
    """An outbound call failed; the message never holds the remote body."""


class Refused(OutboundError):
    """The address is one the sidecar may not call."""


class TooLarge(OutboundError):
    """The answer is larger than the call's limit."""


class DeadlineExceeded(OutboundError):
    """The call did not finish within its deadline."""


@dataclass(frozen=True)
class Policy:
    """Which non-public destinations the operator allows: host names and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

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

    def check(self, host: str, address: IPAddress) -> None:
        """Return when the sidecar may connect to address for host. :raise Refused:"""
        judged = _embedded_ipv4(address) or address
        if any(judged in net for net in ALWAYS_REFUSED if net.version == judged.version) \
                or judged.is_unspecified or judged.is_multicast:
            raise Refused(f"{host}: a cloud metadata, unspecified or multicast address is "
                          "never called")
        if judged.is_global:
            return
        if host.lower().rstrip(".") in self.hosts or any(
                judged in net for net in self.networks if net.version == judged.version):
            return
        raise Refused(f"{host}: a private, loopback or link-local address; the operator "
                      "may allow it with SIDECAR_OUTBOUND_ALLOW")


@dataclass(frozen=True)
class Response:
    """An answer: status, headers (lowercase names) and the body read (b'' if not read)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


Resolver = Callable[[str, int], list[IPAddress]]


class Client:
    """Makes guarded HTTP calls; holds no connection between calls."""

    def __init__(self, policy: Policy | None = None, resolver: Resolver | None = None,
                 tls: ssl.SSLContext | None = None):
        self.policy = policy or Policy()
        self._resolve = resolver or _system_resolver
        self._tls = tls

    def check_host(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        """Every address host resolves to must be allowed: for a library that connects by
        itself (apprise), which this client cannot pin. :raise OutboundError:"""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = _within(time.monotonic() + timeout, lambda: self._resolve(host, port),
                                host)
        for address in addresses:
            self.policy.check(host, address)

    def get(self, url: str, *, headers: Mapping[str, str] | None = None, credential: bool = False,
            max_bytes: int, timeout: float) -> Response:
        """GET url; follows redirects only when no credential is attached."""
        return self.request("GET", url, headers=headers, credential=credential,
                            max_bytes=max_bytes, timeout=timeout)

    def post(self, url: str, body: bytes, *, headers: Mapping[str, str] | None = None,
             max_bytes: int = 0, timeout: float) -> Response:
        """POST body to url; never follows a redirect; reads max_bytes of the answer."""
        return self.request("POST", url, headers=headers, body=body, credential=True,
                            max_bytes=max_bytes, timeout=timeout)

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | None = None, credential: bool = False, max_bytes: int,
                timeout: float) -> Response:
        """One call within timeout seconds in all. :raise OutboundError:"""
        deadline = time.monotonic() + timeout
        for _ in range(MAX_REDIRECTS + 1):
            target = _Target.of(url)
            sent = dict(headers or {})
            if target.userinfo:
                sent["Authorization"] = "Basic " + base64.b64encode(
                    target.userinfo.encode("utf-8")).decode("ascii")
            response = self._once(method, target, sent, body, max_bytes, deadline)
            location = response.headers.get("location")
            follow = method == "GET" and not credential and not target.userinfo
            if not (300 <= response.status < 400 and location and follow):
                return response
            url = urljoin(url, location)
        raise OutboundError(f"{_Target.of(url).host}: more than {MAX_REDIRECTS} redirects")

    def _once(self, method: str, target: _Target, headers: dict[str, str], body: bytes | None,
              max_bytes: int, deadline: float) -> Response:
        addresses = self._allowed(target, deadline)
        watchdog, connection = _Watchdog(deadline), None
        try:
            connection = self._connect(target, addresses, watchdog)
            connection.request(method, target.path, body=body, headers=headers)
            answer = connection.getresponse()
            status, answer_headers = answer.status, {k.lower(): v for k, v in answer.getheaders()}
            data = _read(answer, max_bytes, target.host) if max_bytes else b""
            if watchdog.fired:  # the shut-down socket read as an early end: not an answer
                raise DeadlineExceeded(f"{target.host}: no answer within the deadline")
            return Response(status, answer_headers, data)
        except (OutboundError, OSError, http.client.HTTPException, ValueError) as exc:
            if isinstance(exc, (TooLarge, DeadlineExceeded)):
                raise
            if watchdog.fired:
                raise DeadlineExceeded(f"{target.host}: no answer within the deadline") from None
            if isinstance(exc, OutboundError):
                raise
            raise OutboundError(f"{target.host}: {type(exc).__name__}") from None
        finally:
            watchdog.stop()
            if connection is not None:
                connection.close()

    def _allowed(self, target: _Target, deadline: float) -> list[IPAddress]:
        try:
            addresses = [ipaddress.ip_address(target.host)]
        except ValueError:
            addresses = _within(deadline, lambda: self._resolve(target.host, target.port),
                                target.host)
        allowed, refusal = [], None
        for address in addresses:
            try:
                self.policy.check(target.host, address)
                allowed.append(address)
            except Refused as exc:
                refusal = exc
                log.warning("outbound call to %s refused: resolves to %s", target.host, address)
        if not allowed:
            raise refusal or OutboundError(f"{target.host}: no address")
        return allowed

    def _connect(self, target: _Target, addresses: list[IPAddress],
                 watchdog: _Watchdog) -> http.client.HTTPConnection:
        error: Exception | None = None
        for address in addresses:
            remaining = watchdog.remaining()
            if remaining <= 0:
                break
            if target.scheme == "https":
                connection = _PinnedHTTPS(target.host, target.port, str(address), remaining,
                                          self._tls or ssl.create_default_context(), watchdog)
            else:
                connection = _PinnedHTTP(target.host, target.port, str(address), remaining,
                                         watchdog)
            try:
                connection.connect()
                return connection
            except OSError as exc:
                error = exc
        if watchdog.fired or watchdog.remaining() <= 0:
            raise DeadlineExceeded(f"{target.host}: no connection within the deadline")
        raise OutboundError(f"{target.host}: cannot connect ({type(error).__name__})")


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    userinfo: str

    @classmethod
    def of(cls, url: str) -> _Target:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise OutboundError("not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OutboundError("only http(s) URLs with a host are called")
        userinfo = ""
        if parts.username is not None:
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80),
                   path, userinfo)


class _Watchdog:
    """Shuts the call's socket down when the deadline passes, whatever it is waiting for."""

    def __init__(self, deadline: float):
        self.deadline, self.fired, self._socket = deadline, False, None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socket = sock
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._socket is not None:
                _shut(self._socket)

    def stop(self) -> None:
        self._timer.cancel()


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to one chosen address, naming the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float, watchdog: _Watchdog):
        super().__init__(host, port, timeout=timeout)
        self._address, self._watchdog = address, watchdog

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self._watchdog.watch(sock)
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPS(_PinnedHTTP):
    """HTTPS to one chosen address; the certificate is verified for the host name (SNI)."""

    default_port = 443

    def __init__(self, host: str, port: int, address: str, timeout: float,
                 context: ssl.SSLContext, watchdog: _Watchdog):
        super().__init__(host, port, address, timeout, watchdog)
        self._context = context

    def connect(self) -> None:
        sock = self._open()
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _read(answer: http.client.HTTPResponse, max_bytes: int, host: str) -> bytes:
    declared = answer.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"{host}: the answer is larger than {max_bytes} bytes")
    parts, size = [], 0
    while True:
        piece = answer.read1(CHUNK)
        if not piece:
            if declared and declared.isdigit() and size != int(declared):
                raise OutboundError(f"{host}: the answer ended early")
            return b"".join(parts)
        size += len(piece)
        if size > max_bytes:
            raise TooLarge(f"{host}: the answer is larger than {max_bytes} bytes")
        parts.append(piece)


def _within(deadline: float, resolve: Callable[[], list[IPAddress]], host: str
            ) -> list[IPAddress]:
    """Resolve in a helper thread, so a slow DNS server cannot outlast the deadline."""
    found: list = []

    def run() -> None:
        try:
            found.append(resolve())
        except (OSError, UnicodeError) as exc:
            found.append(exc)
    worker = threading.Thread(target=run, name="outbound-resolve", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if not found:
        raise DeadlineExceeded(f"{host}: the name did not resolve within the deadline")
    if isinstance(found[0], Exception):
        raise OutboundError(f"{host}: the name does not resolve")
    return found[0]


def _system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0])
                              for info in infos))


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version == 4:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def policy_from(allow: str) -> Policy:
    """The operator's ``SIDECAR_OUTBOUND_ALLOW`` as a Policy. :raise ConfigError:"""
    try:
        return Policy.parse(allow)
    except ValueError as exc:
        raise ConfigError(Problem(f"SIDECAR_OUTBOUND_ALLOW: {exc}")) from None
