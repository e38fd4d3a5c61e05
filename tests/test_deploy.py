"""deploy/ manifests: valid for Kubernetes 1.34, and the sidecar's RBAC stays read-only.

We test these aspects:
- every document passes `kubernetes-validate --strict`;
- the sidecar's roles grant only get/list/watch on pods, namespaced, no ClusterRole;
- the agent namespace allows hostPath (Pod Security `privileged`).
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
    kinds = {doc["kind"] for doc in DOCUMENTS}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    rules = [rule for doc in DOCUMENTS if doc["kind"] == "Role" for rule in doc["rules"]]
    assert rules == [{"apiGroups": [""], "resources": ["pods"],
                      "verbs": ["get", "list", "watch"]}]


def test_agent_namespace_allows_host_path():
    (namespace,) = [d for d in DOCUMENTS if d["kind"] == "Namespace"
                    and d["metadata"]["name"] == "jenkins-agents"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
