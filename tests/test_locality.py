"""Locality-aware admission and the render's warm preferences, against the store.

We test, on SQLite and PostgreSQL: the hold rule itself (start when a warm node can take
the run, never hold without a warm cache to wait for, hold at most the limit); a run of
a slot-cache pipeline whose only warm slot is busy is held in Queueing with its reason,
and starts (with the freed warm slot) as soon as that run ends — or, cold in the next
slot, when the hold ends, by an injected clock; the next render stops preferring a node
whose cache gc reported pruned, or that left the cluster, and says why on the execution.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml
from fakes.jenkins import FakeJenkins

from sidecar.cache import locality
from sidecar.engine.admission import admit
from sidecar.engine.loop import Engine
from sidecar.jenkins import JenkinsClient
from sidecar.services import executions, nodecaches, pipelines, projects
from sidecar.store.models import NodeCache

TOKEN = "5e0c8a4d2b7f4e1a9c3b6d8e0f2a4c6e8b"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
GRADLE = """
stages:
- name: Build
  cache: {enabled: true, paths: [/root/.gradle]}
  steps:
  - runScriptConfig: {image: gradle:8, shellScript: gradle build}
"""
NPM = GRADLE.replace("/root/.gradle", "/root/.npm")


def test_hold_rule():
    limit = locality.max_hold(600, 0.35, 0.5)
    assert limit == pytest.approx(105)
    assert locality.max_hold(None, 0.35, 0.5) == 0
    start = locality.decide(usable=2, warm_elsewhere=True, room=None, held_for=None, limit=limit)
    assert not start.hold
    assert not locality.decide(usable=0, warm_elsewhere=False, room=None, held_for=None,
                               limit=limit).hold
    assert locality.decide(usable=2, warm_elsewhere=True, room=False, held_for=104,
                           limit=limit).hold
    ended = locality.decide(usable=0, warm_elsewhere=True, room=None, held_for=105, limit=limit)
    assert not ended.hold and "ended" in ended.reason


def _pipeline(store, config, name="build"):
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": name, "inlineConfig": config})
        projects.update_settings(session, "shop", {"executorQuota": 0})
    return f"shop:{name}"


def _trigger(store, pipeline_id) -> str:
    with store.session() as session:
        return executions.trigger(session, pipeline_id, executions.TriggerRequest()).id


def _end(store, execution_id, node, at):
    with store.session() as session:
        execution = executions.get(session, execution_id)
        executions.record_node(session, execution, node, "test")
        executions.finish(execution, "Success", at=at)


def _state(store, execution_id):
    with store.session() as session:
        e = executions.get(session, execution_id)
        return e.state, e.cache_slot, e.held_since is not None, e.reason, e.placement_note


@pytest.fixture
def busy_slot(store):
    """A finished run warmed slot 0 on node-1 (600 s run); a second run holds slot 0 now."""
    pipeline_id = _pipeline(store, GRADLE)
    first = _trigger(store, pipeline_id)
    with store.session() as session:
        assert admit(session, now=T0) == [first]
    _end(store, first, "node-1", T0 + timedelta(seconds=600))
    second = _trigger(store, pipeline_id)
    with store.session() as session:
        admit(session, now=T0 + timedelta(seconds=700))
    assert _state(store, second)[:2] == ("Building", 0)
    third = _trigger(store, pipeline_id)
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=800)) == []
        assert admit(session, now=T0 + timedelta(seconds=850)) == []
    state, slot, held, reason, _ = _state(store, third)
    assert (state, slot, held) == ("Queueing", None, True)
    assert "every warm slot is busy" in reason and "105s" in reason
    with store.session() as session:  # the hold shows on the execution as the API serves it
        shown = executions.view(executions.get(session, third))
    assert shown["heldSince"] and shown["reason"] == reason and shown["cacheSlot"] is None
    return second, third


def test_held_run_starts_as_soon_as_its_warm_slot_frees(store, busy_slot):
    second, third = busy_slot
    _end(store, second, "node-2", T0 + timedelta(seconds=860))
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=860)) == [third]
    state, slot, held, _, note = _state(store, third)
    assert (state, slot, held) == ("Building", 0, False)
    assert note.startswith("held 60s for a warm node; then a warm node can take it")


def test_held_run_starts_cold_in_the_next_slot_when_the_hold_ends(store, busy_slot):
    _, third = busy_slot
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=904)) == []
        assert admit(session, now=T0 + timedelta(seconds=905)) == [third]
    state, slot, held, _, note = _state(store, third)
    assert (state, slot, held) == ("Building", 1, False)
    assert "hold of 105s ended" in note


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as jenkins:
        yield jenkins


@pytest.mark.parametrize("loss", ["pruned", "node left"])
def test_next_render_drops_a_node_whose_cache_was_pruned(store, fake, templates, loss):
    pipeline_id = _pipeline(store, NPM)
    for node, minute in (("node-1", 10), ("node-2", 20)):
        execution_id = _trigger(store, pipeline_id)
        with store.session() as session:
            admit(session, now=T0)
        _end(store, execution_id, node, T0 + timedelta(minutes=minute))
    with store.session() as session:
        session.add(NodeCache(node_name="node-1", directory="shop/build/trusted/root/.npm",
                              pipeline_id=pipeline_id,
                              state="pruned" if loss == "pruned" else "present",
                              reported_at=T0 + timedelta(minutes=30)))
    if loss == "node left":  # the engine's node list no longer has node-1
        with store.session() as session:
            assert nodecaches.mark_departed(session, {"node-2"}) == 1
    following = _trigger(store, pipeline_id)
    with JenkinsClient(url=fake.url, user="sidecar", token=TOKEN) as client:
        Engine(store=store, jenkins=client, templates=templates, queue_wait=5).cycle()
    with store.session() as session:
        execution = executions.get(session, following)
        pod, note = yaml.safe_load(execution.pod_yaml), execution.placement_note
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"]
    assert terms == [{"weight": 100, "preference": {"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}}]
    assert note == "warm cache on node-2"
