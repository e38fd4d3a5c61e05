"""A fake Git provider API: a real HTTP server answering the file endpoints the sidecar uses.

GitHub ``GET /repos/{owner}/{repo}/contents/{path}?ref=`` (raw media type), GitLab
``GET /api/v4/projects/{id}/repository/files/{path}/raw?ref=``, Bitbucket Cloud
``GET /2.0/repositories/{ws}/{repo}/src/{ref}/{path}`` and Bitbucket Data Center
``GET [/context]/rest/api/1.0/projects/{KEY}/repos/{slug}/raw/{path}?at=``, each with its
own credential header (``Authorization: Bearer`` or ``PRIVATE-TOKEN``)::

    with FakeScm(token="tok") as fake:
        fake.files[("owner/repo", "<sha>", ".jenkins-sidecar.yml")] = "stages: ..."
        fake.url          # the API base for GitHub; fake.url + "/api/v4", + "/2.0"
        fake.requests     # (path, query, headers) of every request

Data Center files are keyed ``("KEY/slug", ref, path)``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from sidecar import outbound


class FakeScm:
    """GitHub, GitLab and Bitbucket Cloud and Data Center file APIs over one loopback server."""

    def __init__(self, token: str = ""):
        self.token = token
        self.files: dict[tuple[str, str, str], str] = {}
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeScm:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """Status and body for one GET."""
        self.requests.append((path, query, headers))
        found = self._route(path, query)
        if found is None:
            return 404, '{"message": "Not Found"}'
        provider, key = found
        if not self._authorized(provider, headers):
            return 401, '{"message": "Bad credentials"}'
        if provider == "github" and headers.get("Accept") != "application/vnd.github.raw":
            return 415, '{"message": "ask for the raw media type"}'
        text = self.files.get(key)
        return (200, text) if text is not None else (404, '{"message": "Not Found"}')

    def _route(self, path: str, query: dict[str, str]):
        parts = path.strip("/").split("/")
        if parts[:1] == ["repos"] and len(parts) > 4 and parts[3] == "contents":
            return "github", (f"{parts[1]}/{parts[2]}", query.get("ref", ""),
                              unquote("/".join(parts[4:])))
        if parts[:3] == ["api", "v4", "projects"] and len(parts) == 8 and parts[-1] == "raw":
            return "gitlab", (unquote(parts[3]), query.get("ref", ""), unquote(parts[6]))
        if parts[:2] == ["2.0", "repositories"] and len(parts) > 6 and parts[4] == "src":
            return "bitbucket", (f"{parts[2]}/{parts[3]}", unquote(parts[5]),
                                 unquote("/".join(parts[6:])))
        return self._datacenter_route(parts, query)

    @staticmethod
    def _datacenter_route(parts: list[str], query: dict[str, str]):
        start = next((n for n in range(len(parts)) if parts[n:n + 4] == [
            "rest", "api", "1.0", "projects"]), None)
        if start is None:
            return None
        rest = parts[start + 4:]
        if len(rest) > 4 and rest[1:2] == ["repos"] and rest[3] == "raw":
            return "bitbucket", (f"{unquote(rest[0])}/{unquote(rest[2])}", query.get("at", ""),
                                 unquote("/".join(rest[4:])))
        return None

    def _authorized(self, provider: str, headers: dict[str, str]) -> bool:
        if not self.token:
            return True
        if provider == "gitlab":
            return headers.get("Private-Token") == self.token
        return headers.get("Authorization") == f"Bearer {self.token}"


class RecordingClient(outbound.Client):
    """An outbound client that sends nothing: records each call, answers 200 with text.

    For hosts no test can serve (bitbucket.corp.example): where would the call have gone,
    and with which credential?
    """

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.calls: list[tuple[str, dict[str, str], bool]] = []

    def request(self, method, url, *, headers=None, body=None, credential=False, max_bytes,
                timeout):
        """Record (url, headers, credential) and answer the text."""
        self.calls.append((url, dict(headers or {}), credential))
        return outbound.Response(200, {}, self.text.encode())


def _handler(fake: FakeScm):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            headers = {k.title(): v for k, v in self.headers.items()}
            status, body = fake.answer(parts.path, query, headers)
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler
