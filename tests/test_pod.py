"""Pod template details that goldens show but these tests pin down by rule.

We test these aspects:
- the service account token reaches only the containers of deploying steps;
- a step's own request above the default limit raises its limit (Kubernetes rejects
  request > limit), a limit below the default request lowers the request, and a
  config with request > limit of its own is rejected with a position;
- helm `set` keys split on dots, with ``\\.`` kept as a literal dot.
"""

from __future__ import annotations

import pytest
import yaml

from sidecar import cache, config, render
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.errors import ConfigError

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _pod(templates, text: str) -> dict:
    pipeline = config.parse_pipeline(text)
    settings, context = ProjectSettings(), RenderContext()
    placement = cache.place(pipeline, context, settings)
    return render.render(pipeline, context, settings, placement, templates).pod


def _containers(pod: dict) -> dict[str, dict]:
    return {c["name"]: c for c in pod["spec"]["containers"]}


def test_token_only_in_deploying_containers(templates):
    pod = _pod(templates, """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: make}
  - publishImageConfig: {tag: app:1}
- name: Deploy
  steps:
  - applyYamlConfig: {path: k8s/, namespace: prod}
  - applyAppConfig: {chart: ./chart, releaseName: app}
""")
    assert pod["spec"]["automountServiceAccountToken"] is False
    with_token = sorted(name for name, c in _containers(pod).items()
                        if any(m["mountPath"] == TOKEN_PATH for m in c.get("volumeMounts", [])))
    assert with_token == ["step-1-0", "step-1-1"]
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "kube-api-access"]
    assert volume["projected"]["sources"][0]["serviceAccountToken"]["path"] == "token"


def test_requests_and_limits_never_contradict(templates):
    pod = _pod(templates, """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: a, shellScript: x}
    cpuRequest: 2
    memoryRequest: 4Gi
  - runScriptConfig: {image: b, shellScript: x}
    cpuLimit: 50m
    memoryLimit: 128Mi
""")
    big, small = _containers(pod)["step-0-0"], _containers(pod)["step-0-1"]
    assert big["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"},
                                "limits": {"cpu": "2", "memory": "4Gi"}}
    assert small["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"},
                                  "limits": {"cpu": "50m", "memory": "128Mi"}}


def test_own_request_above_own_limit_is_an_error():
    with pytest.raises(ConfigError) as excinfo:
        config.parse_pipeline("""stages:
- name: Build
  steps:
  - runScriptConfig: {image: a, shellScript: x}
    cpuRequest: 1500m
    cpuLimit: 1
""", "p.yml")
    assert excinfo.value.lines == [
        "p.yml:5:17: stages[0].steps[0].cpuRequest: cpuRequest 1500m is more than cpuLimit 1"]


def test_helm_keys_keep_escaped_dots(templates):
    pod = _pod(templates, r"""
stages:
- name: Deploy
  steps:
  - applyAppConfig:
      chart: ./chart
      releaseName: web
      set: {image.tag: v1, 'ingress.annotations.kubernetes\.io/ingress\.class': nginx}
""")
    env = {e["name"]: e.get("value") for e in _containers(pod)["step-0-0"]["env"]}
    assert yaml.safe_load(env["HELM_SET_VALUES"]) == {
        "image": {"tag": "v1"},
        "ingress": {"annotations": {"kubernetes.io/ingress.class": "nginx"}}}
