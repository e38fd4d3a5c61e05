"""Caches stay where the operator put them; the gc never leaves its root; no NaN settings.

We test these attacks:
- through the settings API (SQLite and PostgreSQL): a project's cacheDir outside
  SIDECAR_CACHE_ROOT (/etc, a sibling with the root as prefix, a '..' escape) is a 400
  naming cacheDir, and nothing is stored; a directory inside the root is taken;
- a cacheDir stored before the root was set fails its run with the reason when the
  engine renders it, and the pod never names that directory;
- `jenkins-sidecar cache gc` (the command the DaemonSet runs), over a root where a build
  planted symlinks at every depth of the layout (project, pipeline, scope, slot, leaf
  and deep inside a cache) that point at a victim directory outside the root, with
  every size bound at 0: nothing outside the root is removed, measured or reported, and
  the real caches are pruned;
- a NaN or infinite SIDECAR_* number stops `serve` with one line naming the variable,
  and NaN or infinity in project settings is a 400.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fakes.jenkins import FakeJenkins
from webhook_helpers import create_pipeline

from sidecar.cli import main
from sidecar.engine.loop import Engine
from sidecar.jenkins import JenkinsClient
from sidecar.store.models import Execution, Setting

ROOT = "/var/lib/jenkins-sidecar-cache"
JENKINS_TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"
VICTIMS = ("project", "pipeline", "trusted", "slot-0", "leaf", "deep")
CACHED = ("stages:\n- name: Build\n  cache: {paths: [/root/.npm]}\n  steps:\n"
          "  - runScriptConfig: {image: node, shellScript: npm ci}\n")


@pytest.mark.parametrize("cache_dir", ["/etc", "/var/lib/jenkins-sidecar-cache-evil",
                                       f"{ROOT}/../../../etc", "/"])
def test_a_cache_dir_outside_the_root_is_refused(client, cache_dir):
    answer = client.put("/api/v1/settings/shop", json={"cacheDir": cache_dir})
    assert answer.status_code == 400, answer.json
    assert answer.json["errors"][0]["field"] == "cacheDir"
    assert client.get("/api/v1/settings/shop").json["cacheDir"] == ROOT


def test_a_cache_dir_inside_the_root_is_taken(client):
    answer = client.put("/api/v1/settings/shop", json={"cacheDir": f"{ROOT}/shop"})
    assert answer.status_code == 200 and answer.json["cacheDir"] == f"{ROOT}/shop"


def test_a_stored_cache_dir_outside_the_root_fails_the_run(app, client, templates):
    pipeline = create_pipeline(client, inlineConfig=CACHED)
    store = app.extensions["sidecar"].store
    with store.session() as session:  # written before the root was enforced
        session.add(Setting(project="shop", name="cacheDir", value=json.dumps("/etc")))
    run = client.post(f"/api/v1/pipelines/{pipeline}/executions", json={}).json
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": JENKINS_TOKEN}) as fake:
        jenkins = JenkinsClient(url=fake.url, user="sidecar", token=JENKINS_TOKEN)
        try:
            Engine(store=store, jenkins=jenkins, templates=templates, queue_wait=5,
                   cache_root=ROOT).cycle()
        finally:
            jenkins.close()
    with store.session() as session:
        execution = session.get(Execution, run["id"])
        assert execution.state == "Failed" and "cache root" in execution.reason
        assert "/etc" not in (execution.pod_yaml or "")


def _planted(tmp_path):
    """A cache root with real caches, symlinks at every depth, and a victim outside."""
    root, victim = tmp_path / "root", tmp_path / "victim"
    for name in VICTIMS:  # each shaped like every level of the layout, to tempt a walk
        for shape in ("", "leaf", "trusted/leaf", "x/trusted/leaf", "p/x/trusted/leaf"):
            (victim / name / shape).mkdir(parents=True, exist_ok=True)
            (victim / name / shape / "precious").write_bytes(b"x" * 4096)
    scope = root / "web" / "web_app-1"
    (scope / "trusted" / "npm").mkdir(parents=True)
    (scope / "trusted" / "npm" / "blob").write_bytes(b"y" * 4096)
    (scope / "untrusted" / "slot-0").mkdir(parents=True)
    os.symlink(victim / "project", root / "evil-project")              # <root>/<project>
    os.symlink(victim / "pipeline", root / "web" / "evil-pipeline")   # .../<pipeline>
    (root / "web" / "evil").mkdir()
    os.symlink(victim / "trusted", root / "web" / "evil" / "trusted")  # .../<scope>
    os.symlink(victim / "slot-0", scope / "trusted" / "slot-1")       # .../<slot>
    os.symlink(victim / "leaf", scope / "untrusted" / "slot-0" / "gradle")  # .../<leaf>
    os.symlink(victim / "deep", scope / "trusted" / "npm" / "deep")   # inside a cache
    os.symlink(victim / "leaf", scope / "untrusted" / "pip")          # a leaf
    return root, victim


def test_gc_never_follows_a_symlink_at_any_depth(tmp_path, capsys):
    root, victim = _planted(tmp_path)
    before = sorted(p.relative_to(victim) for p in victim.rglob("*"))
    assert main(["cache", "gc", "--root", str(root), "--max-age", "0", "--max-size", "0",
                 "--keep-recent", "0", "--node", "node-1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(p.relative_to(victim) for p in victim.rglob("*")) == before
    assert all(p.stat().st_size == 4096 for p in victim.rglob("precious"))
    listed = [c["directory"] for c in report["removed"] + report["kept"]]
    assert listed == ["web/web_app-1/trusted/npm"]
    assert report["removed"][0]["sizeBytes"] == 4096  # the blob, not the victim's files
    assert not (root / "web" / "web_app-1" / "trusted" / "npm").exists()


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_serve_refuses_non_finite_numbers(tmp_path, value):
    done = subprocess.run([sys.executable, "-m", "sidecar.cli", "serve"], cwd=tmp_path,
                          env={**os.environ, "SIDECAR_SYNC_INTERVAL": value},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "SIDECAR_SYNC_INTERVAL must be a finite number" in done.stderr


@pytest.mark.parametrize("body", ['{"cacheSaving": NaN}', '{"warmHold": Infinity}',
                                  '{"warmHold": 1e999}'])
def test_project_settings_refuse_non_finite_numbers(client, body):
    answer = client.put("/api/v1/settings/shop", data=body,
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert client.get("/api/v1/settings/shop").json["warmHold"] == 0.5
