"""A token of another project, or a cache-report token, on every route family.

We test these aspects, on SQLite and PostgreSQL, through the HTTP API:
- every documented operation that names a pipeline, run, execution, approval or project
  answers a token that does not see the project exactly as it answers for a missing
  object (404, the same body but for the name), while the owner's token gets through;
- lists (pipelines, executions, approvals, Blue Ocean pipelines, node caches) hold only
  the caller's projects, paged in SQL, for plain names and for ``*``/``?`` globs;
- creating a pipeline, or changing settings, in a project the caller does not see is
  refused as missing, and nothing is written;
- the approval's submitter rule stays on top of project access;
- a cache-report token may only POST node cache reports (403 everywhere else); a write
  token limited to some projects may not report for every project;
- token files with globs the SQL filter cannot hold are refused at start-up.
"""

from __future__ import annotations

import re

import pytest
from tenants import TOKENS, bearer, write_tokens

from sidecar.api.openapi import document
from sidecar.errors import ConfigError
from sidecar.services.access import load_tokens
from sidecar.store.models import Approval, Pipeline

BO = "/blue/rest/organizations/jenkins/pipelines"
# Open to every caller (no token): /metrics carries no project, pipeline or run label.
OPEN = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/hooks/", "/api/v1/callbacks/")
# Path parameters naming team-a's objects (seen) and a missing one of the same kind.
HIDDEN = {"pipeline_id": "team-a:web", "pipeline": "sidecar.team-a.web", "run": "1",
          "execution_id": "team-a:web-1", "project": "team-a", "stage": "0", "step": "5",
          "node": "3", "name": "io.jenkins.blueocean.rest.model.BlueRun", "item": "2",
          "trend": "junit", "commit": "c0ffee", "user": "dev-team-a"}
MISSING = {**HIDDEN, "pipeline_id": "team-a:ghost", "pipeline": "sidecar.team-a.ghost",
           "execution_id": "team-a:ghost-1", "project": "team-z", "user": "dev-team-z"}
BODIES = {"/decision": {"approve": True}, "/steps/{step}/": {"id": "ship", "parameters": []},
          "/api/v1/pipelines": {"project": "team-a", "name": "new"}}
NAMING = [(method.upper(), path) for path, item in document()["paths"].items()
          for method in item if method != "parameters" and "{" in path
          and not path.startswith(OPEN) and "/nodes/{node}/caches" not in path
          and "/classes/" not in path]


def _fill(path: str, values: dict, approval: int) -> str:
    if "{stage}" in path:  # the native step log counts steps within their stage
        values = {**values, "step": "0"}
    if path.endswith("/input/"):  # the approval: stage node 6, its step 8
        values = {**values, "node": "6", "step": "8"}
    if path.startswith("/api/v1/notifiers/"):  # each project has a notifier named 'chat'
        values = {**values, "name": "chat"}
    return re.sub(r"\{(\w+)\}", lambda m: str(approval) if m[1] == "approval_id"
                  else values[m[1]], path)


def _body(path: str) -> dict:
    return next((body for suffix, body in BODIES.items() if path.endswith(suffix)), {})


def _call(client, method: str, template: str, values: dict, approval: int, token: str):
    return client.open(_fill(template, values, approval), method=method, json=_body(template),
                       headers=bearer(token))


def _normalised(response, *names: str) -> tuple[int, str]:
    text = re.sub(r'"requestId": ?"\w+"', "", response.get_data(as_text=True))
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "<name>")
    return response.status_code, text


@pytest.mark.parametrize("method, path", NAMING, ids=[f"{m} {p}" for m, p in NAMING])
def test_another_projects_object_answers_as_a_missing_one(tenants, method, path):
    approval = tenants.approvals["team-a"]
    hidden = _call(tenants.client, method, path, HIDDEN, approval, "b-writer")
    missing = _call(tenants.client, method, path, MISSING, 2**30, "b-writer")
    assert hidden.status_code == 404, hidden.get_data(as_text=True)
    names = ("team-a:ghost", "sidecar.team-a.ghost", "team-z", "team-a:web", "sidecar.team-a.web",
             "team-a", str(approval), str(2**30), "dev-team-a", "dev-team-z")
    assert _normalised(hidden, *names) == _normalised(missing, *names)
    owner = _call(tenants.client, method, path, HIDDEN, approval, "a-writer")
    assert owner.status_code != 404, owner.get_data(as_text=True)


@pytest.mark.parametrize("token", ["b-writer", "globs"])
def test_lists_hold_only_the_callers_projects(tenants, token):
    client, auth = tenants.client, bearer(token)
    assert [p["id"] for p in client.get("/api/v1/pipelines", headers=auth).json] == ["team-b:web"]
    assert client.get("/api/v1/pipelines?project=team-a", headers=auth).json == []
    runs = client.get("/api/v1/executions", headers=auth).json
    assert {r["pipelineId"] for r in runs} == {"team-b:web"} and len(runs) == 2
    assert client.get("/api/v1/executions?pipeline=team-a:web", headers=auth).json == []
    assert [a["pipelineId"] for a in client.get("/api/v1/approvals", headers=auth).json] == \
        ["team-b:web"]
    page = client.get(f"{BO}/?start=0&limit=1", headers=auth)
    assert [p["name"] for p in page.json] == ["sidecar.team-b.web"]
    assert client.get(f"{BO}/?start=1&limit=1", headers=auth).json == []
    caches = client.get("/api/v1/nodes/node-1/caches", headers=auth).json
    assert [c["pipelineId"] for c in caches] == ["team-b:web"]


def test_an_all_projects_token_lists_everything(tenants):
    auth = bearer("admin")
    assert len(tenants.client.get("/api/v1/pipelines", headers=auth).json) == 2
    assert len(tenants.client.get("/api/v1/nodes/node-1/caches", headers=auth).json) == 3
    assert len(tenants.client.get(f"{BO}/", headers=auth).json) == 2


def test_creating_in_a_project_not_seen_is_refused_as_missing(tenants):
    client = tenants.client
    created = client.post("/api/v1/pipelines", json={"project": "team-a", "name": "evil"},
                          headers=bearer("b-writer"))
    assert created.status_code == 404 and created.json["message"] == "project team-a not found"
    changed = client.put("/api/v1/settings/team-a", json={"executorQuota": 50},
                         headers=bearer("b-writer"))
    assert changed.status_code == 404
    defaults = client.put("/api/v1/settings/default", json={"executorQuota": 50},
                          headers=bearer("b-writer"))
    assert defaults.status_code == 404
    with tenants.store().session() as session:
        assert session.get(Pipeline, "team-a:evil") is None
    settings = client.get("/api/v1/settings/team-a", headers=bearer("a-writer")).json
    assert settings["executorQuota"] == 3
    assert client.post("/api/v1/pipelines", json={"project": "team-b", "name": "ok"},
                       headers=bearer("b-writer")).status_code == 201


def test_submitters_still_decide_within_a_project(tenants):
    approval = tenants.approvals["team-a"]
    with tenants.store().session() as session:
        session.get(Approval, approval).submitters = ["admin"]
    path = f"/api/v1/approvals/{approval}/decision"
    assert tenants.client.post(path, json={"approve": True},
                               headers=bearer("a-writer")).status_code == 403
    assert tenants.client.post(path, json={"approve": True},
                               headers=bearer("b-writer")).status_code == 404
    assert tenants.client.post(path, json={"approve": True},
                               headers=bearer("admin")).status_code == 200


EVERY = [(method.upper(), path) for path, item in document()["paths"].items()
         for method in item if method != "parameters" and not path.startswith(OPEN)]


@pytest.mark.parametrize("method, path", EVERY, ids=[f"{m} {p}" for m, p in EVERY])
def test_a_cache_report_token_reaches_nothing_else(tenants, method, path):
    url = _fill(path, HIDDEN, tenants.approvals["team-a"]).replace("{node}", "node-1")
    response = tenants.client.open(url, method=method, json=_body(path), headers=bearer("gc"))
    if (method, path) == ("POST", "/api/v1/nodes/{node}/caches"):
        assert response.status_code == 400   # through the door; the empty report is refused
    else:
        assert response.status_code == 403, response.get_data(as_text=True)


def test_cache_reports_need_a_cache_report_or_all_projects_writer(tenants):
    report = {"caches": [{"directory": "team-a/web/trusted/.npm", "sizeBytes": 5,
                          "state": "present"}]}
    path = "/api/v1/nodes/node-2/caches"
    assert tenants.client.post(path, json=report, headers=bearer("a-writer")).status_code == 403
    assert tenants.client.post(path, json=report, headers=bearer("gc")).status_code == 200
    assert tenants.client.post(path, json=report, headers=bearer("admin")).status_code == 200


@pytest.mark.parametrize("glob", ["team_[ab]", "TEAM-A", "team-a%", ""])
def test_token_globs_the_sql_filter_cannot_hold_are_refused(tmp_path, glob):
    path = write_tokens(tmp_path / "tokens.json")
    text = path.read_text().replace('["team-a"]', f'["{glob}"]', 1)
    path.write_text(text)
    with pytest.raises(ConfigError, match="projects"):
        load_tokens(str(path))
    assert TOKENS["a-writer"][2] == ["team-a"]
