"""A trace exported from the sidecar's own history replays to the hit rate it recorded.

We test, on SQLite and PostgreSQL: runs of six pipelines go through the real admission
and warm knowledge, each pod placed by the simulation's kube-scheduler on a small
cluster (4 nodes × 2 CPU, 1-CPU pods, so warm nodes are sometimes full) and its node
recorded; `history export` (the CLI) writes them as JSON lines whose cache hits are
exactly the runs that landed where the pipeline had finished before; and
`benchmarks/cache_sim.py --trace` replaying that file gives the same hit rate within
5 points. Also: a bad ``--since`` is a clear error.
"""

from __future__ import annotations

import heapq
import json
import random
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cache_sim  # noqa: E402
from sim_scheduler import Pod, affinity_terms  # noqa: E402

from sidecar.cache import scheme  # noqa: E402
from sidecar.cli import main  # noqa: E402
from sidecar.engine import warmth  # noqa: E402
from sidecar.engine.admission import admit  # noqa: E402
from sidecar.services import executions, pipelines, projects  # noqa: E402

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
CONFIG = """
stages:
- name: Build
  cache: {enabled: true, paths: [/root/.npm]}
  steps:
  - runScriptConfig: {image: node:20, shellScript: npm ci}
    cpuRequest: 1
    memoryRequest: 1Gi
"""
PARAMS = cache_sim.Params(nodes=4, cpu=2, mem_gib=8, budget_gib=1000, scheme="warm", seed=1)
SAVING = PARAMS.saving


class ClusterRun:
    """The sidecar's engine admitting runs; the simulated scheduler placing their pods."""

    def __init__(self, store):
        self.store, self.rng = store, random.Random(11)
        self.cluster = cache_sim.Cluster(PARAMS, random.Random(PARAMS.seed * 31 + 7))
        self.events, self.seq, self.pending, self.truth = [], 0, [], []
        self.finished: set[tuple[str, str]] = set()

    def push(self, at, kind, item):
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, item))

    def play(self, runs: int) -> None:
        at = 0.0
        for _ in range(runs):
            at += self.rng.expovariate(1 / 100)
            pipeline = f"shop:p{min(5, int(self.rng.paretovariate(1.2)) - 1)}"
            self.push(at, "arrive", (pipeline, self.rng.uniform(200, 400)))
        while self.events:
            now, _, kind, item = heapq.heappop(self.events)
            if kind == "arrive":
                self.arrive(now, *item)
            else:
                self.end(now, *item)

    def arrive(self, now, pipeline_id, base):
        with self.store.session() as session:
            execution = executions.trigger(session, pipeline_id, executions.TriggerRequest())
            execution.created_at = T0 + timedelta(seconds=now)
            assert admit(session, now=T0 + timedelta(seconds=now)) == [execution.id]
            self.pending.append((execution.id, pipeline_id, base))
        self.bind_pending(now)

    def bind_pending(self, now):
        still = []
        for execution_id, pipeline_id, base in self.pending:
            with self.store.session() as session:
                execution = executions.get(session, execution_id)
                known = warmth.knowledge(session, execution, self.cluster.names)
                pod = Pod(1000, 1024, terms=affinity_terms(scheme.affinity_for("warm", known)))
                node = self.cluster.schedule(pod)
                if node is None:
                    still.append((execution_id, pipeline_id, base))
                    continue
                node.free_cpu, node.free_mem = node.free_cpu - 1000, node.free_mem - 1024
                execution.started_at = T0 + timedelta(seconds=now)  # the pod started
                executions.record_node(session, execution, node.name, "test")
            hit = (pipeline_id, node.name) in self.finished
            self.truth.append(hit)
            self.push(now + base * (1 - SAVING if hit else 1), "end",
                      (execution_id, pipeline_id, node))
        self.pending = still

    def end(self, now, execution_id, pipeline_id, node):
        with self.store.session() as session:
            executions.finish(executions.get(session, execution_id), "Success",
                              at=T0 + timedelta(seconds=now))
        node.free_cpu, node.free_mem = node.free_cpu + 1000, node.free_mem + 1024
        self.finished.add((pipeline_id, node.name))
        self.bind_pending(now)


@pytest.fixture
def recorded(store, database_url, monkeypatch):
    with store.session() as session:
        for i in range(6):
            pipelines.create(session, {"project": "shop", "name": f"p{i}", "inlineConfig": CONFIG})
        projects.update_settings(session, "shop", {"executorQuota": 0})
    run = ClusterRun(store)
    run.play(120)
    monkeypatch.setenv("SIDECAR_DATABASE_URL", database_url)
    return run


def test_exported_trace_replays_to_the_recorded_hit_rate(recorded, tmp_path, capsys):
    trace = tmp_path / "trace.jsonl"
    assert main(["history", "export", "--output", str(trace)]) == 0
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(rows) == 120
    assert set(rows[0]) == {"pipeline", "executionId", "triggeredAt", "startedAt", "node",
                            "cacheSlot", "durationSeconds", "result", "cacheHit", "requests"}
    assert rows[0]["requests"]["cpuMillis"] >= 1000 and rows[0]["result"] == "Success"
    by_id = {r["executionId"]: r["cacheHit"] for r in rows}
    with recorded.store.session() as session:
        started = sorted(executions.listing(session, limit=1000), key=lambda e: e.started_at)
    assert sum(by_id.values()) == sum(recorded.truth)
    recorded_rate = sum(by_id.values()) / len(rows)
    assert 0.3 < recorded_rate < 0.98  # full warm nodes make some runs go cold
    assert len(started) == 120

    replayed = cache_sim.Simulation(replace(PARAMS, trace=str(trace))).run()
    assert abs(replayed["hit"] - recorded_rate) <= 0.05, (replayed["hit"], recorded_rate)

    assert main(["history", "export", "--since", "2026-11-01T12:00:00Z"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 120
    assert main(["history", "export", "--since", "yesterday"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err
