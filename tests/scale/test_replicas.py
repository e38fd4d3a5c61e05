"""Replicas on one database: exactly one engine acts, and failover loses and doubles nothing.

We test this aspect with real `jenkins-sidecar serve` processes against the fake Jenkins:
three replicas on PostgreSQL (one on SQLite, where a file lock allows one engine):

- 50 simultaneous triggers spread over the replicas: every execution is built exactly
  once, the project quota is never exceeded in Jenkins at any sampled moment, and the
  builds are queued in trigger order;
- SIGKILL of the leader with 10 runs in flight: another replica leads within 2 × TTL
  (SQLite: the restarted replica) and every run finishes once — also when a Kubernetes
  Lease elects the leader (the fake Kubernetes API), which then names the successor;
- SIGSTOP of the leader past its TTL, then SIGCONT: another leads meanwhile, the woken
  one stops without writing (fencing) and no build is duplicated;
- three replicas started at once on an empty database all come up, with one leader.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from fakes.jenkins import FakeJenkins
from fakes.kubernetes import FakeKubernetes
from replicas import (CONFIG, TOKEN, TTL, Replica, environment, lease_expired, leader_of,
                      script, wait_for)
from sidecar.engine.starter import EXECUTION_PARAMETER

QUOTA = 4


@pytest.fixture
def jenkins():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as fake:
        yield fake


@pytest.fixture
def kube():
    """A fake Kubernetes API (for the replicas that elect their leader with a Lease)."""
    with FakeKubernetes() as fake:
        yield fake


@pytest.fixture
def cluster(database_url, jenkins, tmp_path):
    """cluster(count, **env) -> started replicas; all are stopped afterwards."""
    made: list[Replica] = []

    def start(count: int, *, wait: bool = True, **extra: str) -> list[Replica]:
        env = environment(database_url, jenkins.url, **extra)
        replicas = [Replica(f"r{len(made) + i}", env, tmp_path) for i in range(count)]
        made.extend(replicas)
        for replica in replicas:
            replica.launch()
        if wait:
            for replica in replicas:
                wait_for(replica.ready, f"{replica.name} to be ready")
        return replicas

    yield start
    for replica in made:  # all at once: each takes a few seconds to stop gracefully
        replica.terminate()
    for replica in made:
        replica.stop()


def _replica_count(database_url: str) -> int:
    return 3 if database_url.startswith("postgresql") else 1


def _setup(replica: Replica, quota: int) -> None:
    for name in ("app", "lib"):
        replica.call("POST", "/api/v1/pipelines", {"project": "p", "name": name,
                                                   "inlineConfig": CONFIG})
    replica.call("PUT", "/api/v1/settings/p", {"executorQuota": quota})


def _trigger(replicas: list[Replica], count: int) -> list[str]:
    """count triggers at once, spread over the replicas and both pipelines."""
    def one(index: int) -> str:
        replica = replicas[index % len(replicas)]
        pipeline = ("app", "lib")[index % 2]
        return replica.call("POST", f"/api/v1/pipelines/p:{pipeline}/executions", {})["id"]
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, range(count)))


def _ended(replica: Replica, ids: list[str]) -> bool:
    return all(replica.call("GET", f"/api/v1/executions/{i}")["endedAt"] for i in ids)


def _built_once(fake: FakeJenkins, ids: list[str]) -> None:
    built = Counter(b.parameters[EXECUTION_PARAMETER] for b in list(fake.builds.values()))
    assert built == Counter(ids), "every execution built exactly once"


def test_fifty_triggers_over_the_replicas(cluster, jenkins, database_url):
    replicas = cluster(_replica_count(database_url), SIDECAR_WORKERS="2")
    _setup(replicas[0], QUOTA)
    ids = _trigger(replicas, 50)
    peak = 0

    def drive() -> bool:
        nonlocal peak
        running = sorted((b for b in list(jenkins.builds.values()) if b.result is None),
                         key=lambda b: b.queue_id)
        peak = max(peak, len(running))
        assert len(running) <= QUOTA, f"{len(running)} builds at once, quota {QUOTA}"
        # The oldest build ends only once the quota is full (or nothing else is left), so
        # the engine is pressed against the quota all along.
        if running and (len(running) == QUOTA or len(jenkins.builds) == 50):
            script(running[0])
        return len(jenkins.builds) == 50 and not running and _ended(replicas[-1], ids)

    wait_for(drive, "every execution to end", timeout=300)
    _built_once(jenkins, ids)
    assert peak == QUOTA
    executions = [replicas[0].call("GET", f"/api/v1/executions/{i}") for i in ids]
    assert {e["state"] for e in executions} == {"Success"}
    triggered = [e["id"] for e in sorted(executions, key=lambda e: (e["createdAt"], e["run"]))]
    queued = [b.parameters[EXECUTION_PARAMETER]
              for b in sorted(jenkins.builds.values(), key=lambda b: b.queue_id)]
    assert queued == triggered


@pytest.mark.parametrize("election", ["database", "kubernetes"])
def test_sigkill_of_the_leader_with_ten_runs_in_flight(kube, cluster, jenkins, database_url,
                                                        election):
    extra = {}
    if election == "kubernetes":
        if not database_url.startswith("postgresql"):
            pytest.skip("replicas share PostgreSQL; SQLite allows one engine per file")
        extra = {"SIDECAR_LEADER_ELECTION": "kubernetes", "SIDECAR_KUBERNETES_API": kube.url}
    replicas = cluster(_replica_count(database_url), **extra)
    _setup(replicas[0], 0)
    ids = _trigger(replicas, 10)
    wait_for(lambda: len(jenkins.builds) == 10, "ten builds")
    for build in list(jenkins.builds.values()):
        build.start_stage("step-0-0")
    leader, epoch = wait_for(lambda: leader_of(replicas), "a leader")
    killed_at = time.monotonic()
    leader.kill()
    survivors = [r for r in replicas if r is not leader]
    if not survivors:  # SQLite: one replica; it comes back and takes the file lock
        survivors = [leader]
        leader.start()
    successor, new_epoch = wait_for(
        lambda: (found := leader_of(survivors)) and found[1] > epoch and found,
        "another engine to lead")
    if len(replicas) > 1:
        assert successor is not leader
        assert time.monotonic() - killed_at <= 2 * TTL, "takeover within 2 × TTL"
    if election == "kubernetes":  # the Lease names the new leader, as `kubectl get lease` shows
        lease = kube.leases[("jenkins", "jenkins-sidecar-engine")]["spec"]
        assert (lease["holderIdentity"], lease["leaseTransitions"]) == (successor.name, 1)
    for build in list(jenkins.builds.values()):
        script(build)
    wait_for(lambda: _ended(survivors[0], ids), "every run to end")
    _built_once(jenkins, ids)
    assert {survivors[0].call("GET", f"/api/v1/executions/{i}")["state"] for i in ids} == \
        {"Success"}


def test_a_paused_leader_writes_nothing_when_it_wakes(cluster, jenkins, database_url):
    replicas = cluster(min(2, _replica_count(database_url)))
    _setup(replicas[0], 1)
    ids = _trigger(replicas, 6)
    wait_for(lambda: jenkins.builds, "a first build")
    leader, epoch = wait_for(lambda: leader_of(replicas), "a leader")
    leader.signal(signal.SIGSTOP)
    others = [r for r in replicas if r is not leader]
    try:
        if others:
            wait_for(lambda: (found := leader_of(others)) and found[1] > epoch,
                     "another engine to lead")
        else:  # SQLite: nobody may take the file lock from a paused process
            wait_for(lambda: lease_expired(database_url), "the paused leader's lease to expire")
    finally:
        leader.signal(signal.SIGCONT)
    if others:
        wait_for(lambda: "writes nothing more" in leader.log(), "the woken engine to stop")
    live = others or [leader]

    def drive() -> bool:
        for build in [b for b in list(jenkins.builds.values()) if b.result is None]:
            script(build)
        return len(jenkins.builds) == len(ids) and _ended(live[0], ids)

    wait_for(drive, "every run to end", timeout=120)
    _built_once(jenkins, ids)
    if others:
        assert "exited with status 3" in leader.log()  # stopped, then a fresh standby
        assert wait_for(lambda: leader_of(replicas), "a leader")[0] is not leader


def test_replicas_started_at_once_on_an_empty_database(cluster, database_url):
    replicas = cluster(3, wait=False)
    for replica in replicas:
        wait_for(replica.ready, f"{replica.name} to be ready")
    leaders = {r.engine()["leader"] for r in replicas}
    assert len(leaders) == 1 and leaders <= {r.name for r in replicas}
    for replica in replicas:
        assert replica.call("GET", "/api/v1/pipelines") == []
        assert "Traceback" not in replica.log()
