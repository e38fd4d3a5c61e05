"""Pod Security: no hostPath where the agent namespace's level forbids it.

We test these aspects, on SQLite and PostgreSQL:
- the Kubernetes client reads the namespace's labels and the node names from the fake
  API server (real HTTP), and a failing API becomes KubeError;
- `baseline` and `restricted` forbid hostPath, `privileged` and no label allow it;
- end to end through the engine: in a restricted namespace the rendered pod has no
  hostPath volume (the caches are emptyDir), the execution's placement_note and a pod
  annotation say why, and the log says it too; in a privileged namespace the pod keeps
  its hostPath caches and no note;
- an unreadable namespace keeps hostPath (logged), and the verdict is cached;
- the engine's node list marks NodeCache rows of nodes that left the cluster `gone`.
"""

from __future__ import annotations

import logging

import pytest
import yaml
from fakes.jenkins import FakeJenkins
from fakes.kubernetes import FakeKubernetes
from sqlalchemy import select

from sidecar.engine.loop import Engine
from sidecar.engine.podsecurity import ENFORCE_LABEL, PodSecurityGate, verdict
from sidecar.jenkins import JenkinsClient
from sidecar.kube import KubeError, PodLocator
from sidecar.services import executions, nodecaches, pipelines
from sidecar.store.models import NodeCache

TOKEN = "5d1c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8"
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: maven:3.9, shellScript: mvn verify}
    runAsUser: 1000
    cache: {paths: [/root/.m2/repository, /home/me/.gradle]}
"""


@pytest.fixture
def kube():
    with FakeKubernetes() as api:
        yield api


@pytest.fixture
def engine(store, kube, templates):
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as fake:
        client = JenkinsClient(url=fake.url, user="sidecar", token=TOKEN)
        yield Engine(store=store, jenkins=client, templates=templates, queue_wait=5,
                     pods=PodLocator(namespace=kube.namespace, host=kube.url))
        client.close()


def test_client_reads_namespace_labels_and_nodes(kube):
    kube.namespace_labels = {ENFORCE_LABEL: "restricted", "team": "ci"}
    kube.nodes = ["node-a", "node-b"]
    locator = PodLocator(namespace=kube.namespace, host=kube.url)
    assert locator.namespace_labels() == {ENFORCE_LABEL: "restricted", "team": "ci"}
    assert locator.node_names() == {"node-a", "node-b"}
    kube.failure = 403
    with pytest.raises(KubeError, match="403"):
        locator.namespace_labels()


@pytest.mark.parametrize("level,allowed", [
    ("restricted", False), ("baseline", False), ("privileged", True), (None, True)])
def test_levels(level, allowed):
    labels = {ENFORCE_LABEL: level} if level else {"other": "x"}
    found = verdict("agents", labels)
    assert found.host_path_allowed is allowed
    assert (level in found.note and "hostPath" in found.note) if not allowed else not found.note


def _run(store, engine) -> tuple[dict, str]:
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": CONFIG})
        execution_id = executions.trigger(session, "shop:api",
                                          executions.TriggerRequest(event="push")).id
    assert engine.cycle().started == 1
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert executions.view(execution)["placementNote"] == execution.placement_note
        return yaml.safe_load(execution.pod_yaml), execution.placement_note


def test_restricted_namespace_renders_no_host_path_and_says_why(store, engine, kube, caplog):
    kube.namespace_labels = {ENFORCE_LABEL: "restricted"}
    with caplog.at_level(logging.WARNING, logger="sidecar.engine.podsecurity"):
        pod, note = _run(store, engine)
    volumes = pod["spec"]["volumes"]
    assert volumes and all("hostPath" not in v and v["emptyDir"] == {} for v in volumes)
    assert "initContainers" not in pod["spec"]  # emptyDir is writable by any uid
    assert "Pod Security 'restricted'" in note and "emptyDir" in note
    # The execution's note also says where the pod was steered; the pod says why no hostPath.
    reason = pod["metadata"]["annotations"]["sidecar.jenkins.io/cache-note"]
    assert reason.startswith("namespace ") and reason in note
    assert reason in caplog.text


def test_privileged_namespace_keeps_host_path(store, engine, kube):
    kube.namespace_labels = {ENFORCE_LABEL: "privileged"}
    pod, note = _run(store, engine)
    # Every cache is a hostPath; the slot claim's report file is the one emptyDir.
    assert all("hostPath" in v for v in pod["spec"]["volumes"] if v["name"] != "cache-slot-report")
    assert "Pod Security" not in note and "emptyDir" not in note
    assert "sidecar.jenkins.io/cache-note" not in pod["metadata"]["annotations"]


def test_unreadable_namespace_keeps_host_path_and_verdict_is_cached(kube, caplog):
    locator = PodLocator(namespace=kube.namespace, host=kube.url)
    kube.failure = 500
    with caplog.at_level(logging.WARNING):
        assert PodSecurityGate(locator, kube.namespace).current().host_path_allowed
    assert "cannot read Pod Security labels" in caplog.text
    kube.failure = None
    kube.namespace_labels = {ENFORCE_LABEL: "baseline"}
    gate = PodSecurityGate(locator, kube.namespace)
    assert not gate.current().host_path_allowed
    kube.namespace_labels = {}
    assert not gate.current().host_path_allowed  # within the TTL: no second request
    assert kube.request_counts[f"/api/v1/namespaces/{kube.namespace}"] == 2


def test_engine_marks_caches_of_departed_nodes_gone(store, engine, kube):
    kube.nodes = ["node-x"]
    with store.session() as session:
        for node in ("node-x", "node-y"):
            nodecaches.record_report(session, node, {"caches": [
                {"directory": "p/q/trusted/x", "sizeBytes": 1, "state": "present"}]})
    engine.cycle()
    with store.session() as session:
        states = {row.node_name: row.state for row in session.scalars(select(NodeCache))}
    assert states == {"node-x": "present", "node-y": "gone"}
    assert kube.request_counts["/api/v1/nodes"] == 1
