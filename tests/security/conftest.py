"""Fixtures for the attack tests: tenants with tokens, their objects, a served sidecar.

- ``tenants``: an app with a token file (an all-projects writer, writers and readers
  limited to ``team-a`` or ``team-b``, a ``?`` glob reader, and the gc DaemonSet's
  ``cache-report`` token), and in each project a pipeline with two runs, step logs, a
  pending approval, node history, node caches and settings — everything a route names.
- ``served``: ``jenkins-sidecar serve`` (gunicorn) in its own process on a free
  loopback port, in loopback anonymous mode as ``make run``, for attacks that need a
  real socket; ``Served.rss`` sums the resident memory of its process tree.
"""

from __future__ import annotations

import pytest
from served import Served
from tenants import PROJECTS, Tenants, seed, write_tokens

from sidecar.app import create_app
from sidecar.render.naming import path_segment
from sidecar.services import nodecaches


@pytest.fixture
def tenants(database_url, tmp_path) -> Tenants:
    """Two projects' objects behind a token file."""
    app = create_app({"TESTING": True, "database_url": database_url,
                      "api_tokens_file": str(write_tokens(tmp_path / "tokens.json"))})
    store = app.extensions["sidecar"].store
    approvals = {project: seed(store, project) for project in PROJECTS}
    with store.session() as session:
        nodecaches.record_report(session, "node-1", {"caches": [
            {"directory": f"{project}/{path_segment(project + ':web')}/trusted/.npm",
             "sizeBytes": 10, "state": "present"}
            for project in PROJECTS] + [
            {"directory": "lost+found/x/trusted/y", "sizeBytes": 1, "state": "present"}]})
    yield Tenants(app, app.test_client(), approvals)
    store.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A served sidecar in loopback anonymous mode (as `make run`), with one API worker.

    One worker: once it answers, every process that serves is up, so a memory figure
    taken then does not count other workers still booting.
    """
    server = Served(tmp_path_factory.mktemp("served"), workers="1")
    yield server
    server.stop()
