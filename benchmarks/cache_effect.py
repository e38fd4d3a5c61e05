"""What a warm cache directory saves for real installs from the public registries.

For each tool, a realistic dependency set is installed ``--repeat`` times with an
empty cache directory (cold) and ``--repeat`` times with the cache directory a
previous install left (warm, what the rendered pod mounts from the node). Everything
else is fresh each time: a new ``--target`` directory for pip, a new project with no
``node_modules`` for npm. The median wall-clock seconds of each are printed with
their ratio.

* pip: ``pip install --target`` of a web-service set (Flask, SQLAlchemy, pydantic,
  boto3, pandas, ...) from PyPI; the machine's pip configuration (local mirrors,
  find-links) is switched off so downloads really come from PyPI.
  This network's registry proxy strips ``Cache-Control`` from PyPI's answers, so pip's
  HTTP cache stores nothing here (cold = warm). ``pip+headers`` therefore also runs pip
  through a forwarding proxy on 127.0.0.1 that downloads from PyPI every time and puts
  back the headers PyPI itself sends (files: ``max-age=365000000, immutable``; index
  pages: ``max-age=600``), which is what a pod reaching PyPI directly gets.
* npm: ``npm ci --ignore-scripts`` of a front-end/back-end set (express, react,
  webpack, typescript, eslint, ...) from a lockfile made once beforehand from the npm
  registry, as a CI job runs it. Scripts are skipped: they would time the packages'
  own build steps, not the cache.

Each cold run downloads the whole set, so keep ``--repeat`` small (default 3) and
do not run this in a loop: it is a measurement, not a load test.

Run: ``.venv/bin/python benchmarks/cache_effect.py [--repeat N] [--tool pip|npm]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PIP_SET = ["requests", "flask", "sqlalchemy", "pydantic", "boto3", "celery", "redis",
           "psycopg[binary]", "alembic", "gunicorn", "pyyaml", "click", "rich", "httpx",
           "python-dateutil", "jsonschema", "cryptography", "numpy", "pandas", "pytest"]
NPM_SET = {"express": "^4", "react": "^18", "react-dom": "^18", "lodash": "^4",
           "axios": "^1", "webpack": "^5", "webpack-cli": "^5", "typescript": "^5",
           "eslint": "^8", "dayjs": "^1", "uuid": "^9", "chalk": "^4", "commander": "^11",
           "body-parser": "^1", "jsonwebtoken": "^9", "mongoose": "^8", "dotenv": "^16",
           "cors": "^2", "morgan": "^1", "babel-loader": "^9", "@babel/core": "^7"}


def clean_env() -> dict:
    """The environment without pip or npm settings that point at local mirrors."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "NPM_"))}
    return {**env, "PIP_CONFIG_FILE": os.devnull}


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    """Seconds one command takes; its failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def pip_install(work: Path, cache: Path, env: dict, index: str | None = None) -> float:
    """One pip install of the set into a fresh target directory."""
    target = work / "target"
    shutil.rmtree(target, ignore_errors=True)
    via = ["--index-url", index, "--trusted-host", "127.0.0.1"] if index else []
    return timed([sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
                  "--no-input", "--quiet", "--cache-dir", str(cache), "--target", str(target),
                  *via, *PIP_SET], work, env)


UPSTREAMS = {"/simple/": ("https://pypi.org/simple/", "max-age=600, public"),
             "/files/": ("https://files.pythonhosted.org/", "max-age=365000000, immutable, public")}


class PyPIHeaders(BaseHTTPRequestHandler):
    """Forward to PyPI, point file links back here, restore PyPI's Cache-Control."""

    def do_GET(self):  # noqa: N802 - the http.server hook name
        prefix = next((p for p in UPSTREAMS if self.path.startswith(p)), None)
        if prefix is None:
            self.send_error(404)
            return
        upstream, cache_control = UPSTREAMS[prefix]
        request = urllib.request.Request(upstream + self.path[len(prefix):],
                                         headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                body, content_type = answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            self.send_error(error.code)
            return
        if prefix == "/simple/":
            here = f"http://127.0.0.1:{self.server.server_port}/files/".encode()
            body = body.replace(UPSTREAMS["/files/"][0].encode(), here)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache_control)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def pypi_with_headers():
    """The forwarding proxy's index URL while it runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PyPIHeaders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def npm_project(work: Path) -> Path:
    """A project with the set and its lockfile, made once from the npm registry."""
    project = work / "template"
    project.mkdir(parents=True)
    (project / "package.json").write_text(json.dumps(
        {"name": "cache-effect", "version": "1.0.0", "private": True, "dependencies": NPM_SET}))
    (project / ".npmrc").write_text("registry=https://registry.npmjs.org/\naudit=false\n"
                                    "fund=false\nupdate-notifier=false\n")
    timed(["npm", "install", "--package-lock-only", "--ignore-scripts", "--cache",
           str(work / "lock-cache"), "--userconfig", os.devnull], project, clean_env())
    return project


def npm_ci(work: Path, cache: Path, env: dict) -> float:
    """One npm ci of the lockfile in a fresh copy of the project."""
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(work / "template", project)
    return timed(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--cache",
                  str(cache), "--userconfig", os.devnull], project, env)


def size_mb(path: Path) -> float:
    """Megabytes of the files under a directory (0 when it was never made)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def measure(tool: str, repeat: int) -> tuple[float, float, float]:
    """Median cold and warm seconds for one tool, and the warm cache's size."""
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix=f"cache-effect-{tool}-") as tmp:
        work = Path(tmp)
        if tool == "npm":
            npm_project(work)
        with pypi_with_headers() as index:
            return run_cold_then_warm(tool, work, env, index, repeat)


def run_cold_then_warm(tool: str, work: Path, env: dict, index: str, repeat: int):
    """Cold runs on empty caches, then warm runs on the last one; medians and size."""
    install = {"pip": pip_install, "npm": npm_ci,
               "pip+headers": lambda w, c, e: pip_install(w, c, e, index)}[tool]
    cold = []
    for i in range(repeat):
        cold.append(install(work, work / f"cold-cache-{i}", env))
        if i < repeat - 1:
            shutil.rmtree(work / f"cold-cache-{i}", ignore_errors=True)
    warm_cache = work / f"cold-cache-{repeat - 1}"  # the last cold run filled it
    warm = [install(work, warm_cache, env) for _ in range(repeat)]
    cached = size_mb(warm_cache)
    return statistics.median(cold), statistics.median(warm), cached


def main() -> None:
    """Measure the tools asked for and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tool", choices=["pip", "pip+headers", "npm"], action="append")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores, "
          f"{args.repeat} runs each, median seconds")
    for tool in args.tool or ["pip", "pip+headers", "npm"]:
        cold, warm, cached = measure(tool, args.repeat)
        print(f"{tool}: cold {cold:.1f} s, warm {warm:.1f} s, {cold / warm:.2f}x "
              f"(cache {cached:.0f} MB)", flush=True)


if __name__ == "__main__":
    main()
