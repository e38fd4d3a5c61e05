"""Cache volumes and node affinity.

We test these aspects:
- a step with two cached paths, in a stage with one: exactly the right hostPath volume
  (DirectoryOrCreate, the pipeline's scope directory under cacheDir, since these unknown
  tools get slots) and mounts through the pod's slot claim, only in the containers that
  asked; the claim container comes first and holds the slot for the pod's lifetime;
- 12 history entries give 10 preferred terms, weights 100..10, newest first, matching
  metadata.name; unscheduled entries are skipped; the hostname label on request;
- pull-request runs write to their own cache scope;
- host paths are deterministic and safe for any pipeline id or cache path.
"""

from __future__ import annotations

import yaml

from sidecar import cache, config, render
from sidecar.cache.volumes import host_path, leaf_segment
from sidecar.config.inputs import HistoryEntry, ProjectSettings, RenderContext

CONFIG = """
stages:
- name: Build
  cache: {paths: [/stage/cache]}
  steps:
  - runScriptConfig: {image: node:20, shellScript: npm ci}
    cache: {paths: [/step/one, /step/two]}
  - runScriptConfig: {image: maven:3.9, shellScript: mvn verify}
  - runScriptConfig: {image: alpine:3.20, shellScript: ./lint}
    cache: {enabled: false}
"""
SETTINGS = ProjectSettings(cache_dir="/cache-root")


def _pod(templates, context=None, history=(), settings=SETTINGS) -> dict:
    context = context or RenderContext()
    pipeline = config.parse_pipeline(CONFIG)
    placement = cache.place(pipeline, context, settings, history)
    return render.render(pipeline, context, settings, placement, templates).pod


def test_step_paths_override_stage_path_and_mount_only_where_asked(templates):
    pod = _pod(templates)
    mounts = {c["name"]: [m["mountPath"] for m in c.get("volumeMounts", [])]
              for c in pod["spec"]["containers"]}
    assert mounts == {"jnlp": [], "step-0-0": ["/step/one", "/step/two"],
                      "step-0-1": ["/stage/cache"], "step-0-2": []}
    volumes = [v for v in pod["spec"]["volumes"] if "hostPath" in v]
    assert [v["hostPath"] for v in volumes] == [
        {"path": "/cache-root/default/local/trusted", "type": "DirectoryOrCreate"}]
    subpaths = [m["subPathExpr"] for c in pod["spec"]["containers"]
                for m in c.get("volumeMounts", [])]
    assert subpaths == [f"pods/$(SIDECAR_POD_NAME)/{leaf_segment(p)}"
                        for p in ("/step/one", "/step/two", "/stage/cache")]
    assert len(set(subpaths)) == 3
    claim = pod["spec"]["initContainers"][0]
    assert claim["name"] == "cache-slot" and claim["restartPolicy"] == "Always"
    assert claim["volumeMounts"][0] == {"name": volumes[0]["name"],
                                        "mountPath": f"/sidecar-slots/{volumes[0]['name']}"}


def _history(count: int) -> tuple[HistoryEntry, ...]:
    return tuple(HistoryEntry(f"e-{count - i}", f"node-{i}", f"2026-11-{22 - i:02d}T00:00:00Z")
                 for i in range(count))


def test_twelve_entries_give_ten_terms_newest_first(templates):
    terms = _pod(templates, history=_history(12), settings=ProjectSettings(affinity_scheme="seed"))[
        "spec"]["affinity"]["nodeAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"]
    assert [t["weight"] for t in terms] == [100, 90, 80, 70, 60, 50, 40, 30, 20, 10]
    assert [t["preference"]["matchFields"] for t in terms] == [
        [{"key": "metadata.name", "operator": "In", "values": [f"node-{i}"]}] for i in range(10)]


def test_unscheduled_entries_are_skipped_and_label_key_is_optional(templates):
    history = (HistoryEntry("e-3", None, ""), *_history(2))
    settings = ProjectSettings(affinity_key="kubernetes.io/hostname", affinity_scheme="seed")
    terms = _pod(templates, history=history, settings=settings)["spec"]["affinity"][
        "nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [(t["weight"], t["preference"]["matchExpressions"][0]["values"]) for t in terms] == [
        (100, ["node-0"]), (90, ["node-1"])]


def test_no_history_means_no_affinity(templates):
    assert "affinity" not in _pod(templates)["spec"]


def test_pull_requests_write_to_their_own_scope():
    trusted = host_path(RenderContext(event="push"), SETTINGS, "/root/.m2")
    untrusted = host_path(RenderContext(event="pull_request"), SETTINGS, "/root/.m2")
    assert trusted != untrusted
    assert untrusted.endswith("/untrusted") and trusted.endswith("/trusted")


def test_host_paths_are_deterministic_and_stay_under_the_root():
    context = RenderContext(pipeline_id="team/../../etc", project="p:1")
    first = host_path(context, SETTINGS, "/root/../../x y")
    assert first == host_path(context, SETTINGS, "/root/../../x y")
    assert first.startswith("/cache-root/") and "/../" not in first
    # Unknown tools get slots: the volume is the scope directory, the leaf is per path.
    assert len(first.split("/")) == 5
    assert leaf_segment("/root/../../x y") != leaf_segment("/root/.._.._x y")
    assert "/" not in leaf_segment("/root/../../x y")


def test_pod_yaml_is_the_pod(templates):
    pipeline = config.parse_pipeline(CONFIG)
    placement = cache.place(pipeline, RenderContext(), SETTINGS, _history(3))
    rendered = render.render(pipeline, RenderContext(), SETTINGS, placement, templates)
    assert yaml.safe_load(rendered.pod_yaml) == rendered.pod
