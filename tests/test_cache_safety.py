"""Node-local caches are safe to share: slots, trust, Maven locks, non-root owners.

We test these aspects:
- a slot-policy cache (Gradle; Maven, whose locks cannot be relied on) is mounted through
  the pod's slot claim (the scope directory, subPathExpr pods/<pod>/<leaf>; the claim
  itself is tested in test_cache_slots.py), while a shared cache (npm) is one directory;
- a pull-request run and a run of an unprotected branch never mount the trusted cache,
  not even read-only; protected branches (globs) and tags do; an empty list trusts only tags;
- a container mounting `.m2/repository` gets the resolver's file-lock sync context in
  MAVEN_OPTS, before the step's own MAVEN_OPTS; other containers do not;
- a non-root step gets an init container, after the slot claim, that mounts the same
  hostPath volumes, runs as root with only CAP_CHOWN/CAP_DAC_READ_SEARCH and chowns to
  the step's uid its shared caches and its leaves in the claimed slot, not another
  step's; a root-only pod has the claim and no owner;
- the init container's script, run on a real directory created by root 0755, makes it
  writable by an unprivileged child process with that uid (and a warm cache is left alone).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sidecar import cache, config, render
from sidecar.cache.volumes import MAVEN_FILE_LOCKS, leaf_segment
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.render.pod import CACHE_OWNER_ROOT

CONFIG = """
cache: {protectedBranches: [main, release/*]}
stages:
- name: Build
  steps:
  - runScriptConfig: {image: gradle:8, shellScript: gradle build}
    runAsUser: 1000
    cache: {paths: [/home/gradle/.gradle, /home/gradle/.npm]}
  - runScriptConfig: {image: maven:3.9, shellScript: mvn verify}
    env: {MAVEN_OPTS: -Xmx1g}
    cache: {paths: [/root/.m2/repository]}
  - runScriptConfig: {image: alpine:3.20, shellScript: ./lint}
"""
SETTINGS = ProjectSettings(cache_dir="/cache-root", protected_branches=("main", "release/**"))


def _pod(templates, **context) -> dict:
    pipeline = config.parse_pipeline(CONFIG)
    run = RenderContext(pipeline_id="web:app", project="web", **context)
    placement = cache.place(pipeline, run, SETTINGS)
    return render.render(pipeline, run, SETTINGS, placement, templates).pod


def _host_paths(pod: dict) -> dict[str, str]:
    """mountPath -> hostPath (with the subPathExpr, if any) over every step container."""
    volumes = {v["name"]: v["hostPath"]["path"] for v in pod["spec"]["volumes"]
               if "hostPath" in v}
    return {m["mountPath"]: "/".join(filter(None, (volumes[m["name"]], m.get("subPathExpr"))))
            for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])
            if m["name"] in volumes}


def _container(pod: dict, name: str) -> dict:
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def test_unsafe_caches_go_through_the_pods_slot_claim(templates):
    paths = _host_paths(_pod(templates, execution_id="e-1"))
    scope = "/cache-root/web/web_app-faf48d1d/trusted"
    for unsafe in ("/home/gradle/.gradle", "/root/.m2/repository"):
        assert paths[unsafe] == f"{scope}/pods/$(SIDECAR_POD_NAME)/{leaf_segment(unsafe)}"
    assert paths["/home/gradle/.npm"] == f"{scope}/{leaf_segment('/home/gradle/.npm')}"


@pytest.mark.parametrize("event,branch,scope", [
    ("push", "main", "trusted"), ("push", "release/1.2", "trusted"), ("tag", "v1.0", "trusted"),
    ("manual", "main", "trusted"), ("pull_request", "main", "untrusted"),
    ("push", "feature/x", "untrusted"), ("push", "release/1.2/hotfix", "untrusted"),
])
def test_only_protected_branches_and_tags_write_the_trusted_cache(templates, event, branch, scope):
    paths = _host_paths(_pod(templates, event=event, branch=branch)).values()
    assert {path.split("/")[4] for path in paths} == {scope}


def test_untrusted_runs_mount_nothing_of_the_trusted_cache(templates):
    trusted = set(_host_paths(_pod(templates, event="push", branch="main")).values())
    for context in ({"event": "pull_request", "branch": "main"},
                    {"event": "push", "branch": "feature/x"}):
        pod = _pod(templates, **context)
        mounted = {v["hostPath"]["path"] for v in pod["spec"]["volumes"] if "hostPath" in v}
        assert not mounted & trusted
        assert {path.split("/")[4] for path in mounted} == {"untrusted"}


def test_an_empty_protected_list_trusts_only_tags(templates):
    pipeline = config.parse_pipeline(CONFIG.replace("[main, release/*]", "[]"))
    for event, scope in (("push", "untrusted"), ("tag", "trusted")):
        run = RenderContext(event=event, branch="main")
        placement = cache.place(pipeline, run, SETTINGS)
        assert {m.host_path.split("/")[4] for ms in placement.mounts.values() for m in ms} == {
            scope}


def test_maven_gets_file_locks_before_its_own_options(templates):
    pod = _pod(templates)
    env = {e["name"]: e.get("value") for e in _container(pod, "step-0-1")["env"]}
    assert env["MAVEN_OPTS"] == f"{MAVEN_FILE_LOCKS} -Xmx1g"
    assert "-Daether.syncContext.named.factory=file-lock" in env["MAVEN_OPTS"]
    assert "-Daether.syncContext.named.nameMapper=file-gav" in env["MAVEN_OPTS"]
    for other in ("step-0-0", "step-0-2"):
        assert "MAVEN_OPTS" not in {e["name"] for e in _container(pod, other)["env"]}


def test_non_root_step_gets_an_init_container_that_owns_its_caches(templates):
    pod = _pod(templates)
    step = _container(pod, "step-0-0")
    assert step["securityContext"]["runAsUser"] == 1000
    claim, init = pod["spec"]["initContainers"]
    assert claim["name"] == "cache-slot" and init["name"] == "cache-owner-1000"
    step_volumes = [m["name"] for m in step["volumeMounts"]]
    assert [m["name"] for m in init["volumeMounts"]] == step_volumes
    assert init["command"][3:] == ["cache-owner", "1000"] + [
        "/".join(filter(None, (f"{CACHE_OWNER_ROOT}/{m['name']}", m.get("subPathExpr"))))
        for m in step["volumeMounts"]]
    assert init["env"] == [{"name": "SIDECAR_POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    context = init["securityContext"]
    assert context["runAsUser"] == 0 and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "DAC_READ_SEARCH"]}
    # The root Maven step needs no owner: its leaf is not handed to uid 1000.
    maven = _container(pod, "step-0-1")["volumeMounts"][0]["subPathExpr"]
    assert not any(arg.endswith(maven) for arg in init["command"])


def test_root_only_pods_have_the_claim_and_no_owner(templates):
    pipeline = config.parse_pipeline(CONFIG.replace("    runAsUser: 1000\n", ""))
    placement = cache.place(pipeline, RenderContext(), SETTINGS)
    pod = render.render(pipeline, RenderContext(), SETTINGS, placement, templates).pod
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["cache-slot"]


def _as_user(uid: int, script: str, cwd) -> subprocess.CompletedProcess:
    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return subprocess.run(["sh", "-c", script], cwd=cwd, preexec_fn=drop,
                          capture_output=True, text=True)


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0,
                    reason="needs root to create root-owned directories and drop to a uid")
def test_owner_script_makes_a_root_created_cache_writable_by_the_step_uid(templates, tmp_path):
    uid = 1000
    init = _pod(templates)["spec"]["initContainers"][1]
    root_owned = tmp_path / "node" / "gradle"       # what kubelet creates: root, 0755
    root_owned.mkdir(parents=True)
    (root_owned / "old-entry").mkdir()              # left by an earlier root run
    os.chmod(root_owned, 0o755)
    missing = tmp_path / "node" / "npm"
    tmp_path.chmod(0o755)
    (tmp_path / "node").chmod(0o755)
    before = _as_user(uid, "touch gradle/x", tmp_path / "node")
    assert before.returncode != 0 and "Permission denied" in before.stderr

    script = init["command"][2]
    subprocess.run(["sh", "-c", script, "cache-owner", str(uid), str(root_owned), str(missing)],
                   check=True)
    for directory in (root_owned, missing, root_owned / "old-entry"):
        assert directory.stat().st_uid == uid
    after = _as_user(uid, "touch gradle/x gradle/old-entry/y npm/z && ls gradle npm",
                     tmp_path / "node")
    assert after.returncode == 0, after.stderr
    assert (root_owned / "x").stat().st_uid == uid

    # Warm cache: owned already, so a root-owned file inside is left as it is (no walk).
    (root_owned / "by-root").write_text("")
    subprocess.run(["sh", "-c", script, "cache-owner", str(uid), str(root_owned)], check=True)
    assert (root_owned / "by-root").stat().st_uid == 0
