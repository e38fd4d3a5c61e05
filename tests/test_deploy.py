"""deploy/ manifests: valid for Kubernetes 1.34, and the sidecar's RBAC stays read-only.

We test these aspects:
- every document passes `kubernetes-validate --strict`;
- the sidecar's roles grant only get/list/watch on pods, namespaced; the one ClusterRole
  grants only `list` on nodes (to mark caches of departed nodes gone) and on pods (to
  see how full warm nodes are);
- the agent namespace allows hostPath (Pod Security `privileged`);
- the cache gc DaemonSet mounts only the cache root, drops every capability but
  DAC_OVERRIDE/FOWNER, cannot escalate, has no API token, and runs `cache gc` on a period.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DOCUMENTS = [doc for path in sorted(DEPLOY.glob("*.yaml"))
             for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("document", DOCUMENTS,
                         ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid(document):
    kubernetes_validate.validate(document, "1.34.0", strict=True)


def test_rbac_is_least_privilege():
    cluster_rules = [rule for doc in DOCUMENTS if doc["kind"] == "ClusterRole"
                     for rule in doc["rules"]]
    assert cluster_rules == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
                             {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    (binding,) = [doc for doc in DOCUMENTS if doc["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "jenkins-sidecar",
                                    "namespace": "jenkins"}]
    rules = [rule for doc in DOCUMENTS if doc["kind"] == "Role" for rule in doc["rules"]]
    assert rules == [{"apiGroups": [""], "resources": ["pods"],
                      "verbs": ["get", "list", "watch"]}]


def test_agent_namespace_allows_host_path():
    (namespace,) = [d for d in DOCUMENTS if d["kind"] == "Namespace"
                    and d["metadata"]["name"] == "jenkins-agents"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_cache_gc_daemonset_is_least_privilege():
    (daemonset,) = [d for d in DOCUMENTS if d["kind"] == "DaemonSet"]
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["args"][:2] == ["cache", "gc"] and "--every" in container["args"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["DAC_OVERRIDE", "FOWNER"]}
    assert "privileged" not in context
    (volume,) = spec["volumes"]
    assert volume["hostPath"]["path"] == "/var/lib/jenkins-sidecar-cache"
    assert [m["mountPath"] for m in container["volumeMounts"]] == [volume["hostPath"]["path"]]
