"""Real local HTTP(S) servers that misbehave as remote services can: for the outbound tests."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

MIB = 1024 * 1024


class Remote:
    """A loopback HTTP server whose handler is a function of (handler, server)."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler, Remote], None],
                 tls: ssl.SSLContext | None = None):
        self.answer, self.requests, self.sent = answer, [], 0
        self.server_names: list[str | None] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda sock, name, _ctx: self.server_names.append(name)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(remote: Remote):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (http.server's naming)
            remote.requests.append((self.path, dict(self.headers)))
            try:
                remote.answer(self, remote)
            except OSError:   # the client hung up: it stopped reading
                pass

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    return Handler


def text(body: str, status: int = 200) -> Callable:
    """Answer with a text body."""
    def answer(handler, _remote):
        data = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    return answer


def redirect(location: str) -> Callable:
    """Answer 302 to location."""
    def answer(handler, _remote):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return answer


def endless(size: int = 100 * MIB, declare: bool = False) -> Callable:
    """Stream size bytes (without a Content-Length unless declare), counting what went out."""
    def answer(handler, remote):
        handler.send_response(200)
        if declare:
            handler.send_header("Content-Length", str(size))
        handler.send_header("Connection", "close")
        handler.end_headers()
        piece = b"a: b\n" * 13107
        while remote.sent < size:
            handler.wfile.write(piece)
            remote.sent += len(piece)
    return answer


def trickle(every: float = 0.05, in_headers: bool = False) -> Callable:
    """Send a byte every `every` seconds for a minute: in the body, or in the headers."""
    def answer(handler, remote):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        if not in_headers:
            handler.wfile.write(b"Content-Length: 100000\r\n\r\n")
        handler.wfile.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            handler.wfile.write(b"x")
            handler.wfile.flush()
            remote.sent += 1
            time.sleep(every)
    return answer


def certificate(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for name, made by openssl."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", f"/CN={name}")
    (directory / "ext.cnf").write_text(f"subjectAltName=DNS:{name}\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"
