"""Each cache that sidecar/cache/tools.py calls ``shared`` survives two writers at once.

Two real tool processes write one cache directory at the same time (a rendezvous in
the local registry or build backend holds each until the other has started), then
both installs are checked file by file, the cache is checked whole, and a third
install is served from the cache alone. Temporary files go to another file system
than the cache, as in a pod (container /tmp vs a hostPath), where a move from the temp
dir into the cache is a copy, not an atomic rename.
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

from cachetools_support import (Registry, Rendezvous, go_main, go_proxy, lock_waiters, npm_registry,
                               payload, python_index)
from sidecar.cache.tools import KNOWN, SHARED, policy

PIP_PACKAGES = [f"cachet-pkg{i}" for i in range(12)]
NPM_PACKAGES = [f"cachet-npm{i}" for i in range(15)]
GO_SETTINGS = {"GOFLAGS", "GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOINSECURE",
               "GOSUMDB", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV", "GODEBUG"}


@pytest.fixture
def tool_tmp(tmp_path):
    """A TMPDIR on another file system than tmp_path when the machine has one."""
    shm = Path("/dev/shm")
    usable = shm.is_dir() and os.access(shm, os.W_OK)
    if not usable or shm.stat().st_dev == tmp_path.stat().st_dev:
        yield tmp_path / "tmp"
        return
    path = Path(os.path.join(shm, f"cachetest-{os.getpid()}-{tmp_path.name}"))
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_together(commands: list[tuple[list[str], dict, Path]], timeout: float = 240,
                 pids: dict[str, int] | None = None) -> list[str]:
    """Start every command, then wait for all; fail with its output if any fails.

    pids: filled with each command's process id, by the name of its directory.
    """
    procs = []
    for argv, env, cwd in commands:
        out = open(cwd / "output.log", "w+")
        procs.append((subprocess.Popen(argv, env=env, cwd=cwd, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), out))
        if pids is not None:
            pids[cwd.name] = procs[-1][0].pid
    codes = [proc.wait(timeout=timeout) for proc, _ in procs]
    outputs = []
    for _, out in procs:  # every log is closed before any failure is told
        out.seek(0)
        outputs.append(out.read())
        out.close()
    for code, output in zip(codes, outputs):
        assert code == 0, output[-4000:]
    return outputs


def tool_env(tmp: Path, **extra: str) -> dict:
    """The environment less anything that points a tool at the user's own config."""
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "npm_", "NPM_")) and k not in GO_SETTINGS}
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

def pip(target: Path, cache: Path, index: str) -> list[str]:
    """A pip install of the generated packages into a fresh target.

    pip caches HTTP responses only from secure or trusted hosts, hence --trusted-host.
    """
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
            "--no-input", "--no-deps", "--trusted-host", "127.0.0.1", "--cache-dir", str(cache),
            "--index-url", index, "--target", str(target), *PIP_PACKAGES]


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


def assert_runs_overlapped(log: Path) -> None:
    """Both runs ran the build backend, and their spans of backend work intersect."""
    spans: dict[str, list[tuple[float, float]]] = {"a": [], "b": []}
    for line in log.read_text().splitlines():
        run, start, end = line.split()
        spans[run].append((float(start), float(end)))
    assert spans["a"] and spans["b"]
    first_starts = [min(start for start, _ in spans[run]) for run in spans]
    last_ends = [max(end for _, end in spans[run]) for run in spans]
    assert max(first_starts) < min(last_ends)


def pip_from_cache_only(tmp_path: Path, tool_tmp: Path, cache: Path, index: str) -> dict:
    """A third install and a source download while the index serves no files."""
    env = tool_env(tool_tmp / "c")
    third, downloads = tmp_path / "c", tmp_path / "d"
    third.mkdir()
    downloads.mkdir()
    (output,) = run_together([(pip(third / "target", cache, index), env, third)])
    assert output.count("Using cached") == len(PIP_PACKAGES)  # the built wheels, no sdist
    assert_pip_installed(third / "target")
    run_together([([sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
                    "--no-deps", "--no-binary", ":all:", "--trusted-host", "127.0.0.1",
                    "--cache-dir", str(cache), "--index-url", index, "-d", "sdists",
                    *PIP_PACKAGES], env, downloads)])
    return {path.name: path.read_bytes() for path in (downloads / "sdists").iterdir()}


def test_pip_cache_shared(tmp_path, tool_tmp):
    """Two pip installs fill one --cache-dir at once; a third is served by it alone."""
    cache, barrier, log = tmp_path / "cache", tmp_path / "barrier", tmp_path / "builds.log"
    barrier.mkdir()
    with Registry(python_index(PIP_PACKAGES)) as registry:
        index, runs = registry.url + "/simple", []
        for run in ("a", "b"):
            (tmp_path / run).mkdir()
            env = tool_env(tool_tmp / run, CACHETEST_RUN=run, CACHETEST_BARRIER=str(barrier),
                           CACHETEST_PARTIES="2", CACHETEST_LOG=str(log))
            runs.append((pip(tmp_path / run / "target", cache, index), env, tmp_path / run))
        run_together(runs)
        for run in ("a", "b"):
            assert_pip_installed(tmp_path / run / "target")
        assert_runs_overlapped(log)
        wheels = sorted(cache.glob("wheels/**/*.whl"))
        assert len(wheels) == len(PIP_PACKAGES)
        for wheel in wheels:
            assert_wheel_intact(wheel)
        registry.artefacts_served = False  # index pages only: files must come from the cache
        sdists = pip_from_cache_only(tmp_path, tool_tmp, cache, index)
        published = {path.rsplit("/", 1)[1]: route.body for path, route in registry.routes.items()
                     if path.startswith("/files/")}
        assert sdists == published


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
        # Every packument and tarball reached the cache, and some were fetched (so
        # written) by both runs: the requests held at the rendezvous were in flight at once.
        requests = [registry.requested(path) for path in registry.routes]
        assert min(requests) >= 1 and sum(requests) > len(requests)
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
    return tool_env(tmp, GOPATH=str(caches / "gopath"), GOPROXY=proxy, GOSUMDB="off",
                    GOMODCACHE=str(caches / "go" / "pkg" / "mod"),
                    GOCACHE=str(caches / ".cache" / "go-build"),
                    GOFLAGS="-mod=mod", GOTOOLCHAIN="local", HOME=str(tmp))


def printed(program: Path) -> str:
    """What a built program prints."""
    return subprocess.run([str(program)], capture_output=True, text=True, check=True).stdout.strip()


def go_from_cache_only(tmp_path: Path, env: dict, expected: int) -> None:
    """With no proxy: modules verify, a new build compiles no module, GOCACHE matches."""
    (verified,) = run_together([(["go", "mod", "verify"], env, tmp_path / "a")])
    assert "all modules verified" in verified
    third, _ = go_project(tmp_path / "c")
    shutil.copy(tmp_path / "a" / "go.sum", third / "go.sum")
    (built,) = run_together([(["go", "build", "-x", "-o", "app", "."], env, third)])
    assert "-p cachet.test/m" not in built  # go build -x shows each compile's package
    assert printed(third / "app") == str(expected)
    # Rebuild everything and compare with the cache entries the two runs wrote.
    run_together([(["go", "build", "-o", "app2", "."], {**env, "GODEBUG": "gocacheverify=1"},
                   tmp_path / "b")])


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_go_caches_shared(tmp_path, tool_tmp):
    """Two go builds download into one GOMODCACHE and compile into one GOCACHE at once."""
    caches = tmp_path / "caches"
    # go locks each module in the shared cache before it downloads it: one build may lock
    # them all while its first download waits here, and the other then waits for those
    # locks and asks nothing. Found waiting for a lock, it counts as running.
    pids: dict[str, int] = {}
    gate = Rendezvous({"a", "b"}, key=lambda handler: handler.path.split("/")[1],
                      blocked=lambda: {run for run, pid in list(pids.items()) if pid in lock_waiters()})
    with Registry(go_proxy(GO_MODULES, ("a", "b")), gate) as registry:
        runs, expected = [], 0
        for run in ("a", "b"):
            project, expected = go_project(tmp_path / run)
            env = go_env(tool_tmp / run, caches, f"{registry.url}/{run}")
            runs.append((["go", "build", "-o", "app", "."], env, project))
        run_together(runs, pids=pids)
        assert gate.met
        # The module cache's lock let exactly one of the two download each module.
        zips = [registry.requested(path) for path in registry.routes if path.endswith(".zip")]
        assert max(zips) <= 1 and sum(zips) == GO_MODULES
    for run in ("a", "b"):
        assert printed(tmp_path / run / "app") == str(expected)
    go_from_cache_only(tmp_path, go_env(tool_tmp / "c", caches, "off"), expected)
