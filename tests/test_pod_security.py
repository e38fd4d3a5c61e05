"""Pod Security: no hostPath where the agent namespace's level forbids it.

We test these aspects, on SQLite and PostgreSQL:
- the Kubernetes client reads the namespace's labels and the node names from the fake
  API server (real HTTP), and a failing API becomes KubeError;
- `baseline` and `restricted` forbid hostPath, `privileged` and no label allow it;
- the Pod Security Standards' other controls on a rendered pod: baseline refuses
  privileged containers, host namespaces and added capabilities beyond its list;
  restricted also wants non-root, no privilege escalation, ALL capabilities dropped, a
  RuntimeDefault seccomp profile and its volume types, and takes a pod that has them;
- end to end through the engine: in a baseline namespace the rendered pod has no
  hostPath volume (the caches are emptyDir), the execution's placement_note and a pod
  annotation say why, and the log says it too; a privileged step there, and any run of
  the shipped (root) pod template in a restricted namespace, fails at once with the
  admission's reasons and reaches no Jenkins, instead of waiting for an agent that
  admission refuses; in a privileged namespace the pod keeps its hostPath caches and
  no note;
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
from sidecar.engine.podsecurity import ENFORCE_LABEL, PodSecurityGate, refusals, verdict
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


def _triggered(store, config: str) -> str:
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": config})
        return executions.trigger(session, "shop:api", executions.TriggerRequest(event="push")).id


def _run(store, engine, config=CONFIG) -> tuple[dict, str]:
    execution_id = _triggered(store, config)
    assert engine.cycle().started == 1
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert executions.view(execution)["placementNote"] == execution.placement_note
        return yaml.safe_load(execution.pod_yaml), execution.placement_note


def test_baseline_namespace_renders_no_host_path_and_says_why(store, engine, kube, caplog):
    kube.namespace_labels = {ENFORCE_LABEL: "baseline"}
    with caplog.at_level(logging.WARNING, logger="sidecar.engine.podsecurity"):
        pod, note = _run(store, engine)
    volumes = pod["spec"]["volumes"]
    assert volumes and all("hostPath" not in v and v["emptyDir"] == {} for v in volumes)
    assert "initContainers" not in pod["spec"]  # emptyDir is writable by any uid
    assert "Pod Security 'baseline'" in note and "emptyDir" in note
    # The execution's note also says where the pod was steered; the pod says why no hostPath.
    reason = pod["metadata"]["annotations"]["sidecar.jenkins.io/cache-note"]
    assert reason.startswith("namespace ") and reason in note
    assert reason in caplog.text
    assert refusals("baseline", pod) == []


PRIVILEGED = CONFIG + "- name: Image\n  steps:\n" \
    "  - runScriptConfig: {image: docker:27-dind, shellScript: dockerd}\n    privileged: true\n"


@pytest.mark.parametrize("level,config,expected", [
    ("restricted", CONFIG, "container jnlp may run as root (runAsNonRoot is not true)"),
    ("baseline", PRIVILEGED, "container step-1-0 is privileged")])
def test_a_pod_the_namespace_would_reject_fails_at_once_and_says_why(store, engine, kube,
                                                                     level, config, expected):
    kube.namespace_labels = {ENFORCE_LABEL: level}
    execution_id = _triggered(store, config)
    assert engine.cycle().started == 0
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert execution.state == "Failed" and execution.jenkins_queue_id is None
        assert f"namespace {kube.namespace} enforces Pod Security '{level}'" in execution.reason
        assert expected in execution.reason


def test_pod_security_controls_on_a_pod():
    container = {"name": "build", "securityContext": {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}
    meets = {"spec": {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                      "containers": [container], "volumes": [{"name": "c", "emptyDir": {}}]}}
    assert refusals("restricted", meets) == refusals("baseline", meets) == []
    assert refusals("privileged", {"spec": {"hostNetwork": True}}) == []
    loose = {"spec": {"hostPID": True, "volumes": [{"name": "n", "nfs": {}}], "containers": [
        {"name": "a", "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "CHOWN"]},
                                          "runAsUser": 0, "runAsNonRoot": True}}]}}
    assert refusals("baseline", loose) == ["spec.hostPID is true",
                                           "container a adds capability SYS_ADMIN"]
    assert refusals("restricted", loose) == [
        "spec.hostPID is true", "container a adds capability CHOWN",
        "container a adds capability SYS_ADMIN", "volume n is of a type restricted refuses",
        "container a runs as uid 0", "container a allows privilege escalation",
        "container a does not drop ALL capabilities",
        "container a has no RuntimeDefault seccomp profile"]


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
