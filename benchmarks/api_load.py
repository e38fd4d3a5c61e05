"""Latency and throughput of the runs list and run detail against 100,000 executions.

Fills a store (SQLite by default, or ``--database-url``) with ``--executions`` ended
executions spread over ``--pipelines`` pipelines, three steps each, then starts the
real service (``jenkins-sidecar serve``: gunicorn, one worker with threads) on a free
loopback port and sends a bounded number of requests from ``--clients`` concurrent
client threads per endpoint. Printed per endpoint: p50 and p99 latency and requests
per second. Client and server share the machine's cores, so the figures are a floor.

Run by hand: ``.venv/bin/python benchmarks/api_load.py [--executions 100000]
[--requests 2000] [--clients 8] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import insert, text

from sidecar.render.naming import job_name
from sidecar.store import Store
from sidecar.store.models import Execution, Pipeline, StepState

CONFIG = ("stages:\n- name: Build\n  steps:\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}\n"
          "- name: Test\n  steps:\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go test ./...}\n")
STEPS = ((0, 0, "Build"), (0, 1, "Build"), (1, 0, "Test"))
STATES = ("Success",) * 8 + ("Failed", "Aborted")
BATCH = 5000


def fill(url: str, executions: int, pipelines: int) -> None:
    """Store the pipelines and their ended executions, in batches."""
    store = Store(url)
    store.migrate()
    runs_each = executions // pipelines
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with store.engine.begin() as connection:
        connection.execute(insert(Pipeline), [
            {"id": f"bench:p{p:03d}", "project": "bench", "name": f"p{p:03d}",
             "inline_config": CONFIG, "next_run": runs_each + 1} for p in range(pipelines)])
    rows, steps = [], []
    for p in range(pipelines):
        for run in range(1, runs_each + 1):
            created = start + timedelta(minutes=run * pipelines + p)
            execution_id = f"bench:p{p:03d}-{run}"
            rows.append({"id": execution_id, "pipeline_id": f"bench:p{p:03d}",
                         "project": "bench", "run": run, "state": random.choice(STATES),
                         "branch": "main", "commit": f"{run:040x}", "config_snapshot": CONFIG,
                         "jenkins_job": job_name(f"bench:p{p:03d}"), "jenkins_build": run,
                         "created_at": created, "started_at": created,
                         "ended_at": created + timedelta(minutes=3)})
            steps += [{"execution_id": execution_id, "stage_index": s, "step_index": i,
                       "stage_name": name, "state": "Success", "started_at": created,
                       "ended_at": created + timedelta(minutes=2)} for s, i, name in STEPS]
            if len(rows) >= BATCH:
                _flush(store, rows, steps)
    _flush(store, rows, steps)
    if store.engine.dialect.name == "postgresql":  # as autovacuum would after a bulk load
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    store.dispose()


def _flush(store: Store, rows: list, steps: list) -> None:
    with store.engine.begin() as connection:
        if rows:
            connection.execute(insert(Execution), rows)
            connection.execute(insert(StepState), steps)
    rows.clear()
    steps.clear()


def serve(url: str, threads: int) -> tuple[subprocess.Popen, str]:
    """Start `jenkins-sidecar serve` on a free loopback port; returns it and its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env.update(SIDECAR_DATABASE_URL=url, SIDECAR_BIND=f"127.0.0.1:{port}")
    command = [str(Path(sys.executable).with_name("jenkins-sidecar")), "serve",
               "--threads", str(threads)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).ok:
                return process, base
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not start within 60 s")


def load(base: str, paths: list[str], clients: int) -> tuple[list[float], float]:
    """Latencies (seconds) of GETs of every path, from `clients` threads; and wall time."""
    local = threading.local()

    def get(path: str) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        began = time.perf_counter()
        response = session.get(base + path, timeout=30)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text[:200]}")
        return elapsed

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(get, paths))
    return latencies, time.perf_counter() - began


def endpoints(pipelines: int, runs_each: int, count: int) -> dict[str, list[str]]:
    """Request paths per measured endpoint, over random pipelines and runs."""
    pick = random.Random(7)

    def pipeline() -> int:
        return pick.randrange(pipelines)

    blue = "/blue/rest/organizations/jenkins/pipelines"
    return {
        "Blue Ocean runs list (limit 25)": [
            f"{blue}/{job_name(f'bench:p{pipeline():03d}')}/runs/?start=0&limit=25"
            for _ in range(count)],
        "Blue Ocean run detail": [
            f"{blue}/{job_name(f'bench:p{pipeline():03d}')}/runs/{pick.randint(1, runs_each)}/"
            for _ in range(count)],
        "native executions list (limit 25)": [
            f"/api/v1/executions?pipeline=bench:p{pipeline():03d}&limit=25" for _ in range(count)],
        "native execution detail": [
            f"/api/v1/executions/bench:p{pipeline():03d}-{pick.randint(1, runs_each)}"
            for _ in range(count)],
    }


def main() -> None:
    """Fill, serve, load, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8, help="server threads")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    random.seed(1)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        began = time.perf_counter()
        fill(url, args.executions, args.pipelines)
        print(f"stored {args.executions} executions in {time.perf_counter() - began:.1f} s",
              file=sys.stderr)
        process, base = serve(url, args.threads)
        try:
            runs_each = args.executions // args.pipelines
            print(f"| endpoint ({args.executions} executions, {args.clients} clients) "
                  "| p50 | p99 | requests/s |\n| --- | --- | --- | --- |")
            for name, paths in endpoints(args.pipelines, runs_each, args.requests).items():
                load(base, paths[:50], args.clients)  # warm caches and connections
                latencies, wall = load(base, paths, args.clients)
                cuts = statistics.quantiles(latencies, n=100)
                print(f"| {name} | {cuts[49] * 1000:.1f} ms | {cuts[98] * 1000:.1f} ms "
                      f"| {len(paths) / wall:.0f} |", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
