"""The unmodified Blue Ocean client library works against the sidecar.

We test these aspects, on SQLite and PostgreSQL, with the sidecar served over HTTP by a
real server (werkzeug, threaded) and real executions in every state behind it:
- every REST operation of @jenkins-cd/blueocean-core-js (pinned in
  tests/blueocean_client/package-lock.json, installed by ``make test``) that applies to
  the sidecar's pipelines passes, run by Node (tests/blueocean_client/drive.js): the
  capability look-ups (POST and GET of classes, and deciding that a step has a log),
  pipelines by search, a pipeline, disable/enable, the runs pager and its pages, a run,
  its test summary, artifacts, start (with and without parameters), stop, replay,
  input submit (as a listed submitter) and abort, the REST URLs the library builds,
  usage analytics;
- the operations that cannot apply (multibranch, stage restart, SSE, the UI's message
  bundles, JWT) are the ones the driver names, each with its reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import blueocean_runs as runs
import pytest
from blueocean_runs import app, engine, fake, scenarios, store  # noqa: F401  (fixtures)
from werkzeug.serving import make_server

from sidecar.services.access import load_tokens

CLIENT = Path(__file__).parent / "blueocean_client"
NOT_APPLICABLE = {"PipelineService.branchPager", "PipelineService.prPager",
                  "RunApi.restartStage", "SseBus / DefaultSSEHandler fetches",
                  "i18n bundles (/blue/rest/i18n/)", "JWT.getToken (/jwt-auth/token)"}


@pytest.fixture
def served(app):
    """The app on a real HTTP server on a free loopback port; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_every_operation_of_the_client_library_passes(app, served, store, engine, fake,
                                                      scenarios, tmp_path):
    if not (CLIENT / "node_modules" / "@jenkins-cd" / "blueocean-core-js").is_dir():
        pytest.fail("the client library is not installed: run `make test` (npm ci in "
                    "tests/blueocean_client)")
    fake.auto_start = True
    fake.start_queued()  # the build waiting in Jenkins' queue holds back its pipeline's starts
    engine.cycle()
    paused_too = runs.pause(store, engine, fake)
    fake.auto_start = False
    queued = [runs.trigger(store) for _ in range(22)]  # more than the runs pager's page
    # From here on callers need a token: alice may decide the approvals.
    (tmp_path / "tokens.yaml").write_text(
        "tokens:\n- {user: alice, access: write, token: alice-token}\n")
    app.extensions["sidecar"].tokens = load_tokens(str(tmp_path / "tokens.yaml"))
    context = {"base": served, "token": "alice-token", "pipeline": "sidecar.shop.web",
               "runs": {"finished": scenarios["succeeded"], "running": scenarios["running"],
                        "paused": scenarios["paused"], "pausedToo": paused_too,
                        "queued": queued[0]}}
    (tmp_path / "context.json").write_text(json.dumps(context))
    done = subprocess.run([shutil.which("node") or "node", "drive.js",
                           str(tmp_path / "context.json")], cwd=CLIENT, capture_output=True,
                          text=True, timeout=300, check=False)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    results = [line for line in lines if "op" in line]
    failed = [f"{r['op']}: {r.get('detail')}" for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} of {len(results)} client operations passed")
    assert done.stdout.rstrip().endswith(f"done {len(results)}"), done.stderr[-3000:]
    assert failed == [], "\n".join(failed)
    assert len(results) >= 25
    (skipped,) = [line["notApplicable"] for line in lines if "notApplicable" in line]
    assert set(skipped) == NOT_APPLICABLE and all(skipped.values())
