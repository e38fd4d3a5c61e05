"""Locality-aware admission also holds while no warm node has room for the run's pod.

We test, on SQLite and PostgreSQL, against the fake Kubernetes API: a run whose only
warm node is used up by other pods is held in Queueing ("warm nodes are full"), and
starts as soon as the other pod goes, or when the hold ends; one admission reads nodes
and pods once however many runs it holds; without Kubernetes, or when RBAC denies the
reads, nothing is held for room; in a cluster of more nodes than kube-scheduler scores,
the started run's pod must land in a window of 100 nodes — its warm node first, then
the nodes with the most free CPU — so that the warm node is always scored (the pod is
valid Kubernetes and its Jenkinsfile runs under Groovy 2.4). Units: the
room arithmetic with real quantities, and a run's requests as the rendered pod's step
and service containers have them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import kubernetes_validate
import pytest
import yaml
from fakes.jenkins import FakeJenkins
from fakes.kubernetes import FakeKubernetes
from groovy_recorder import find

from sidecar import cache, config, render
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.quantity import parse_quantity
from sidecar.engine.admission import admit
from sidecar.engine.loop import Engine
from sidecar.jenkins import JenkinsClient
from sidecar.engine.warmth import NodeRoom
from sidecar.kube import PodLocator
from sidecar.kube.room import Room, free_room, pod_total
from sidecar.render.requests import Requests, pod_requests, quantity_requests
from sidecar.services import executions, pipelines, projects

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
GRADLE = """
stages:
- name: Build
  cache: {enabled: true, paths: [/root/.gradle]}
  steps:
  - runScriptConfig: {image: gradle:8, shellScript: gradle build}
"""
GI, MI = 2**30, 2**20


def test_room_arithmetic_with_quantities():
    assert quantity_requests("500m", "512Mi") == Requests(500, 512 * MI)
    assert quantity_requests("1.5", "2Gi") == Requests(1500, 2 * GI)
    assert quantity_requests(None, None) == Requests(0, 0)
    # Containers add up; an init container larger than their sum is what the pod needs.
    assert pod_total([{"cpu": "500m", "memory": "512Mi"}, {"cpu": "1.5"}, None]) == \
        Requests(2000, 512 * MI)
    assert pod_total([{"cpu": "100m"}], [{"cpu": "1", "memory": "64Mi"}]) == \
        Requests(1000, 64 * MI)
    rooms = free_room({"node-1": {"cpu": "2", "memory": "2Gi", "pods": "110"},
                       "node-2": {"cpu": "3500m", "memory": "8Gi"}},
                      [("node-1", Requests(1500, 1536 * MI)), ("node-9", Requests(9000, 0))])
    assert rooms == {"node-1": Room(500, 512 * MI), "node-2": Room(3500, 8 * GI)}
    assert rooms["node-1"].fits(quantity_requests("500m", "512Mi"))
    assert not rooms["node-1"].fits(quantity_requests("501m", "1Mi"))
    assert not rooms["node-1"].fits(quantity_requests("100m", "513Mi"))


def test_run_requests_are_the_rendered_step_and_service_requests(templates):
    pipeline = config.parse_pipeline("""
services:
- {name: db, image: postgres:16, cpuRequest: 1.5, memoryRequest: 2Gi}
stages:
- name: Build
  steps:
  - runScriptConfig: {image: gradle:8, shellScript: a}
  - runScriptConfig: {image: gradle:8, shellScript: b}
  - runScriptConfig: {image: node:20, shellScript: c}
    cpuRequest: 500m
    memoryRequest: 512Mi
""")
    settings, context = ProjectSettings(), RenderContext()
    pod = render.render(pipeline, context, settings, cache.place(pipeline, context, settings),
                        templates).pod
    own = [c["resources"]["requests"] for c in pod["spec"]["containers"] if c["name"] != "jnlp"]
    assert len(own) == 3  # the two gradle steps share a container
    assert pod_requests(pipeline, context, settings) == Requests(
        sum(int(parse_quantity(r["cpu"]) * 1000) for r in own),
        sum(int(parse_quantity(r["memory"])) for r in own))
    assert pod_requests(pipeline, context, settings) == Requests(100 + 500 + 1500,
                                                                 256 * MI + 512 * MI + 2 * GI)


@pytest.fixture
def kube():
    """node-1 can take 2 CPUs and 4Gi; another team's pod there leaves 50m and 1Gi."""
    with FakeKubernetes() as api:
        api.nodes = ["node-1", "node-2"]
        api.allocatable = {"node-1": {"cpu": "2", "memory": "4Gi"},
                           "node-2": {"cpu": "8", "memory": "32Gi"}}
        api.add_pod("other-team", {"app": "db"}, node="node-1", namespace="data",
                    requests=[{"cpu": "1.5", "memory": "2Gi"}, {"cpu": "450m", "memory": "1Gi"}])
        api.add_pod("done", {"app": "job"}, node="node-1", namespace="data", phase="Succeeded",
                    requests=[{"cpu": "2", "memory": "4Gi"}])
        yield api


def _room(kube) -> NodeRoom:
    return NodeRoom(PodLocator(namespace=kube.namespace, host=kube.url))


def _trigger(store, pipeline_id) -> str:
    with store.session() as session:
        return executions.trigger(session, pipeline_id, executions.TriggerRequest()).id


def _state(store, execution_id):
    with store.session() as session:
        e = executions.get(session, execution_id)
        return e.state, e.cache_slot, e.reason, e.placement_note


@pytest.fixture
def warmed(store):
    """A 600 s run warmed node-1 (hold limit 105 s); a second run is waiting.

    A started run has no slot yet: its pod claims one on its node and reports it.
    """
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "build", "inlineConfig": GRADLE})
        projects.update_settings(session, "shop", {"executorQuota": 0})
    first = _trigger(store, "shop:build")
    with store.session() as session:
        assert admit(session, now=T0) == [first]
        execution = executions.get(session, first)
        executions.record_node(session, execution, "node-1", "test")
        executions.finish(execution, "Success", at=T0 + timedelta(seconds=600))
    return _trigger(store, "shop:build")


def _held(store, kube, second):
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=700), room=_room(kube)) == []
        assert admit(session, now=T0 + timedelta(seconds=750), room=_room(kube)) == []
    state, slot, reason, _ = _state(store, second)
    assert (state, slot) == ("Queueing", None)
    assert reason == "held for a warm node: warm nodes are full (at most 105s)"


def test_run_held_while_its_warm_node_is_full_starts_when_room_frees(store, kube, warmed):
    _held(store, kube, warmed)
    kube.delete_pod("other-team")
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=760), room=_room(kube)) == [warmed]
    state, slot, _, note = _state(store, warmed)
    assert (state, slot) == ("Building", None)
    assert note == "held 60s for a warm node; then a warm node can take it"


def test_run_held_while_its_warm_node_is_full_starts_when_the_hold_ends(store, kube, warmed):
    _held(store, kube, warmed)
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=804), room=_room(kube)) == []
        assert admit(session, now=T0 + timedelta(seconds=805), room=_room(kube)) == [warmed]
    state, slot, _, note = _state(store, warmed)
    assert (state, slot) == ("Building", None)
    assert note == "held 105s for a warm node; then warm nodes are full; hold of 105s ended"


def test_one_admission_reads_nodes_and_pods_once(store, kube, warmed):
    third = _trigger(store, "shop:build")
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=700), room=_room(kube)) == []
    assert _state(store, third)[0] == _state(store, warmed)[0] == "Queueing"
    assert (kube.request_counts["/api/v1/nodes"], kube.request_counts["/api/v1/pods"]) == (1, 1)


@pytest.mark.parametrize("access", ["no kube", "forbidden"])
def test_without_node_reads_nothing_is_held_for_room(store, kube, warmed, access):
    room = NodeRoom(None) if access == "no kube" else _room(kube)
    kube.failures["/api/v1/pods"] = 403
    with store.session() as session:
        assert admit(session, now=T0 + timedelta(seconds=700), room=room) == [warmed]
    state, slot, reason, note = _state(store, warmed)
    assert (state, slot, note) == ("Building", None, "")
    assert kube.request_counts["/api/v1/pods"] == (1 if access == "forbidden" else 0)


def test_a_big_clusters_pod_must_land_where_its_warm_node_is_scored(store, kube, warmed,
                                                                     templates, groovy):
    kube.delete_pod("other-team")  # node-1, the warm node, has room
    kube.nodes += [f"node-{i}" for i in range(3, 151)]  # 150 nodes: kube-scheduler samples
    kube.allocatable.update({f"node-{i}": {"cpu": f"{3000 - i}m", "memory": "8Gi"}
                             for i in range(3, 151)})
    token = "7d1e4a9c2b5f8e3a6d0c9b2e5f8a1d4c7b"
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": token}) as jenkins, \
            JenkinsClient(url=jenkins.url, user="sidecar", token=token) as client:
        Engine(store=store, jenkins=client, templates=templates, queue_wait=5,
               pods=PodLocator(namespace=kube.namespace, host=kube.url)).cycle()
    with store.session() as session:
        execution = executions.get(session, warmed)
        pod, note = yaml.safe_load(execution.pod_yaml), execution.placement_note
        jenkinsfile, pod_text = execution.jenkinsfile, execution.pod_yaml
    kubernetes_validate.validate(pod, "1.34.0", strict=True)
    assert {call["args"][0] for call in find(groovy.record(jenkinsfile), "yaml")} == {pod_text}
    affinity = pod["spec"]["affinity"]["nodeAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    # node-2 has 8 CPUs free, node-3 … node-150 2.997 … 2.85, node-1 2.
    assert term["matchFields"][0]["values"] == ["node-1", "node-2"] + [
        f"node-{i}" for i in range(3, 101)]
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["preference"] == {
        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}
    assert "limited to those and the 99 nodes with the most room" in note
    assert kube.request_counts["/api/v1/pods"] == 1  # the hold and the window: one read
