"""The world of the browser tests: the app behind a real HTTP server, the fake Jenkins, tokens.

The app is the one `create_app` builds, with a token file and the fake Jenkins, served by
Werkzeug's threaded HTTP server on a loopback port, so the browser talks real HTTP with
real cookies. The engine is the product's own, driven here one cycle at a time (as the
engine tests do), so each test moves a run on exactly when it means to.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import make_server

from fakes.jenkins import FakeJenkins
from sidecar.app import create_app
from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.services import approvals, executions, pipelines, projects

JENKINS_TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"
SECRET_KEY = "ui-tests-0123456789abcdef0123456789abcdef"
# user: (token, groups, access, projects)
USERS = {
    "alice": ("alice-7f3e9c1d2b4a6e8f", [], "write", ["shop"]),
    "bob": ("bob-2c4e6a8b0d1f3e5a", ["release-managers"], "write", ["shop"]),
    "carol": ("carol-9a8b7c6d5e4f3a2b", ["developers"], "write", ["shop"]),
    "reader": ("reader-1a2b3c4d5e6f7a8b", [], "read", ["*"]),
    "olga": ("olga-5d6e7f8a9b0c1d2e", [], "write", ["other-team"]),
}
WEB_CONFIG = """\
parameters:
- {name: TARGET, type: choice, choices: [staging, production], default: staging,
   description: Where the release goes}
- {name: DRY_RUN, type: boolean, default: true}
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}
- name: Approve
  steps:
  - approvalConfig:
      id: ship-it
      message: Ship it to production?
      ok: Ship
      submitters: [alice, release-managers]
      parameters:
      - {name: REGION, type: choice, choices: [eu-west, us-east], default: us-east}
      - {name: CANARY, type: boolean, default: true}
      - {name: NOTE, description: Release note}
- name: Release
  when: {branch: [release/*]}
  steps:
  - runScriptConfig: {image: alpine, shellScript: ./release.sh}
"""
API_CONFIG = """\
stages:
- name: Test
  steps:
  - runScriptConfig: {image: python:3.12, shellScript: pytest -q}
"""


@dataclass
class World:
    """A running sidecar with pipelines `shop:web` and `other-team:api`."""

    base_url: str
    app: object
    engine: Engine
    fake: FakeJenkins
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def store(self):
        """The app's store."""
        return self.app.extensions["sidecar"].store

    def url(self, path: str) -> str:
        """An absolute URL of a path on the server."""
        return self.base_url + path

    def cycles(self, count: int = 1) -> None:
        """Run the engine that many cycles."""
        for _ in range(count):
            self.engine.cycle()

    def build_of(self, pipeline_id: str, run: int):
        """The fake Jenkins build of a run (the run must have started)."""
        (build,) = [b for b in self.fake.builds.values()
                    if b.parameters.get(EXECUTION_PARAMETER) == f"{pipeline_id}-{run}"]
        return build


def token_file(path: Path) -> Path:
    """A token file with the test users."""
    path.write_text(json.dumps({"tokens": [
        {"user": user, "groups": groups, "access": access, "projects": visible, "token": token}
        for user, (token, groups, access, visible) in USERS.items()]}))
    return path


def add_pipelines(store) -> None:
    """The test pipelines, with no quota on concurrent runs."""
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "web", "inlineConfig": WEB_CONFIG})
        pipelines.create(session, {"project": "other-team", "name": "api",
                                   "inlineConfig": API_CONFIG})
        projects.update_settings(session, "shop", {"executorQuota": 0})


class Server:
    """Werkzeug's threaded HTTP server with the app, on a free loopback port."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start_world(tmp_path: Path, templates, database_url: str):
    """The world and what must be closed after it: (world, closers)."""
    fake = FakeJenkins(auto_start=True, api_tokens={"sidecar": JENKINS_TOKEN}).start()
    fake.clock.now = int(time.time() * 1000)  # builds of today, so durations read as such
    app = create_app({"TESTING": True, "database_url": database_url,
                      "api_tokens_file": str(token_file(tmp_path / "tokens.yml")),
                      "jenkins_url": fake.url, "jenkins_user": "sidecar",
                      "jenkins_token": JENKINS_TOKEN, "secret_key": SECRET_KEY})
    state = app.extensions["sidecar"]
    add_pipelines(state.store)
    engine = Engine(store=state.store, jenkins=state.jenkins, templates=templates, queue_wait=5)
    server = Server(app)
    world = World(server.url, app, engine, fake,
                  {user: token for user, (token, *_rest) in USERS.items()})
    return world, [server.close, state.jenkins.close, state.store.dispose, fake.stop]


def trigger(world: World, pipeline_id: str = "shop:web", **fields) -> int:
    """A new run recorded as the API would; its number."""
    with world.store.session() as session:
        return executions.trigger(session, pipeline_id, executions.TriggerRequest(**fields)).run


def started(world: World, pipeline_id: str = "shop:web", **fields):
    """A run started in the fake Jenkins: (run, build)."""
    run = trigger(world, pipeline_id, **fields)
    world.cycles()
    return run, world.build_of(pipeline_id, run)


def paused(world: World):
    """A run of shop:web waiting on its approval: (run, build, approval id)."""
    run, build = started(world)
    for name in ("step-0-0", "step-0-1"):
        build.start_stage(name)
        build.append_log(name, f"output of {name}\n")
        build.finish_stage(name)
    build.start_stage("step-1-0")
    build.pause_for_input("Ship-it", "Ship it to production?", ok="Ship",
                          parameters={"REGION": "us-east", "NOTE": ""})
    world.cycles()
    with world.store.session() as session:
        (approval,) = approvals.of_execution(session, f"shop:web-{run}")
        return run, build, approval.id


def _buffered(app):
    """The app with each response read to its end before the server writes it.

    When a browser resets a connection (a page left while its favicon loads), Werkzeug's
    development server raises while draining the request and skips the response's
    ``close()``, so a static file's handle stays open and its ResourceWarning fails a
    later test. A response held in memory has no handle to leak; gunicorn, which serves
    the product, always closes.
    """
    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()
    return wsgi
