"""Latency and throughput of the read API against 100,000 executions, under wrk.

Fills a store (SQLite by default, or ``--database-url``) with ``--executions`` ended
executions spread over ``--pipelines`` pipelines, three steps each with a short archived
log, then serves it with gunicorn: ``--workers`` processes (default 2 × cores + 1) of
``--threads`` threads, each worker building its own app (``sidecar.app.create_app``)
after the fork, with the service's logging (one access line per request). The load
generator is wrk (Debian package ``wrk``: ``apt-get install wrk``) on the same machine:
``--connections`` keep-alive connections (default 16) for ``--duration`` seconds per
endpoint, over random pipelines and runs, after a short warm-up of the same paths.
Printed per endpoint: p50 and p99 latency, requests per second, the CPU time the API
processes (gunicorn master and workers; not the database server) used per request, and
the 1-minute load average while it ran; ``/healthz`` of the same server is measured in
the same run as the ceiling of the HTTP stack. Client and server share the machine's
cores. On a shared or virtual machine the rate moves by up to a factor of two between
runs and the CPU per request by about a quarter: compare versions by several runs.

The server is the API process exactly as ``serve`` starts it (``jenkins-sidecar api``,
``SIDECAR_WORKERS`` from ``--workers``), without the engine process, so that only the
API is measured.

Run by hand: ``.venv/bin/python benchmarks/api_load.py [--executions 100000]
[--duration 10] [--connections 16] [--workers N] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import insert, text

from proctree import process_tree
from sidecar.render.naming import job_name
from sidecar.store import Store
from sidecar.store.models import Execution, LogChunk, Pipeline, StepState

CONFIG = ("stages:\n- name: Build\n  steps:\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}\n"
          "- name: Test\n  steps:\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go test ./...}\n")
STEPS = ((0, 0, "Build"), (0, 1, "Build"), (1, 0, "Test"))
STATES = ("Success",) * 8 + ("Failed", "Aborted")
BATCH = 5000
LOG = "".join(f"+ go build ./pkg/{n}\nok   example.com/pkg/{n}  0.{n:03d}s\n" for n in range(20))
WRK_SCRIPT = """
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  index = math.random(#paths)
end
request = function()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "micros": %d, "p50": %d, "p99": %d, ' ..
    '"bad": %d, "errors": %d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


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
    rows, steps, chunks = [], [], []
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
            chunks += [{"execution_id": execution_id, "stage_index": s, "step_index": i,
                        "offset": 0, "text": LOG} for s, i, _ in STEPS]
            if len(rows) >= BATCH:
                _flush(store, rows, steps, chunks)
    _flush(store, rows, steps, chunks)
    if store.engine.dialect.name == "postgresql":  # as autovacuum would after a bulk load
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    store.dispose()


def _flush(store: Store, rows: list, steps: list, chunks: list) -> None:
    with store.engine.begin() as connection:
        if rows:
            connection.execute(insert(Execution), rows)
            connection.execute(insert(StepState), steps)
            connection.execute(insert(LogChunk), chunks)
    for batch in (rows, steps, chunks):
        batch.clear()


def serve(url: str, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    """Start the API process (`jenkins-sidecar api`) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env.update(SIDECAR_DATABASE_URL=url, SIDECAR_BIND=f"127.0.0.1:{port}",
               SIDECAR_WORKERS=str(workers))
    command = [sys.executable, "-m", "sidecar.cli", "api", "--threads", str(threads)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=5).ok:
                return process, base
        except requests.RequestException:  # not listening yet, or busy starting workers
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not start within 120 s")


def wrk(base: str, paths: list[str], connections: int, seconds: int) -> dict:
    """Run wrk over the paths; its figures and the 1-minute load average meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp, "paths.lua"), Path(tmp, "paths.txt")
        script.write_text(WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        before = _load()
        output = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", str(script), base, "--", str(listing)],
            check=True, capture_output=True, text=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["load"] = max(before, _load())
    return result


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants alive now."""
    ticks = 0
    for each in process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def endpoints(pipelines: int, runs_each: int, count: int) -> dict[str, list[str]]:
    """Request paths per measured endpoint, over random pipelines and runs."""
    pick = random.Random(7)

    def bo() -> str:
        return job_name(f"bench:p{pick.randrange(pipelines):03d}")

    def native() -> str:
        return f"bench:p{pick.randrange(pipelines):03d}"

    blue = "/blue/rest/organizations/jenkins/pipelines"
    paths = {
        "Blue Ocean runs list (limit 25)": lambda: f"{blue}/{bo()}/runs/?start=0&limit=25",
        "Blue Ocean run detail": lambda: f"{blue}/{bo()}/runs/{pick.randint(1, runs_each)}/",
        "Blue Ocean nodes": lambda: f"{blue}/{bo()}/runs/{pick.randint(1, runs_each)}/nodes/",
        "Blue Ocean step log": lambda: f"{blue}/{bo()}/runs/{pick.randint(1, runs_each)}"
                                       "/steps/5/log/",
        "native executions list (limit 25)":
            lambda: f"/api/v1/executions?pipeline={native()}&limit=25",
        "native execution detail":
            lambda: f"/api/v1/executions/{native()}-{pick.randint(1, runs_each)}",
        "native step log":
            lambda: f"/api/v1/executions/{native()}-{pick.randint(1, runs_each)}"
                    "/steps/0/1/log",
        "/healthz": lambda: "/healthz",
    }
    return {name: [make() for _ in range(count)] for name, make in paths.items()}


def main() -> None:
    """Fill, serve, load with wrk, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--paths", type=int, default=5000, help="distinct paths per endpoint")
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=8,
                        help="threads per worker (serve's default)")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    random.seed(1)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        began = time.perf_counter()
        fill(url, args.executions, args.pipelines)
        print(f"stored {args.executions} executions in {time.perf_counter() - began:.1f} s",
              file=sys.stderr)
        process, base = serve(url, args.workers, args.threads)
        try:
            runs_each = args.executions // args.pipelines
            print(f"| endpoint ({args.executions} executions, {args.workers} workers × "
                  f"{args.threads} threads, wrk {args.connections} connections) | p50 | p99 "
                  "| requests/s | server CPU per request | load |\n"
                  "| --- | --- | --- | --- | --- | --- |")
            for name, paths in endpoints(args.pipelines, runs_each, args.paths).items():
                wrk(base, paths, args.connections, 2)  # warm-up: connections, first reads
                used = cpu_seconds(process.pid)
                result = wrk(base, paths, args.connections, args.duration)
                used = cpu_seconds(process.pid) - used
                if result["bad"] or result["errors"]:
                    raise SystemExit(f"{name}: {result}")
                rate = result["requests"] / (result["micros"] / 1e6)
                print(f"| {name} | {result['p50'] / 1000:.1f} ms | {result['p99'] / 1000:.1f} ms "
                      f"| {rate:.0f} | {1000 * used / result['requests']:.2f} ms "
                      f"| {result['load']:.1f} |", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
