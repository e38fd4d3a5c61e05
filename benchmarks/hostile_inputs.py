"""Send the hostile input corpus to a running `jenkins-sidecar serve`; report memory and time.

Starts the real service (gunicorn; SQLite in a temporary directory; loopback anonymous
mode as `make run`, with a local fake Git provider API allowed as an outbound target),
registers a pipeline with a webhook secret and one whose config is read from the fake
provider, then sends each attack once, one after another, over real sockets:

- HTTP: a 50 MiB chunked body, a declared 50 MiB body, JSON nested 100,000 deep,
  a 4.4 MiB JSON of 400,000 small objects and one of 99,999 (just within the value
  budget, so parsed), NUL, lone surrogates, NaN, control
  characters in names, CR/LF and non-ASCII digits in URLs, a signed webhook of deep JSON;
- YAML (validate, pipeline PUT, a pull-request webhook whose config is read at its
  commit): an alias bomb, nesting 10,000 deep, a 2 MiB document;
- outbound: a provider API answering 100 MiB.

A thread samples the resident memory of the server's processes (summed over the tree)
every 10 ms. Reported: each attack's status and time, the peak growth over the
baseline taken after warm-up (goal ≤ 50 MB) and the slowest answer (goal ≤ 1 s).

    python benchmarks/hostile_inputs.py [--skip NAME,...] [--memory-cap-mb 2048]

``--memory-cap-mb`` limits the server's address space, so an unbounded attack fails
the run (as a 500 or a dead server) instead of taking the machine's memory.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from proctree import process_tree

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
SECRET = "bench-secret"
CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] +
    [f"{n}: &{n} [{','.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")] +
    ["stages: *i"]) + "\n"
DEEP_YAML = "stages: " + "[" * 10_000 + "]" * 10_000 + "\n"
BIG_YAML = "stages:\n" + "".join(f"- name: s{i}\n  steps: []\n" for i in range(80_000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", default="", help="comma-separated attack names to leave out")
    parser.add_argument("--memory-cap-mb", type=int, default=2048)
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    provider = Provider()
    with tempfile.TemporaryDirectory() as directory:
        server = Server(Path(directory), provider.port, args.memory_cap_mb)
        try:
            return run(server, provider, skip)
        finally:
            server.stop()
            provider.close()


def run(server: Server, provider: Provider, skip: set[str]) -> int:
    server.call("POST", "/api/v1/pipelines", json.dumps(
        {"project": "bench", "name": "web", "inlineConfig": CONFIG, "webhookSecret": SECRET}))
    server.call("POST", "/api/v1/pipelines", json.dumps(
        {"project": "bench", "name": "remote", "webhookSecret": SECRET,
         "repositoryUrl": "https://github.com/bench/remote.git", "providerToken": "t",
         "triggers": {"apiUrl": provider.url}}))
    for _ in range(20):   # warm-up: imports, caches, connections
        server.call("GET", "/api/v1/pipelines")
        server.call("POST", "/api/v1/validate", json.dumps({"config": CONFIG}))
    sampler = Sampler(server.pid)
    baseline = sampler.start()
    results = []
    for name, attack in attacks(provider):
        if name in skip:
            continue
        started = time.monotonic()
        try:
            status = attack(server)
        except OSError as exc:   # no answer within the client's 30 s, or the server died
            status = type(exc).__name__
        results.append((name, status, time.monotonic() - started))
        print(f"{name:28} {status!s:>12} {results[-1][2] * 1000:8.1f} ms", flush=True)
    peak = sampler.stop()
    growth, slowest = (peak - baseline) / MIB, max(results, key=lambda r: r[2])
    print(f"\nbaseline RSS {baseline / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB, "
          f"growth {growth:.1f} MiB (goal <= 50 MB)")
    print(f"slowest answer: {slowest[0]} {slowest[2] * 1000:.0f} ms (goal <= 1 s)")
    # 502 is the deliberate answer when the provider API's answer is refused.
    failed = [r for r in results if not isinstance(r[1], int) or r[1] in (500, 503)]
    for name, status, _ in failed:
        print(f"FAILED: {name} answered {status}")
    return 1 if failed or growth > 50 * 1e6 / MIB or slowest[2] > 1.0 else 0


def attacks(provider: Provider):
    """(name, function of the server returning the status) for every attack."""
    deep = "[" * 100_000 + "]" * 100_000
    flat = "[" + ",".join(['{"a":"xx"}'] * 400_000) + "]"
    under = "[" + ",".join(["{}"] * 99_999) + "]"   # just within the value budget
    hook = lambda body, event="push": lambda s: s.hook(body, event)   # noqa: E731
    pull_request = json.dumps({"action": "opened", "number": 1, "pull_request": {
        "head": {"sha": "a" * 40, "ref": "feature", "repo": {"clone_url": ""}},
        "base": {"ref": "main"}}, "repository": {"clone_url":
                                                 "https://github.com/bench/remote.git"}})
    return [
        ("chunked-50MiB", lambda s: s.chunked("/api/v1/validate", 50 * MIB)),
        ("declared-50MiB", lambda s: s.declared("/api/v1/validate", 50 * MIB)),
        ("json-deep-100000", lambda s: s.call("POST", "/api/v1/validate", deep)),
        ("json-400000-objects", lambda s: s.call("POST", "/api/v1/validate", flat)),
        ("json-99999-objects", lambda s: s.call("POST", "/api/v1/validate", under)),
        ("json-nul", lambda s: s.call("POST", "/api/v1/pipelines",
                                      '{"project": "x", "name": "a\\u0000"}')),
        ("json-lone-surrogate", lambda s: s.call("POST", "/api/v1/pipelines/bench:web/executions",
                                                 '{"message": "\\ud800"}')),
        ("json-nan", lambda s: s.call("PUT", "/api/v1/settings/bench",
                                      '{"executorQuota": NaN}')),
        ("json-control-name", lambda s: s.call("POST", "/api/v1/pipelines",
                                               '{"na\\nme": "x"}')),
        ("url-crlf-link", lambda s: s.call("GET", "/blue/rest/organizations/jenkins/pipelines/"
                                                  "?x=%0d%0aSet-Cookie:%20a=b")),
        ("url-non-ascii-digits", lambda s: s.call("GET", "/api/v1/executions?limit=%D9%A1")),
        ("hook-deep-json", hook(deep.encode())),
        ("yaml-alias-bomb-validate", lambda s: s.call("POST", "/api/v1/validate",
                                                      json.dumps({"config": ALIAS_BOMB}))),
        ("yaml-alias-bomb-put", lambda s: s.call("PUT", "/api/v1/pipelines/bench:web",
                                                 json.dumps({"inlineConfig": ALIAS_BOMB}))),
        ("yaml-alias-bomb-pr-hook", lambda s: (provider.serve(ALIAS_BOMB.encode()),
                                               s.hook(pull_request.encode(), "pull_request",
                                                      "bench:remote"))[1]),
        ("yaml-deep-10000", lambda s: s.call("POST", "/api/v1/validate",
                                             json.dumps({"config": DEEP_YAML}))),
        ("yaml-2MiB", lambda s: s.call("POST", "/api/v1/validate",
                                       json.dumps({"config": BIG_YAML}))),
        ("scm-answer-100MiB", lambda s: (provider.serve(b"x" * MIB, repeat=100),
                                         s.hook(pull_request.encode(), "pull_request",
                                                "bench:remote"))[1]),
    ]


class Server:
    """`jenkins-sidecar serve` in its own process group, with a capped address space."""

    def __init__(self, directory: Path, provider_port: int, cap_mb: int):
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
        env.update(SIDECAR_BIND=f"127.0.0.1:{self.port}",
                   SIDECAR_DATABASE_URL=f"sqlite:///{directory / 'bench.db'}",
                   SIDECAR_OUTBOUND_ALLOW="127.0.0.1/32")
        cap = cap_mb * MIB

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sidecar.cli", "serve", "--threads", "8"], env=env,
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=limit)
        self.pid = self.process.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.call("GET", "/healthz") == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the sidecar did not start")

    def call(self, method: str, path: str, body: str | bytes | None = None,
             headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={
                "Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def hook(self, body: bytes, event: str = "push", pipeline: str = "bench:web"):
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return self.call("POST", f"/hooks/github?pipeline={pipeline}", body, {
            "X-GitHub-Event": event, "X-GitHub-Delivery": str(time.monotonic()),
            "X-Hub-Signature-256": signature})

    def chunked(self, path: str, size: int):
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         "application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            answer = bytearray()
            reader = threading.Thread(target=drain, args=(sock, answer), daemon=True)
            reader.start()
            frame, sent = b"10000\r\n" + b"[" * 0x10000 + b"\r\n", 0
            try:
                while sent < size and not answer:
                    sock.sendall(frame)
                    sent += 0x10000
                sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass
            reader.join(60)
        return int(answer[9:12]) if answer[:5] == b"HTTP/" else "none"

    def declared(self, path: str, size: int):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.putrequest("POST", path)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(size))
            connection.endheaders()
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


class Provider:
    """A fake Git provider API on 127.0.0.1 answering every GET with the body set last."""

    def __init__(self):
        self.body, self.repeat = CONFIG.encode(), 1
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for _ in range(provider.repeat):
                        self.wfile.write(provider.body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def serve(self, body: bytes, repeat: int = 1) -> None:
        self.body, self.repeat = body, repeat

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Sampler:
    """Samples the summed RSS of a process tree every 10 ms, keeping the peak."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> int:
        baseline = rss_of(self.pid)
        self.peak = baseline
        self._thread.start()
        return baseline

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_of(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss_of(self.pid))


def rss_of(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    for each in process_tree(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
            total += next(int(line.split()[1]) * 1024 for line in status.splitlines()
                          if line.startswith("VmRSS:"))
        except (OSError, StopIteration):  # it ended meanwhile, or is a zombie
            continue
    return total


def drain(sock: socket.socket, into: bytearray) -> None:
    """Read what the socket gives into a buffer until it ends or fails."""
    try:
        while data := sock.recv(65536):
            into.extend(data)
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
