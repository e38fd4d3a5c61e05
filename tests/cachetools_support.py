"""Local package registries and generated packages for the cache concurrency tests.

Everything is served from 127.0.0.1 or made in a temporary directory, so the tests run
offline. The registries can hold back the first request of each client until every
client has asked (a rendezvous): two installs then really write one cache at once. A
client that takes the cache's lock before it asks (Go locks each module, then downloads
it) may instead be found waiting for the other's lock, which is at once too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

PAYLOAD_BYTES = 256 * 1024  # incompressible, so every cache write is a real write


def payload(name: str) -> bytes:
    """Deterministic incompressible bytes for one generated package."""
    return random.Random(name).randbytes(PAYLOAD_BYTES)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class Route:
    """One response the registry serves."""

    body: bytes
    content_type: str = "application/octet-stream"
    cache_control: str = "max-age=86400"
    artefact: bool = True  # a file (tarball, zip), as opposed to an index page


@dataclass
class Rendezvous:
    """Hold each client's first request until every expected client has asked."""

    clients: set[str]
    key: Callable[[BaseHTTPRequestHandler], str]
    timeout: float = 60.0
    arrived: set[str] = field(default_factory=set)
    met: bool = False
    blocked: Callable[[], set[str]] = set
    """Clients waiting for a file lock now: they are running too, held by another's lock."""
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def enter(self, handler: BaseHTTPRequestHandler) -> bool:
        """False when the other clients never came."""
        client = self.key(handler)
        with self._cond:
            if client not in self.clients or client in self.arrived:
                return True
            self.arrived.add(client)
            self._cond.notify_all()
            deadline = time.monotonic() + self.timeout
            # A blocked client sends nothing, so its state is looked at, not waited for.
            while not (self.arrived | self.blocked()) >= self.clients:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            self.met = True
            return True


def lock_waiters() -> set[int]:
    """Processes waiting for a file lock now (the ``->`` lines of Linux's /proc/locks)."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return set()
    return {int(fields[5]) for fields in (line.split() for line in lines)
            if len(fields) > 5 and fields[1] == "->"}


class Registry:
    """A threaded HTTP server on 127.0.0.1 answering GETs from a route table."""

    def __init__(self, routes: dict[str, Route], rendezvous: Rendezvous | None = None):
        self.routes = routes
        self.rendezvous = rendezvous
        self.artefacts_served = True
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Registry:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requested(self, path: str) -> int:
        """How many times a path was asked for."""
        with self._lock:
            return sum(1 for _, asked in self.log if asked == path)

    def _answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, Route | None]:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.log.append((handler.headers.get("User-Agent", ""), path))
        if self.rendezvous and not self.rendezvous.enter(handler):
            return 503, None
        route = self.routes.get(path)
        if route is None or (route.artefact and not self.artefacts_served):
            return 404, None
        return 200, route

    def _handler_class(self):
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server hook name
                status, route = registry._answer(self)
                body = route.body if route else b"{}"
                self.send_response(status)
                kind = route.content_type if route else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if route:
                    self.send_header("Cache-Control", route.cache_control)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A gzipped tarball of path -> bytes, with fixed times so it is reproducible."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 1_600_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# A PEP 517 backend shipped inside each sdist: pip builds it with no build requirement,
# so no setuptools download is needed. Its first hook in each pip run waits for the
# other run (files in CACHETEST_BARRIER) and every build_wheel call logs its interval.
IN_TREE_BACKEND = '''
import base64, hashlib, json, os, pathlib, time, zipfile

META = json.loads(pathlib.Path(__file__).with_name("meta.json").read_text())


def _rendezvous():
    folder, run = os.environ.get("CACHETEST_BARRIER"), os.environ.get("CACHETEST_RUN")
    if not folder:
        return
    here = pathlib.Path(folder)
    (here / run).touch()
    deadline = time.monotonic() + 60
    while len(list(here.iterdir())) < int(os.environ["CACHETEST_PARTIES"]):
        if time.monotonic() > deadline:
            raise RuntimeError("the other install never started")
        time.sleep(0.005)


def get_requires_for_build_wheel(config_settings=None):
    _rendezvous()
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    started = time.time()
    name, version = META["module"], META["version"]
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\\n".encode(),
        f"{name}/payload.bin": pathlib.Path(__file__).with_name("payload.bin").read_bytes(),
        f"{info}/METADATA": (f"Metadata-Version: 2.1\\nName: {META['name']}\\n"
                             f"Version: {version}\\n").encode(),
        f"{info}/WHEEL": (b"Wheel-Version: 1.0\\nGenerator: cachetest\\n"
                          b"Root-Is-Purelib: true\\nTag: py3-none-any\\n"),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as out:
        for path, data in files.items():
            out.writestr(path, data)
    log = os.environ.get("CACHETEST_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{os.environ['CACHETEST_RUN']} {started} {time.time()}\\n")
    return wheel
'''


def python_sdist(name: str, version: str) -> bytes:
    """An sdist that builds with the in-tree backend above."""
    module = name.replace("-", "_")
    root = f"{module}-{version}"
    meta = {"name": name, "module": module, "version": version}
    pyproject = ('[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                 'backend-path = ["."]\n')
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    return tar_gz({f"{root}/pyproject.toml": pyproject.encode(),
                   f"{root}/PKG-INFO": pkg_info.encode(),
                   f"{root}/backend.py": IN_TREE_BACKEND.encode(),
                   f"{root}/meta.json": json.dumps(meta).encode(),
                   f"{root}/payload.bin": payload(name)})


def python_index(names: list[str], version: str = "1.0") -> dict[str, Route]:
    """A PEP 503 simple index with one sdist per name; pages revalidate, files cache."""
    routes: dict[str, Route] = {}
    for name in names:
        filename = f"{name.replace('-', '_')}-{version}.tar.gz"
        sdist = python_sdist(name, version)
        routes[f"/files/{filename}"] = Route(sdist)
        link = f'<a href="/files/{filename}#sha256={sha256(sdist)}">{filename}</a>'
        routes[f"/simple/{name}/"] = Route(f"<html><body>{link}</body></html>".encode(),
                                           "text/html", "max-age=0", artefact=False)
    return routes


def npm_registry(names: list[str], base_url: str, version: str = "1.0.0") -> dict[str, Route]:
    """Packuments and tarballs; each package depends on the next, so trees are deep."""
    routes: dict[str, Route] = {}
    for i, name in enumerate(names):
        deps = {names[i + 1]: f"^{version}"} if i + 1 < len(names) else {}
        manifest = {"name": name, "version": version, "dependencies": deps}
        tarball = tar_gz({"package/package.json": json.dumps(manifest).encode(),
                          "package/index.js": f"module.exports = {json.dumps(name)};\n".encode(),
                          "package/payload.bin": payload(name)})
        tar_path = f"/{name}/-/{name}-{version}.tgz"
        routes[tar_path] = Route(tarball)
        sha512 = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        dist = {"tarball": base_url + tar_path, "shasum": hashlib.sha1(tarball).hexdigest(),
                "integrity": f"sha512-{sha512}"}
        packument = {"name": name, "dist-tags": {"latest": version},
                     "versions": {version: {**manifest, "dist": dist}}}
        routes[f"/{name}"] = Route(json.dumps(packument).encode(), "application/json",
                                   "max-age=300", artefact=False)
    return routes


def go_proxy(count: int, prefixes: tuple[str, ...], version: str = "v1.0.0") -> dict[str, Route]:
    """A GOPROXY tree of modules cachet.test/mN, served under each prefix."""
    routes: dict[str, Route] = {}
    for i in range(count):
        path = f"cachet.test/m{i}"
        source = [f"package m{i}\n"] + [
            f"func F{j}(x int) int {{ if x%{j + 2} == 0 {{ return x*{j} + {i} }}; "
            f"return x - {j} }}\n"
            for j in range(300)]
        source.append(f"func Sum() int {{ return F1({i}) + F299({i}) }}\n")
        gomod = f"module {path}\n\ngo 1.19\n"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr(f"{path}@{version}/go.mod", gomod)
            archive.writestr(f"{path}@{version}/m{i}.go", "".join(source))
        files = {"list": Route(f"{version}\n".encode(), "text/plain", artefact=False),
                 f"{version}.info": Route(json.dumps({"Version": version,
                                                      "Time": "2026-01-01T00:00:00Z"}).encode()),
                 f"{version}.mod": Route(gomod.encode(), "text/plain"),
                 f"{version}.zip": Route(out.getvalue(), "application/zip")}
        for prefix in prefixes:
            for name, route in files.items():
                routes[f"/{prefix}/{path}/@v/{name}"] = route
    return routes


def go_main(count: int) -> tuple[str, str, int]:
    """go.mod and main.go of a program using every module, and what it prints."""
    requires = "".join(f"\tcachet.test/m{i} v1.0.0\n" for i in range(count))
    imports = "".join(f'\t"cachet.test/m{i}"\n' for i in range(count))
    total = " + ".join(f"m{i}.Sum()" for i in range(count))
    main = (f'package main\n\nimport (\n\t"fmt"\n{imports})\n\n'
            f'func main() {{ fmt.Println({total}) }}\n')
    # F1(i) and F299(i) as the generated source computes them.
    expected = sum((i * 1 + i if i % 3 == 0 else i - 1) + (i * 299 + i if i % 301 == 0 else i - 299)
                   for i in range(count))
    return f"module cachet.test/app\n\ngo 1.19\n\nrequire (\n{requires})\n", main, expected
