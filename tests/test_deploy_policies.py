"""deploy/: least-privilege RBAC, NetworkPolicies that select what they mean, Pod Security.

We test these aspects, for each overlay:
- each ServiceAccount gets exactly its rules: the sidecar reads agent pods, one namespace,
  nodes and pods (lists), and creates, reads and renews its one leader Lease; Jenkins manages agent
  pods in the agent namespace only; the gc DaemonSet and the agents get nothing; no role
  touches Secrets or uses wildcards;
- the cache gc DaemonSet mounts only the cache root, drops every capability but
  DAC_OVERRIDE/FOWNER, cannot escalate, has no API token, and runs `cache gc` on a period;
- every NetworkPolicy's pod selector selects rendered pods (or all pods); each peer names
  a rendered namespace and pods there, or one of the documented outside peers (DNS, the
  operator-labelled portal and Jenkins-UI namespaces); each port is one the pods serve;
- both namespaces deny what is not allowed; agent pods reach exactly Jenkins (HTTP, agent
  port), the sidecar and DNS, and with the outside-egress component no private range;
- the agent namespace enforces `privileged` (hostPath caches) and warns/audits `baseline`;
  the Jenkins namespace enforces `restricted` and its containers comply.
"""

from __future__ import annotations

import ipaddress

import kubernetes_validate
import pytest

from manifests import (KUBERNETES_VERSION, OVERLAYS, container, container_port, filled_tree,
                       pod_spec, rendered)

SIDECAR_RULES = {
    ("Role", "jenkins-agents", "", "pods", (), ("get", "list", "watch")),
    ("Role", "jenkins", "coordination.k8s.io", "leases", (), ("create",)),
    ("Role", "jenkins", "coordination.k8s.io", "leases", ("jenkins-sidecar-engine",),
     ("get", "update")),
    ("ClusterRole", None, "", "namespaces", ("jenkins-agents",), ("get",)),
    ("ClusterRole", None, "", "nodes", (), ("list",)),
    ("ClusterRole", None, "", "pods", (), ("list",)),
}
JENKINS_RULES = {
    ("Role", "jenkins-agents", "", "pods", (),
     ("create", "delete", "get", "list", "patch", "update", "watch")),
    ("Role", "jenkins-agents", "", "pods/exec", (), ("create", "get")),
    ("Role", "jenkins-agents", "", "pods/log", (), ("get", "list", "watch")),
    ("Role", "jenkins-agents", "", "events", (), ("get", "list", "watch")),
}
# Peers outside this deployment: the cluster DNS and the namespaces the operator labels.
OUTSIDE_PEERS = [
    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
     "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
    {"namespaceSelector": {"matchLabels": {"sidecar.jenkins.io/portal": "true"}}},
    {"namespaceSelector": {"matchLabels": {"sidecar.jenkins.io/jenkins-ui": "true"}}},
]


@pytest.fixture(params=OVERLAYS)
def manifests(request):
    """The rendered manifests of each overlay."""
    return rendered(request.param)


def _granted(manifests, account: str, namespace: str) -> set[tuple]:
    """(role kind, namespace, group, resource, names, verbs) granted to a ServiceAccount."""
    granted = set()
    for binding in manifests.of("RoleBinding") + manifests.of("ClusterRoleBinding"):
        if {"kind": "ServiceAccount", "name": account, "namespace": namespace} \
                not in binding["subjects"]:
            continue
        ref, where = binding["roleRef"], binding["metadata"].get("namespace")
        role = manifests.get(ref["kind"], ref["name"], where if ref["kind"] == "Role" else None)
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    granted.add((ref["kind"], where, group, resource,
                                 tuple(rule.get("resourceNames", ())),
                                 tuple(sorted(rule["verbs"]))))
    return granted


def test_each_account_gets_exactly_its_rules(manifests):
    assert _granted(manifests, "jenkins-sidecar", "jenkins") == SIDECAR_RULES
    assert _granted(manifests, "jenkins", "jenkins") == JENKINS_RULES
    assert _granted(manifests, "jenkins-sidecar-cache-gc", "jenkins-agents") == set()
    assert _granted(manifests, "jenkins-agent", "jenkins-agents") == set()
    for role in manifests.of("Role") + manifests.of("ClusterRole"):
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"] and "*" not in rule["resources"]
            assert "*" not in rule["verbs"] and "*" not in rule["apiGroups"]


def test_cache_gc_daemonset_is_least_privilege(manifests):
    daemonset = manifests.get("DaemonSet", "jenkins-sidecar-cache-gc", "jenkins-agents")
    spec, gc = pod_spec(daemonset), container(daemonset)
    assert spec["automountServiceAccountToken"] is False
    assert manifests.get("ServiceAccount", spec["serviceAccountName"], "jenkins-agents")[
        "automountServiceAccountToken"] is False
    assert gc["args"][:2] == ["cache", "gc"] and "--every" in gc["args"] and "command" not in gc
    context = gc["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["DAC_OVERRIDE", "FOWNER"]}
    assert "privileged" not in context
    (volume,) = spec["volumes"]
    assert [m["mountPath"] for m in gc["volumeMounts"]] == [volume["hostPath"]["path"]]


def _peer_workloads(manifests, peer: dict, own_namespace: str) -> list[dict] | None:
    """The rendered pods a peer selects; None for a documented outside peer."""
    if peer in OUTSIDE_PEERS:
        return None
    assert "ipBlock" not in peer, f"unexpected ipBlock {peer}"
    if "namespaceSelector" in peer:
        labels = peer["namespaceSelector"]["matchLabels"]
        namespaces = [ns["metadata"]["name"] for ns in manifests.of("Namespace")
                      if labels.items() <= manifests.namespace_labels(
                          ns["metadata"]["name"]).items()]
        assert namespaces, f"peer {peer} selects no rendered namespace"
    else:
        namespaces = [own_namespace]
    selector = peer.get("podSelector")
    return [workload for ns in namespaces for workload in
            (manifests.selected(ns, selector) if selector else manifests.workloads(ns))]


def test_network_policies_select_pods_and_ports_that_exist(manifests):
    for policy in manifests.of("NetworkPolicy"):
        namespace, spec = policy["metadata"]["namespace"], policy["spec"]
        own = manifests.selected(namespace, spec["podSelector"]) \
            if spec["podSelector"] else manifests.workloads(namespace)
        assert own, f"{policy['metadata']['name']} selects no pods"
        for rule in spec.get("ingress", []):
            for peer in rule["from"]:
                _peer_workloads(manifests, peer, namespace)
            for port in rule.get("ports", []):
                assert all(container_port(w, port["port"]) for w in own), port
        for rule in spec.get("egress", []):
            for peer in rule["to"]:
                targets = _peer_workloads(manifests, peer, namespace)
                assert targets is None or targets, f"egress peer {peer} selects no pods"
                for port in rule.get("ports", []) if targets else []:
                    assert all(container_port(w, port["port"]) for w in targets), port


def _policies(manifests, namespace: str, direction: str) -> list[dict]:
    return [p["spec"] for p in manifests.of("NetworkPolicy", namespace)
            if direction in p["spec"]["policyTypes"]]


def test_defaults_deny_and_agents_reach_only_jenkins_sidecar_and_dns(manifests):
    deny = {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert deny in _policies(manifests, "jenkins", "Ingress")
    assert {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]} in \
        _policies(manifests, "jenkins-agents", "Egress")
    assert not any(spec.get("ingress")
                   for spec in _policies(manifests, "jenkins-agents", "Ingress"))
    reached = set()
    for spec in _policies(manifests, "jenkins-agents", "Egress"):
        for rule in spec.get("egress", []):
            for peer in rule["to"]:
                targets = _peer_workloads(manifests, peer, "jenkins-agents")
                names = ("dns",) if targets is None else \
                    tuple(sorted(w["metadata"]["name"] for w in targets))
                reached |= {(names, p["port"]) for p in rule["ports"]}
    assert reached == {(("jenkins",), 8080), (("jenkins",), 50000),
                       (("jenkins-sidecar",), 8080), (("dns",), 53)}


def test_outside_egress_component_excludes_private_ranges():
    overlay = filled_tree() / "overlays" / "ha-postgresql"
    kustomization = (overlay / "kustomization.yaml").read_text()
    line = "# - ../../components/agent-egress-outside"
    assert line in kustomization
    (overlay.parent / "with-egress").mkdir(exist_ok=True)
    (overlay.parent / "with-egress" / "kustomization.yaml").write_text(
        "resources: [../ha-postgresql]\ncomponents: [../../components/agent-egress-outside]\n")
    policy = rendered("with-egress").get("NetworkPolicy", "agents-to-outside", "jenkins-agents")
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)
    blocked = [ipaddress.ip_network(net) for rule in policy["spec"]["egress"]
               for peer in rule["to"] for net in peer["ipBlock"]["except"]]
    for address in ("10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                    "fd00::1", "fe80::1"):
        assert any(ipaddress.ip_address(address) in net for net in blocked), address


def test_pod_security_levels(manifests):
    agents = manifests.namespace_labels("jenkins-agents")
    assert agents["pod-security.kubernetes.io/enforce"] == "privileged"
    assert agents["pod-security.kubernetes.io/warn"] == "baseline"
    assert agents["pod-security.kubernetes.io/audit"] == "baseline"
    jenkins = manifests.namespace_labels("jenkins")
    assert jenkins["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload in manifests.workloads("jenkins"):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not any("hostPath" in volume for volume in spec.get("volumes", []))
        for item in spec["containers"]:
            assert item["securityContext"]["allowPrivilegeEscalation"] is False
            assert item["securityContext"]["capabilities"] == {"drop": ["ALL"]}
