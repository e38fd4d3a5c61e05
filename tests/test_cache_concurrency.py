"""Each cache that sidecar/cache/tools.py calls ``shared`` survives two writers at once.

Two real tool processes write one cache directory at the same time (a rendezvous in
the local registry or build backend holds each until the other has started), then
both installs are checked file by file, the cache is checked whole, and a third
install is served from the cache alone. Temporary files go to another file system
than the cache, as in a pod (container /tmp vs a hostPath), so a tool that renames
from its temp dir into the cache would be caught copying instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest

from cachetools_support import (Registry, Rendezvous, go_main, go_proxy, npm_registry, payload,
                               python_index)
from sidecar.cache.tools import KNOWN, SHARED, policy

PIP_PACKAGES = [f"cachet-pkg{i}" for i in range(12)]
NPM_PACKAGES = [f"cachet-npm{i}" for i in range(15)]


@pytest.fixture
def tool_tmp(tmp_path):
    """A TMPDIR on another file system than tmp_path when the machine has one."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)) or shm.stat().st_dev == tmp_path.stat().st_dev:
        yield tmp_path / "tmp"
        return
    path = Path(os.path.join(shm, f"cachetest-{os.getpid()}-{tmp_path.name}"))
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_together(commands: list[tuple[list[str], dict, Path]], timeout: float = 240) -> list[str]:
    """Start every command, then wait for all; fail with its output if any fails."""
    procs = []
    for argv, env, cwd in commands:
        out = open(cwd / "output.log", "w+")
        procs.append((subprocess.Popen(argv, env=env, cwd=cwd, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), out))
    outputs = []
    for proc, out in procs:
        code = proc.wait(timeout=timeout)
        out.seek(0)
        outputs.append(out.read())
        out.close()
        assert code == 0, outputs[-1][-4000:]
    return outputs


def tool_env(tmp: Path, **extra: str) -> dict:
    """The environment less anything that points a tool at the user's own config."""
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "npm_", "NPM_", "GO"))}
    # PIP_CONFIG_FILE: no machine-wide index or constraints file takes part.
    return {**env, "TMPDIR": str(tmp), "PIP_CONFIG_FILE": os.devnull, **extra}


def test_policy_table_is_proved_here():
    """Every path called shared is named by one of the tests below."""
    proofs = {"npm": "test_npm_cache_shared", "pip": "test_pip_cache_shared",
              "go": "test_go_caches_shared"}
    for known in KNOWN:
        if known.policy == SHARED:
            assert proofs[known.tool] in known.why
            assert proofs[known.tool] in globals()
    assert policy("/root/.unknown-tool") == "slot"


# ---- pip --------------------------------------------------------------------------

def pip(target: Path, cache: Path, index: str, env: dict, *extra: str) -> list[str]:
    """A pip install of the generated packages into a fresh target."""
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
            "--no-input", "--no-deps", "--trusted-host", "127.0.0.1", "--cache-dir", str(cache), "--index-url", index,
            "--target", str(target), *extra, *PIP_PACKAGES]


def assert_pip_installed(target: Path) -> None:
    """Each package's module and payload are byte for byte what was published."""
    for name in PIP_PACKAGES:
        module = target / name.replace("-", "_")
        assert (module / "__init__.py").read_text() == "VERSION = '1.0'\n"
        assert (module / "payload.bin").read_bytes() == payload(name), name


def assert_wheel_intact(wheel: Path) -> None:
    """A cached wheel opens, and every file matches the hash its RECORD gives."""
    with zipfile.ZipFile(wheel) as archive:
        assert archive.testzip() is None
        record = next(n for n in archive.namelist() if n.endswith("/RECORD"))
        for line in archive.read(record).decode().splitlines():
            path, digest, size = line.split(",")
            if digest:
                data = archive.read(path)
                want = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert (digest, int(size)) == (f"sha256={want}", len(data)), path


def test_pip_cache_shared(tmp_path, tool_tmp):
    """Two pip installs fill one --cache-dir at once; a third is served by it alone."""
    cache, barrier = tmp_path / "cache", tmp_path / "barrier"
    barrier.mkdir()
    with Registry(python_index(PIP_PACKAGES)) as registry:
        index = registry.url + "/simple"
        runs = []
        for run in ("a", "b"):
            work = tmp_path / run
            work.mkdir()
            env = tool_env(tool_tmp / run, CACHETEST_RUN=run, CACHETEST_BARRIER=str(barrier),
                           CACHETEST_PARTIES="2", CACHETEST_LOG=str(tmp_path / "builds.log"))
            runs.append((pip(work / "target", cache, index, env), env, work))
        run_together(runs)
        for run in ("a", "b"):
            assert_pip_installed(tmp_path / run / "target")
        # Both built wheels, and their builds overlapped in time.
        spans = {"a": [], "b": []}
        for line in (tmp_path / "builds.log").read_text().splitlines():
            run, start, end = line.split()
            spans[run].append((float(start), float(end)))
        assert spans["a"] and spans["b"]
        assert max(min(s for s, _ in spans[r]) for r in spans) < min(max(e for _, e in spans[r]) for r in spans)
        wheels = sorted(cache.glob("wheels/**/*.whl"))
        assert len(wheels) == len(PIP_PACKAGES)
        for wheel in wheels:
            assert_wheel_intact(wheel)
        # Only index pages answer now: every file must come from the cache.
        registry.artefacts_served = False
        third = tmp_path / "c"
        third.mkdir()
        env = tool_env(tool_tmp / "c")
        (output,) = run_together([(pip(third / "target", cache, index, env), env, third)])
        assert output.count("Using cached") == len(PIP_PACKAGES)  # built wheels, not sdists
        assert_pip_installed(third / "target")
        downloads = tmp_path / "d"
        downloads.mkdir()
        run_together([([sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
                        "--no-deps", "--no-binary", ":all:", "--trusted-host", "127.0.0.1", "--cache-dir", str(cache),
                        "--index-url", index, "-d", str(downloads / "sdists"), *PIP_PACKAGES],
                       env, downloads)])
        for name in PIP_PACKAGES:
            sdist = downloads / "sdists" / f"{name.replace('-', '_')}-1.0.tar.gz"
            assert sdist.read_bytes() == registry.routes[f"/files/{sdist.name}"].body


# ---- npm --------------------------------------------------------------------------

def npm_project(work: Path, registry: str) -> Path:
    """A project depending on the head of the generated chain and a few others."""
    work.mkdir(parents=True)
    deps = {name: "^1.0.0" for name in NPM_PACKAGES[::5]}
    (work / "package.json").write_text(json.dumps({"name": work.name, "version": "1.0.0",
                                                   "private": True, "dependencies": deps}))
    (work / ".npmrc").write_text(f"registry={registry}/\naudit=false\nfund=false\n"
                                 "update-notifier=false\n")
    return work


def npm(cache: Path, *args: str) -> list[str]:
    """An npm command on one cache, no user config."""
    return ["npm", *args, "--cache", str(cache), "--userconfig", os.devnull,
            "--no-audit", "--no-fund", "--update-notifier=false", "--loglevel", "http"]


def assert_npm_installed(project: Path) -> None:
    """Every package of the chain is unpacked with the published payload."""
    for name in NPM_PACKAGES:
        package = project / "node_modules" / name
        assert json.loads((package / "package.json").read_text())["name"] == name
        assert (package / "payload.bin").read_bytes() == payload(name), name


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_cache_shared(tmp_path, tool_tmp):
    """Two npm installs fill one --cache at once; verify finds no damage; offline works."""
    cache = tmp_path / "cache"
    clients = {"run-a", "run-b"}
    gate = Rendezvous(clients, key=lambda handler: handler.headers.get("User-Agent", ""))
    with Registry({}, gate) as registry:
        registry.routes.update(npm_registry(NPM_PACKAGES, registry.url))
        runs = []
        for run in ("a", "b"):
            project = npm_project(tmp_path / run, registry.url)
            runs.append((npm(cache, "install", "--user-agent", f"run-{run}"),
                         tool_env(tool_tmp / run), project))
        run_together(runs)
        assert gate.met and gate.arrived == clients
        tarballs = [path for path in registry.routes if path.endswith(".tgz")]
        # Each tarball was fetched, some by both runs: both wrote content entries.
        requests = [registry.requested(path) for path in tarballs]
        assert min(requests) >= 1 and sum(requests) > len(tarballs)
    for run in ("a", "b"):
        assert_npm_installed(tmp_path / run)
    env = tool_env(tool_tmp / "c")
    (verified,) = run_together([(npm(cache, "cache", "verify"), env, tmp_path)])
    assert "Corrupted content removed" not in verified and "Missing content" not in verified
    # One packument and one tarball per package, each indexed once.
    assert re.search(r"Content verified: (\d+)", verified).group(1) == str(2 * len(NPM_PACKAGES))
    assert re.search(r"Index entries: (\d+)", verified).group(1) == str(2 * len(NPM_PACKAGES))
    # The registry is shut down (same address, the cache's key): only the cache is left.
    offline = npm_project(tmp_path / "c", registry.url)
    run_together([(npm(cache, "install", "--offline"), env, offline)])
    assert_npm_installed(offline)


# ---- Go ---------------------------------------------------------------------------

GO_MODULES = 10


def go_project(work: Path) -> tuple[Path, int]:
    """A program that imports every generated module, and what it must print."""
    gomod, main, expected = go_main(GO_MODULES)
    work.mkdir(parents=True)
    (work / "go.mod").write_text(gomod)
    (work / "main.go").write_text(main)
    return work, expected


def go_env(tmp: Path, caches: Path, proxy: str) -> dict:
    """One GOMODCACHE and one GOCACHE for every run; no checksum database, no network."""
    return tool_env(tmp, GOPATH=str(caches / "gopath"), GOMODCACHE=str(caches / "go" / "pkg" / "mod"),
                    GOCACHE=str(caches / ".cache" / "go-build"), GOPROXY=proxy, GOSUMDB="off",
                    GOFLAGS="-mod=mod", GOTOOLCHAIN="local", HOME=str(tmp))


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_go_caches_shared(tmp_path, tool_tmp):
    """Two go builds download into one GOMODCACHE and compile into one GOCACHE at once."""
    caches = tmp_path / "caches"
    gate = Rendezvous({"a", "b"}, key=lambda handler: handler.path.split("/")[1])
    with Registry(go_proxy(GO_MODULES, ("a", "b")), gate) as registry:
        runs, expected = [], 0
        for run in ("a", "b"):
            project, expected = go_project(tmp_path / run)
            env = go_env(tool_tmp / run, caches, f"{registry.url}/{run}")
            runs.append((["go", "build", "-o", "app", "."], env, project))
        run_together(runs)
        assert gate.met
        zips = [path for path in registry.routes if path.endswith(".zip")]
        assert all(registry.requested(path) <= 1 for path in zips)
        assert sum(registry.requested(path) for path in zips) >= GO_MODULES
    for run in ("a", "b"):
        printed = subprocess.run([str(tmp_path / run / "app")], capture_output=True, text=True)
        assert printed.stdout.strip() == str(expected)
    offline = go_env(tool_tmp / "c", caches, "off")
    (verified,) = run_together([(["go", "mod", "verify"], offline, tmp_path / "a")])
    assert "all modules verified" in verified
    # A third build with no proxy: every module comes from GOMODCACHE, every module
    # package from GOCACHE (go build -x would show a compile with -p cachet.test/mN).
    third, _ = go_project(tmp_path / "c")
    shutil.copy(tmp_path / "a" / "go.sum", third / "go.sum")
    (built,) = run_together([(["go", "build", "-x", "-o", "app", "."], offline, third)])
    assert "-p cachet.test/m" not in built
    assert subprocess.run([str(third / "app")], capture_output=True, text=True).stdout.strip() == str(expected)
    # Rebuild everything and compare with the cache entries the two runs wrote.
    gocacheverify = {**offline, "GODEBUG": "gocacheverify=1"}
    run_together([(["go", "build", "-o", "app2", "."], gocacheverify, tmp_path / "b")])
