"""The Grafana dashboard charts what /metrics exposes, and deploy/ can ship it.

We test these aspects:
- every metric name in every panel's expression is a sample /metrics serves (a family's
  name with its type's suffix), and every label it groups or filters by is one that
  family carries;
- deploy/components/monitoring renders on top of each overlay, passes
  `kubernetes-validate`, ships the dashboard file unchanged in a ConfigMap labelled for
  Grafana's sidecar, and lets the labelled monitoring namespaces reach the port the
  sidecar's pods serve.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from manifests import (DEPLOY, KUBERNETES_VERSION, OVERLAYS, Manifests, container_port,
                       filled_tree, kustomize)
from prometheus_client.parser import text_string_to_metric_families

from sidecar.metrics import exposition, record
from sidecar.store import Store
from sidecar.store.models import Approval, Execution, utcnow

COMPONENT = DEPLOY / "components" / "monitoring"
DASHBOARD = COMPONENT / "jenkins-sidecar-dashboard.json"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
METRIC = re.compile(r"\bsidecar_[a-z_]+\b")
GROUPING = re.compile(r"\bby \(([^)]*)\)")
MATCHER = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)\s*\"")


def _record_one_of_each() -> None:
    """Give every labelled family a sample, so the scrape shows its label names."""
    now = utcnow()
    run = Execution(trigger_type="user", state="Success", created_at=now, started_at=now,
                    ended_at=now)  # in no session: counted at once
    record.run_started(run, now, now)
    record.run_finished(run)
    record.stage_finished(None, "Success", 1000)
    record.cache_placed(None, "cold")
    record.jenkins_request("GET", "/computer/api/json", 0.01, "unavailable")
    record.webhook_received("github")
    record.webhook_rejected("github", "signature")
    record.notification_attempt(None, "sent")
    record.http_request("/healthz", "GET", 200, 0.001)
    record.approval_ended(Approval(created_at=utcnow()), "Approved", utcnow())


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict[str, set[str]]:
    """Sample name -> the label names its family carries, from a real exposition."""
    _record_one_of_each()
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('db') / 'sidecar.db'}")
    store.migrate()
    text = exposition.render(store).decode()
    store.dispose()
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        labels = {label for sample in family.samples for label in sample.labels} | {"le"}
        for suffix in SUFFIXES.get(family.type, ("",)):
            names[family.name + suffix] = labels
    return names


def _expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def _family(sample: str) -> str:
    return re.sub(r"_(total|bucket|sum|count)$", "", sample)


def test_the_dashboard_charts_every_family(served):
    charted = {_family(name) for expr in _expressions() for name in METRIC.findall(expr)}
    assert charted == {_family(name) for name in served if name.startswith("sidecar_")}


@pytest.mark.parametrize("expr", _expressions())
def test_each_expression_names_served_samples_and_labels(expr, served):
    names = METRIC.findall(expr)
    assert names, expr
    unknown = [name for name in names if name not in served]
    assert not unknown, f"{expr}: not served: {unknown}"
    carried = set.union(*(served[name] for name in names))
    used = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",")}
    used |= set(MATCHER.findall(expr))
    assert used <= carried, f"{expr}: no such labels {used - carried}"


def _monitored(overlay: str) -> Manifests:
    """An overlay with the monitoring component added, rendered from the filled tree."""
    tree = filled_tree()
    directory = tree / "overlays" / f"{overlay}-monitored"
    directory.mkdir(exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [f"../{overlay}"], "components": ["../../components/monitoring"]}))
    result = kustomize(directory)
    assert result.returncode == 0, result.stderr
    return Manifests(tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_monitoring_component_renders_and_holds_together(overlay):
    manifests = _monitored(overlay)
    for document in manifests.documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    dashboard = manifests.get("ConfigMap", "jenkins-sidecar-grafana-dashboard", "jenkins")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["jenkins-sidecar.json"]) == \
        json.loads(Path(DASHBOARD).read_text())
    policy = manifests.get("NetworkPolicy", "jenkins-sidecar-metrics", "jenkins")
    (sidecar,) = manifests.selected("jenkins", policy["spec"]["podSelector"])
    (rule,) = policy["spec"]["ingress"]
    for port in rule["ports"]:
        assert container_port(sidecar, port["port"]), port
