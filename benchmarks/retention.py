"""Soak: database size over 100,000 runs with a keep-1,000 retention policy.

Adds ``--runs`` finished executions in rounds of ``--round`` to ``--pipelines`` pipelines
whose configs say ``discarder: {numToKeep: K}`` (K = ``--keep`` / pipelines), each run
with three step states and a 4 KiB archived log per step, and runs the engine's
retention sweep (``sidecar.services.retention.sweep``) after every round, as the engine
does every ``retention_interval``. After each sweep it prints the runs added so far, the
executions and log chunks left, and the database size:

- SQLite: the bytes in use (``(page_count - freelist_count) × page_size``) and the file
  size with its WAL; freed pages are reused, so the file stops growing once the kept
  window is full;
- PostgreSQL: ``pg_database_size`` (autovacuum reclaims dead rows for reuse).

A flat size column after the first rounds is the result. Run by hand:
``.venv/bin/python benchmarks/retention.py [--runs 100000] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import timedelta

from sqlalchemy import insert, text

from sidecar.services import retention
from sidecar.store import Store
from sidecar.store.models import Execution, LogChunk, Pipeline, StepState, utcnow

CONFIG = ("stages:\n- name: Build\n  steps:\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}\n"
          "- name: Test\n  steps:\n"
          "  - runScriptConfig: {image: golang:1.23, shellScript: go test ./...}\n"
          "discarder: {numToKeep: %d}\n")
STEPS = ((0, 0, "Build"), (0, 1, "Build"), (1, 0, "Test"))
LOG = ("compiling package %d of the module, all is well\n" * 80)[:4096]


def add_round(store: Store, pipelines: int, first_run: int, count: int, keep_each: int) -> None:
    """count finished runs spread over the pipelines, with steps and logs."""
    now = utcnow()
    executions, steps, logs = [], [], []
    for n in range(count):
        pipeline, run = n % pipelines, first_run + n // pipelines
        execution_id = f"soak:p{pipeline:02d}-{run}"
        executions.append({
            "id": execution_id, "pipeline_id": f"soak:p{pipeline:02d}", "project": "soak",
            "run": run, "state": "Success", "config_snapshot": CONFIG % keep_each,
            "jenkinsfile": "pipeline { }\n" * 40, "created_at": now, "started_at": now,
            "ended_at": now + timedelta(seconds=90)})
        for stage, step, name in STEPS:
            steps.append({"execution_id": execution_id, "stage_index": stage,
                          "step_index": step, "stage_name": name, "state": "Success"})
            logs.append({"execution_id": execution_id, "stage_index": stage,
                         "step_index": step, "offset": 0, "text": LOG})
    with store.engine.begin() as connection:
        connection.execute(insert(Execution), executions)
        connection.execute(insert(StepState), steps)
        connection.execute(insert(LogChunk), logs)


def size(store: Store) -> str:
    """The database's size as its backend counts it."""
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "sqlite":
            page = connection.execute(text("PRAGMA page_size")).scalar()
            used = (connection.execute(text("PRAGMA page_count")).scalar()
                    - connection.execute(text("PRAGMA freelist_count")).scalar()) * page
            path = store.engine.url.database
            on_disk = sum(os.path.getsize(p) for p in (path, path + "-wal")
                          if os.path.exists(p))
            return f"{used / 2**20:8.1f} MiB used, {on_disk / 2**20:8.1f} MiB on disk"
        return f"{connection.execute(text('SELECT pg_database_size(current_database())')).scalar() / 2**20:8.1f} MiB"  # noqa: E501


def main() -> None:
    """Fill, sweep, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--round", type=int, default=5_000)
    parser.add_argument("--keep", type=int, default=1_000, help="runs kept in all")
    parser.add_argument("--pipelines", type=int, default=10)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/soak.db"
    store = Store(url)
    store.migrate()
    keep_each = args.keep // args.pipelines
    with store.engine.begin() as connection:
        connection.execute(insert(Pipeline), [
            {"id": f"soak:p{p:02d}", "project": "soak", "name": f"p{p:02d}",
             "inline_config": CONFIG % keep_each} for p in range(args.pipelines)])
    print(f"{args.runs} runs over {args.pipelines} pipelines, {keep_each} kept each, "
          f"sweep after every {args.round}; {store.engine.dialect.name}")
    print(f"{'runs added':>10} {'kept':>6} {'log chunks':>10} {'sweep s':>8}  size")
    added = 0
    while added < args.runs:
        count = min(args.round, args.runs - added)
        add_round(store, args.pipelines, 1 + added // args.pipelines, count, keep_each)
        added += count
        began = time.perf_counter()
        retention.sweep(store, utcnow())
        took = time.perf_counter() - began
        with store.engine.connect() as connection:
            kept = connection.execute(text("SELECT count(*) FROM executions")).scalar()
            chunks = connection.execute(text("SELECT count(*) FROM log_chunks")).scalar()
        print(f"{added:>10} {kept:>6} {chunks:>10} {took:>8.2f}  {size(store)}", flush=True)
    store.dispose()


if __name__ == "__main__":
    main()
