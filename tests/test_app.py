"""The HTTP service: factory, health, pipelines API, render API, one error envelope.

We test these aspects, on SQLite and on PostgreSQL:
- create_app builds the schema by migration and starts without Jenkins;
- /healthz and /readyz (database ok, Jenkins 'not configured');
- pipelines: create (inline config validated with positions), list, get, update,
  delete, 404/409; the webhook secret is never shown;
- render and validate over HTTP give the CLI's results;
- bad input is a 4xx JSON envelope, never a 500 or a traceback; a lost database is a 503.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.app import create_app

GOOD = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"database": "ok", "jenkins": "not configured", "engine": {
        "leader": None, "epoch": None, "heartbeatAt": None, "instance": None,
        "instanceHeartbeatAt": None, "instanceLeading": None}}


def test_pipeline_lifecycle(client):
    created = client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "web", "repositoryUrl": "https://git.example.com/web.git",
        "inlineConfig": GOOD, "webhookSecret": "s3cret"})
    assert created.status_code == 201
    assert created.json["id"] == "shop:web" and created.json["hasWebhookSecret"] is True
    assert "s3cret" not in created.get_data(as_text=True)
    assert client.post("/api/v1/pipelines", json={"project": "shop", "name": "web"}).status_code == 409
    assert [p["id"] for p in client.get("/api/v1/pipelines?project=shop").json] == ["shop:web"]
    updated = client.put("/api/v1/pipelines/shop:web", json={"configPath": "ci/pipeline.yml"})
    assert updated.json["configPath"] == "ci/pipeline.yml"
    assert client.get("/api/v1/pipelines/shop:web").json["nextRun"] == 1
    assert client.delete("/api/v1/pipelines/shop:web").status_code == 204
    assert client.get("/api/v1/pipelines/shop:web").status_code == 404


def test_invalid_inline_config_lists_every_problem(client):
    response = client.post("/api/v1/pipelines", json={
        "name": "bad", "inlineConfig": "stages:\n- name: A\n  stpes: []\n"})
    assert response.status_code == 400
    assert response.json["errors"] == [
        {"field": "stages[0]", "message": "missing required key 'steps'",
         "position": "inlineConfig:2:3"},
        {"field": "stages[0].stpes", "message": "unknown key 'stpes'; did you mean 'steps'?",
         "position": "inlineConfig:3:3"}]


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/v1/pipelines", None),
    ("post", "/api/v1/pipelines", ["a list"]),
    ("post", "/api/v1/pipelines", {"name": "Bad Name!"}),
    ("post", "/api/v1/pipelines", {"name": "x", "surprise": 1}),
    ("post", "/api/v1/pipelines", {"name": "x", "inlineConfig": 42}),
    ("put", "/api/v1/pipelines/none:here", {"configPath": "x"}),
    ("post", "/api/v1/render", {"config": "stages: [oops"}),
    ("post", "/api/v1/render", {"config": GOOD, "context": "event: merge"}),
    ("post", "/api/v1/render", {}),
    ("get", "/api/v1/nowhere", None),
])
def test_bad_requests_get_the_error_envelope(client, method, path, body):
    response = getattr(client, method)(path, json=body) if body is not None else \
        getattr(client, method)(path, data="not json")
    assert 400 <= response.status_code < 500
    assert set(response.json) == {"message", "code", "errors", "requestId"}
    assert response.json["code"] == response.status_code
    assert "Traceback" not in response.get_data(as_text=True)


def test_render_and_validate_over_http(client, templates):
    rendered = client.post("/api/v1/render", json={
        "config": GOOD, "context": "gitUrl: https://git.example.com/a.git\nbranch: main\n",
        "history": "- {executionId: e1, nodeName: node-a, creationTimestamp: ''}\n"})
    assert rendered.status_code == 200
    assert "stage('Clone')" in rendered.json["jenkinsfile"]
    assert "node-a" in rendered.json["podYaml"]
    assert client.post("/api/v1/validate", json={"config": GOOD}).json == {"valid": True,
                                                                         "errors": []}
    invalid = client.post("/api/v1/validate", json={"config": "stages: []"}).json
    assert invalid["valid"] is False and invalid["errors"][0]["field"] == "stages"
    assert client.get("/api/v1/schema").json["title"] == "jenkins-sidecar pipeline config"


def test_examples_are_loaded_when_asked(database_url):
    app = create_app({"TESTING": True, "database_url": database_url,
                      "examples_dir": str(EXAMPLES)})
    ids = [p["id"] for p in app.test_client().get("/api/v1/pipelines").json]
    assert len(ids) >= 6 and all(i.startswith("examples:") for i in ids)
    again = create_app({"TESTING": True, "database_url": database_url,
                        "examples_dir": str(EXAMPLES)})
    assert len(again.test_client().get("/api/v1/pipelines").json) == len(ids)
    for each in (app, again):
        each.extensions["sidecar"].store.dispose()


def test_readiness_reports_jenkins(database_url):
    from fakes.jenkins import FakeJenkins

    with FakeJenkins(api_tokens={"sidecar": "0123456789abcdef0123"}) as fake:
        app = create_app({"TESTING": True, "database_url": database_url,
                          "jenkins_url": fake.url, "jenkins_user": "sidecar",
                          "jenkins_token": "0123456789abcdef0123"})
        client = app.test_client()
        assert client.get("/readyz").json["jenkins"] == f"ok ({fake.version})"
        fake.refuse_connections()
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["jenkins"] == "unreachable"
        app.extensions["sidecar"].store.dispose()


def test_database_outage_is_503_not_500(tmp_path):
    app = create_app({"TESTING": True, "database_url": f"sqlite:///{tmp_path}/db.sqlite"})
    (tmp_path / "db.sqlite").unlink()
    (tmp_path / "db.sqlite").mkdir()  # the file is gone and cannot be created again
    app.extensions["sidecar"].store.dispose()
    response = app.test_client().get("/api/v1/pipelines")
    assert response.status_code == 503
    assert response.json["message"] == "the database is unavailable; try again"
    assert app.test_client().get("/readyz").status_code == 503
