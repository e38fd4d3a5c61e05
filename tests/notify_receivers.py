"""Local receivers for notification tests: HTTPS for the vendors' hosts, and SMTP.

The vendors' hosts (hooks.slack.com, oapi.dingtalk.com, …) resolve, inside the test
process only, to one local HTTPS server whose certificate a throw-away CA (trustme)
signed for those names; REQUESTS_CA_BUNDLE and SSL_CERT_FILE make that CA trusted. So
apprise's own code builds and sends each request unchanged, and the receiver sees
exactly what the vendor would.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import trustme
from aiosmtpd.controller import Controller

VENDOR_HOSTS = ("hooks.slack.com", "oapi.dingtalk.com", "qyapi.weixin.qq.com",
                "open.feishu.cn", "open.larksuite.com", "prod-12.westus.logic.azure.com")
VENDOR_ADDRESS = "127.0.0.77"
"""Where the vendors' names lead: a loopback address of its own, so a test's outbound
allow-list can admit the vendors without admitting 127.0.0.1."""
OK_BODY = {"errcode": 0, "errmsg": "ok", "code": 0, "msg": "success"}
"""DingTalk and WeCom answer errcode/errmsg, Feishu code/msg."""


@dataclass
class Received:
    """One request as the receiver saw it."""

    host: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self) -> dict:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP(S) server that records requests and answers with ``statuses`` in turn."""

    tls: ssl.SSLContext | None = None
    address: str = "127.0.0.1"
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def __post_init__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urlsplit(self.path)
                receiver.received.append(Received(
                    self.headers.get("Host", "").split(":")[0], parts.path,
                    parse_qs(parts.query), dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = json.dumps(OK_BODY if status < 300 else {"error": "boom"}).encode()
                if receiver.received[-1].host == "hooks.slack.com" and status < 300:
                    answer = b"ok"  # Slack's incoming webhooks answer plain 'ok'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((self.address, 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        """A URL of this receiver by its address."""
        return f"http://{self.address}:{self.port}{path}"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def vendor_receiver(tmp_path, monkeypatch) -> Receiver:
    """An HTTPS receiver that the vendors' host names lead to, trusted by this process."""
    authority = trustme.CA()
    certificate = authority.issue_cert(*VENDOR_HOSTS)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    receiver = Receiver(tls=context, address=VENDOR_ADDRESS)
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        # A vendor's name, and VENDOR_ADDRESS itself, lead to the receiver's port: the
        # sidecar's client resolves the name once, then connects to (address, 443).
        if isinstance(host, str) and (host.lower() in VENDOR_HOSTS or host == VENDOR_ADDRESS):
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                     (VENDOR_ADDRESS, receiver.port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return receiver


class _Mailbox:
    """aiosmtpd handler keeping each message's envelope and content."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        """Keep the message."""
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; ``messages`` are what it accepted."""

    def __init__(self):
        self._mailbox = _Mailbox()
        with socket.socket() as probe:  # aiosmtpd checks it is up by connecting to the port
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self._mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    @property
    def messages(self):
        """(mail from, recipients, raw message) of each accepted message."""
        return self._mailbox.messages

    def close(self) -> None:
        """Stop the server."""
        self._controller.stop()
