"""`jenkins-sidecar cache gc` on a real directory tree, and its report in the store.

We test these aspects:
- the leaf cache directories of the layout (with and without a slot segment) are found,
  with their size and last use; symlinks are never followed;
- over the size bound, the least recently used go first until the rest fits; caches
  unused longer than max-age go regardless; a cache used within keep-recent stays;
  removed directories are gone from disk, empty parents too, the rest untouched;
- a slot directory whose lock a pod holds is never removed (reported failed) while a
  free slot of the same age goes; the claims' pods/ symlinks are not caches;
- a dry run removes nothing and reports the same choice;
- bad arguments exit 2 with one clear line;
- end to end over HTTP: the report reaches POST /api/v1/nodes/{node}/caches with a
  write token, rows are upserted (present/pruned, size, last use, pipeline id parsed
  from the directory), a directory missing from a later full scan becomes pruned, a
  read-only token is refused, a malformed report is a 400, and nodes that left the
  cluster turn `gone`.
"""

from __future__ import annotations

import hashlib
import json
import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from sidecar.app import create_app
from sidecar.cache import gc
from sidecar.cache.tools import SLOT, policy
from sidecar.cache.volumes import host_path, leaf_segment
from sidecar.cli import main
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.services import nodecaches, pipelines
from sidecar.store.models import NodeCache

DAY = 86400
NOW = time.time()
MB = 1 << 20


def _cache(root, mount: str, *, days_ago: float, size_mb: int, pipeline="web:app",
           project="web", slot=None, event="push") -> str:
    """A cache directory where a render would put it; returns it relative to root."""
    context = RenderContext(pipeline_id=pipeline, project=project, event=event)
    directory = host_path(context, ProjectSettings(cache_dir=str(root)), mount)
    if policy(mount) == SLOT:  # what a pod's claim of that slot creates
        directory = os.path.join(directory, f"slot-{slot or 0}", leaf_segment(mount))
    os.makedirs(directory)
    blob = os.path.join(directory, "blob")
    with open(blob, "wb") as handle:
        handle.write(os.urandom(size_mb * MB))
    when = NOW - days_ago * DAY
    os.utime(blob, (when, when))
    os.utime(directory, (when, when))
    return os.path.relpath(directory, root)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "cache"
    names = {
        "npm": _cache(root, "/root/.npm", days_ago=0.5, size_mb=3),
        "gradle0": _cache(root, "/home/g/.gradle", days_ago=2, size_mb=4, slot=0),
        "gradle1": _cache(root, "/home/g/.gradle", days_ago=5, size_mb=4, slot=1),
        "pr": _cache(root, "/root/.npm", days_ago=3, size_mb=2, event="pull_request"),
        "old": _cache(root, "/root/.m2/repository", days_ago=40, size_mb=1, project="ops",
                      pipeline="ops:deploy"),
        "fresh": _cache(root, "/root/.cache/pip", days_ago=0.001, size_mb=5),
    }
    return root, names


def test_scan_finds_leaf_directories_with_slots(tree):
    root, names = tree
    found = {d.directory: d for d in gc.scan(root)}
    assert set(found) == set(names.values())
    assert found[names["gradle1"]].slot == 1 and found[names["npm"]].slot is None
    assert found[names["pr"]].scope == "untrusted"
    assert found[names["gradle0"]].size_bytes >= 4 * MB
    assert abs(found[names["old"]].last_used - (NOW - 40 * DAY)) < 1


def test_symlinks_are_not_followed(tree, tmp_path):
    root, names = tree
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"x" * MB)
    os.symlink(outside, root / "web" / "web_app-faf48d1d" / "trusted" / "evil")
    report = gc.collect(root, max_age_days=0, max_size=0, keep_recent=0, now=NOW)
    assert (outside / "precious").exists()
    assert "web/web_app-faf48d1d/trusted/evil" not in {r["directory"] for r in report["removed"]}


def test_gc_holds_the_size_bound_lru_first(tree, capsys):
    root, names = tree
    bound = 10 * MB  # 19 MB on disk: npm 3, gradle 4+4, pr 2, old 1, fresh 5
    assert main(["cache", "gc", "--root", str(root), "--max-age", "30",
                 "--max-size", "10Mi"]) == 0
    report = json.loads(capsys.readouterr().out)
    removed = {r["directory"]: r["reason"] for r in report["removed"]}
    # old by age; then least recently used: gradle1 (5 days), pr (3 days) -> 12 MB > 10,
    # gradle0 (2 days) -> 8 MB.
    assert removed == {names["old"]: "age", names["gradle1"]: "size", names["pr"]: "size",
                       names["gradle0"]: "size"}
    remaining = gc.scan(root)
    total = sum(d.size_bytes for d in remaining)
    assert total <= bound and report["totalBytes"] == total
    assert {d.directory for d in remaining} == {names["npm"], names["fresh"]}
    assert not (root / "ops").exists()  # empty parents go too
    assert not (root / gc.TRASH).exists()


def test_a_slot_a_pod_holds_is_never_removed(tree, tmp_path):
    root, names = tree
    scope = root / "web" / "web_app-faf48d1d" / "trusted"
    (scope / "pods").mkdir()  # the claims' symlinks: not a cache
    os.symlink("../slot-1", scope / "pods" / "agent-pod")
    with open(scope / "slot-1.lock", "w") as held:  # a running pod's claim of slot 1
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (scope / "slot-0.lock").touch()  # claimed once, free now
        report = gc.collect(root, max_age_days=1, max_size=1 << 40, keep_recent=0, now=NOW)
    removed = {r["directory"] for r in report["removed"]}
    assert names["gradle0"] in removed and names["gradle1"] not in removed
    assert report["failed"] == [names["gradle1"]] and (root / names["gradle1"]).is_dir()
    assert "web/web_app-faf48d1d/trusted/pods" not in {d.directory for d in gc.scan(root)}
    assert os.path.islink(scope / "pods" / "agent-pod")


def test_recently_used_caches_stay_even_over_the_bound(tree):
    root, names = tree
    report = gc.collect(root, max_age_days=30, max_size=0, keep_recent=3600, now=NOW)
    assert {k["directory"] for k in report["kept"]} == {names["fresh"]}
    assert (root / names["fresh"]).is_dir()


def test_dry_run_removes_nothing(tree, capsys):
    root, names = tree
    assert main(["cache", "gc", "--root", str(root), "--max-age", "30", "--max-size", "10Mi",
                 "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["removed"]) == 4 and report["dryRun"] is True
    assert len(gc.scan(root)) == 6


@pytest.mark.parametrize("extra,message", [
    (["--max-size", "lots"], "is not a size"),
    (["--max-size", "1Gi", "--report-url", "http://x"], "needs --token and --node"),
])
def test_bad_arguments(tree, capsys, extra, message):
    root, _ = tree
    assert main(["cache", "gc", "--root", str(root), "--max-age", "1", *extra]) == 2
    assert message in capsys.readouterr().err


WRITE, READ = "gc-write-token", "gc-read-token"


@pytest.fixture
def server(database_url, tmp_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n" + "".join(
        f"- {{user: {user}, access: {access}, sha256: {hashlib.sha256(t.encode()).hexdigest()}}}\n"
        for user, access, t in (("gc", "write", WRITE), ("viewer", "read", READ))))
    app = create_app({"TESTING": True, "database_url": database_url,
                      "api_tokens_file": str(tokens)})
    store = app.extensions["sidecar"].store
    with store.session() as session:
        pipelines.create(session, {"project": "web", "name": "app", "inlineConfig":
                                   "stages: [{name: b, steps: [{runScriptConfig: "
                                   "{image: a, shellScript: b}}]}]"})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", app, store
    http.shutdown()
    store.dispose()


def _rows(store, node="node-1"):
    with store.session() as session:
        return {r.directory: (r.state, r.pipeline_id, r.size_bytes, r.slot) for r in
                session.scalars(select(NodeCache).where(NodeCache.node_name == node))}


def test_report_reaches_the_store(tree, server, capsys):
    root, names = tree
    url, app, store = server
    args = ["cache", "gc", "--root", str(root), "--max-age", "30", "--max-size", "10Mi",
            "--report-url", url, "--token", WRITE, "--node", "node-1"]
    assert main(args) == 0
    assert "reported to" in capsys.readouterr().err
    rows = _rows(store)
    assert set(rows) == set(names.values())
    assert rows[names["old"]][:2] == ("pruned", None)            # ops:deploy is unknown here
    assert rows[names["gradle1"]][0] == "pruned" and rows[names["gradle1"]][3] == 1
    assert rows[names["npm"]][:2] == ("present", "web:app")
    assert rows[names["npm"]][2] >= 3 * MB
    # A cache deleted by hand is not in the next full scan: pruned.
    os.remove(root / names["npm"] / "blob")
    os.rmdir(root / names["npm"])
    assert main(args) == 0
    assert _rows(store)[names["npm"]][0] == "pruned"
    assert _rows(store)[names["fresh"]][0] == "present"


def test_report_needs_a_write_token_and_a_sane_body(server):
    _, app, store = server
    client = app.test_client()
    body = {"caches": [{"directory": "web/web_app-faf48d1d/trusted/x", "sizeBytes": 1,
                        "state": "present"}]}
    path = "/api/v1/nodes/node-2/caches"
    assert client.post(path, json=body).status_code == 401
    assert client.post(path, json=body, headers={"Authorization": f"Bearer {READ}"}
                       ).status_code == 403
    auth = {"Authorization": f"Bearer {WRITE}"}
    for bad in ({"caches": [{"directory": "../etc", "sizeBytes": 1, "state": "present"}]},
                {"caches": [{"directory": "a/b/trusted/x", "sizeBytes": -1, "state": "x"}]},
                {"caches": "no"}, {"caches": [], "dryRun": True},
                {"caches": [body["caches"][0], body["caches"][0]]}):
        answer = client.post(path, json=bad, headers=auth)
        assert answer.status_code == 400, bad
    assert client.post("/api/v1/nodes/Bad_Node/caches", json=body, headers=auth
                       ).status_code == 400
    answer = client.post(path, json=body, headers=auth)
    assert answer.status_code == 200 and answer.json == {"node": "node-2", "present": 1,
                                                          "pruned": 0}
    listed = client.get(path, headers=auth).json
    assert [(r["directory"], r["pipelineId"], r["state"]) for r in listed] == [
        ("web/web_app-faf48d1d/trusted/x", "web:app", "present")]


def test_departed_nodes_turn_gone(server):
    _, app, store = server
    with store.session() as session:
        for node in ("node-a", "node-b"):
            nodecaches.record_report(session, node, {"caches": [
                {"directory": "web/web_app-faf48d1d/trusted/x", "sizeBytes": 5,
                 "state": "present"}]})
    with store.session() as session:
        assert nodecaches.mark_departed(session, {"node-a"}) == 1
    assert _rows(store, "node-b")["web/web_app-faf48d1d/trusted/x"][0] == "gone"
    assert _rows(store, "node-a")["web/web_app-faf48d1d/trusted/x"][0] == "present"


def test_report_rejects_what_the_database_cannot_hold(server):
    _, app, _ = server
    client = app.test_client()
    auth = {"Authorization": f"Bearer {WRITE}", "Content-Type": "application/json"}
    for raw in ('{"caches": [{"directory": "a/\\ud800", "sizeBytes": 1, "state": "present"}]}',
                '{"caches": [{"directory": "a/b", "sizeBytes": 1e30, "state": "present"}]}',
                '{"caches": [{"directory": "a/b", "sizeBytes": 99999999999999999999, '
                '"state": "present"}]}',
                '{"caches": [{"directory": "a/b", "sizeBytes": 1, "state": "present", '
                '"lastUsedAt": "yesterday"}]}'):
        assert client.post("/api/v1/nodes/n/caches", data=raw, headers=auth).status_code == 400
