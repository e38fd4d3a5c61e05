"""What one scrape of /metrics costs: the database gauges, and merging the processes' files.

    python benchmarks/metrics_scrape.py [--executions 100000] [--processes 9]
                                        [--database-url URL]

The database part fills an empty database (SQLite in a temporary directory unless
--database-url names an empty one) with executions in a realistic mix of states and
times the collector's queries. The multiprocess part lets --processes writer processes
record a busy replica's label sets (every API route template, every Jenkins endpoint,
every result) into one directory, as serve's workers and engine do, and times the
render that merges them. Medians of 20 runs after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
from sidecar.metrics import record
routes = [f"/api/v1/route{i}/<id>" for i in range(60)]
endpoints = [f"/job/{{job}}/{{n}}/endpoint{i}" for i in range(15)]
for route in routes:
    for method in ("GET", "POST"):
        for status in (200, 201, 400, 404, 500):
            record.http_request(route, method, status, 0.01)
for endpoint in endpoints:
    record.jenkins_request("GET", endpoint, 0.05)
    record.jenkins_request("GET", endpoint, 0.05, "unavailable")
record.sync_cycle(0.3)
"""


def _median_ms(action, runs: int = 20) -> float:
    action()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def database_gauges(url: str, count: int) -> float:
    """Median ms of one collection of the database gauges over count executions."""
    from sqlalchemy import insert

    from sidecar.metrics.state import DatabaseState
    from sidecar.store import Store
    from sidecar.store.models import Execution, Pipeline, utcnow

    store = Store(url)
    store.migrate()
    now = utcnow()
    with store.session() as session:
        session.add(Pipeline(id="bench:app", project="bench", name="app"))
    states = ["Success"] * 90 + ["Failed"] * 6 + ["Building"] * 2 + ["Waiting", "Pending"]
    with store.engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(insert(Execution), [
                {"id": f"bench:app-{i}", "pipeline_id": "bench:app", "project": "bench",
                 "run": i, "state": random.choice(states), "jenkins_queue_id": i,
                 "created_at": now - timedelta(seconds=i), "detailed_at": now}
                for i in range(start, min(start + 10_000, count))])
    collector = DatabaseState(store)
    try:
        return _median_ms(lambda: list(collector.collect()))
    finally:
        store.dispose()


def merged_render(processes: int, url: str) -> tuple[float, int]:
    """Median ms of a render merging processes' files, and the page's size in bytes."""
    from sidecar.metrics import multiprocess

    directory = multiprocess.enable()
    try:
        for _ in range(processes):
            subprocess.run([sys.executable, "-c", WRITER], cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        from sidecar.metrics import exposition
        from sidecar.store import Store

        store = Store(url)
        size = len(exposition.render(store))
        took = _median_ms(lambda: exposition.render(store))
        store.dispose()
        return took, size
    finally:
        multiprocess.remove(directory)


def main() -> None:
    """Print both figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=9)
    parser.add_argument("--database-url", help="an empty database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{scratch}/bench.db"
        gauges = database_gauges(url, args.executions)
        print(f"database gauges, {args.executions:,} executions: {gauges:.1f} ms")
        took, size = merged_render(args.processes, url)
        print(f"render merging {args.processes} processes' files (plus the database "
              f"gauges): {took:.1f} ms, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
