"""Locality-aware admission and the render's warm preferences, against the store.

We test, on SQLite and PostgreSQL: the hold rule itself (start when a warm node can take
the run, never hold without a warm cache to wait for, hold at most the limit, never when
the expected wait is longer than what is left of it); a run of a slot-cache pipeline
whose only warm slot (node, slot, as the pods reported) is busy is held in Queueing with
its reason and the source of its estimate when that run is expected to end soon, and
starts as soon as that run ends — or when the hold ends, by an injected clock; it is
not held when that run is expected to take longer than the saving; the next render
stops preferring a node whose cache gc reported pruned, or that left the cluster, and
says why on the execution.
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
    assert locality.decide(usable=0, warm_elsewhere=True, room=None, held_for=50, limit=limit,
                           wait=54).hold
    late = locality.decide(usable=0, warm_elsewhere=True, room=None, held_for=50, limit=limit,
                           wait=55)
    assert not late.hold and "expected wait 55s exceeds the saving" in late.reason


def test_wait_for_room_counts_the_sidecars_own_runs_ending():
    wanted = (2000, 4)
    assert locality.wait_for_room([((2000, 8), [])], wanted) == 0
    full = ((500, 8), [(300.0, (1000, 2)), (100.0, (1000, 2))])
    assert locality.wait_for_room([full], wanted) == 300.0  # needs both to end
    other = ((1500, 8), [(200.0, (500, 1))])
    assert locality.wait_for_room([full, other], wanted) == 200.0
    assert locality.wait_for_room([((0, 8), [(10.0, (1000, 2))])], wanted) is None


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


def _landed(store, execution_id, node, slot):
    """The pod's node report: its node and the slot it claimed there."""
    with store.session() as session:
        execution = executions.get(session, execution_id)
        executions.record_node(session, execution, node, "test")
        execution.cache_slot = slot


def _state(store, execution_id):
    with store.session() as session:
        e = executions.get(session, execution_id)
        return e.state, e.cache_slot, e.held_since is not None, e.reason, e.placement_note


@pytest.fixture
def busy_slot(store):
    """A finished run warmed slot 0 on node-1 (600 s run); a second run holds it now."""
    pipeline_id = _pipeline(store, GRADLE)
    first = _trigger(store, pipeline_id)
    with store.session() as session:
        assert admit(session, now=T0) == [first]
    _landed(store, first, "node-1", 0)
    _end(store, first, "node-1", T0 + timedelta(seconds=600))
    second = _trigger(store, pipeline_id)
    with store.session() as session:
        admit(session, now=T0 + timedelta(seconds=700))
    assert _state(store, second)[:2] == ("Building", None)  # the pod claims its slot
    _landed(store, second, "node-1", 0)
    return pipeline_id, second


def test_run_is_held_while_the_warm_slot_is_expected_to_free_soon(store, busy_slot):
    pipeline_id, second = busy_slot
    third = _trigger(store, pipeline_id)
    with store.session() as session:  # second is expected to end at 1300 s: 50 s away
        assert admit(session, now=T0 + timedelta(seconds=1250)) == []
    state, slot, held, reason, _ = _state(store, third)
    assert (state, slot, held) == ("Queueing", None, True)
    assert "every warm slot is busy" in reason and "105s" in reason
    assert "wait estimated from the sidecar's running executions" in reason
    with store.session() as session:  # the hold shows on the execution as the API serves it
        shown = executions.view(executions.get(session, third))
    assert shown["heldSince"] and shown["reason"] == reason and shown["cacheSlot"] is None
    _end(store, second, "node-1", T0 + timedelta(seconds=1290))
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=1290)) == [third]
    state, slot, held, _, note = _state(store, third)
    assert (state, held) == ("Building", False)
    assert note.startswith("held 40s for a warm node; then a warm node can take it")


def test_held_run_starts_when_the_hold_ends(store, busy_slot):
    pipeline_id, _ = busy_slot
    third = _trigger(store, pipeline_id)
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=1250)) == []
        assert admit(session, now=T0 + timedelta(seconds=1354)) == []
        assert admit(session, now=T0 + timedelta(seconds=1355)) == [third]
    state, _, held, _, note = _state(store, third)
    assert (state, held) == ("Building", False)
    assert "hold of 105s ended" in note


def test_no_hold_when_the_warm_slot_frees_too_late(store, busy_slot):
    pipeline_id, _ = busy_slot
    third = _trigger(store, pipeline_id)
    with store.session() as session:  # second is expected to run 500 s more: > 105 s saving
        assert admit(session, now=T0 + timedelta(seconds=800)) == [third]
    state, _, held, _, note = _state(store, third)
    assert (state, held) == ("Building", False)
    assert note == ("not held: every warm slot is busy; expected wait 500s exceeds the saving; "
                    "wait estimated from the sidecar's running executions")


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
