"""Native API for executions and settings, before any Jenkins is involved.

We test these aspects, on SQLite and PostgreSQL:
- a trigger records a Waiting execution with its run number, config snapshot, checked
  parameters (defaults filled in) and one Waiting step per config step (clone included);
- a temporary config runs instead of the stored one, without changing the pipeline;
- bad parameters, a branch outside the pipeline filter and unknown pipelines are 4xx;
- stop before start aborts at once and skips every step; a second stop is 409;
- rerun copies config, commit and parameters; run numbers keep counting;
- project settings: defaults, validated updates, removal with null.
"""

from __future__ import annotations

CONFIG = """
branch: {include: [main, release/*]}
parameters:
- {name: TARGET, type: choice, choices: [staging, prod]}
- {name: DRY_RUN, type: boolean}
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}
"""
OTHER = "stages:\n- name: Only\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: 'true'}\n"


def _pipeline(client, **extra):
    body = {"project": "shop", "name": "api", "inlineConfig": CONFIG,
            "repositoryUrl": "https://git.example.com/shop/api.git", **extra}
    assert client.post("/api/v1/pipelines", json=body).status_code == 201
    return "shop:api"


def test_trigger_records_a_waiting_execution(client):
    pipeline = _pipeline(client)
    response = client.post(f"/api/v1/pipelines/{pipeline}/executions", json={
        "branch": "main", "commit": "a" * 40, "event": "push",
        "parameters": {"TARGET": "prod"}})
    assert response.status_code == 201
    execution = response.json
    assert (execution["id"], execution["run"], execution["state"]) == ("shop:api-1", 1, "Waiting")
    assert execution["parameters"] == {"TARGET": "prod", "DRY_RUN": "false"}
    assert [(s["stage"], s["step"], s["stageName"], s["state"]) for s in execution["steps"]] == [
        (0, 0, "Clone", "Waiting"), (1, 0, "Build", "Waiting"), (1, 1, "Build", "Waiting")]
    assert client.get(f"/api/v1/pipelines/{pipeline}").json["nextRun"] == 2


def test_temporary_config_is_not_stored(client):
    pipeline = _pipeline(client)
    response = client.post(f"/api/v1/pipelines/{pipeline}/executions",
                           json={"config": OTHER, "branch": "feature/x"})
    assert response.status_code == 201
    assert [s["stageName"] for s in response.json["steps"]] == ["Clone", "Only"]
    assert client.get(f"/api/v1/pipelines/{pipeline}").json["inlineConfig"] == CONFIG


def test_bad_triggers_are_refused(client):
    pipeline = _pipeline(client)
    url = f"/api/v1/pipelines/{pipeline}/executions"
    wrong_choice = client.post(url, json={"parameters": {"TARGET": "moon"}})
    assert wrong_choice.status_code == 400
    assert wrong_choice.json["errors"][0]["message"] == "'moon' is not one of staging, prod"
    assert client.post(url, json={"parameters": {"OTHER": 1}}).status_code == 400
    assert client.post(url, json={"branch": "feature/x"}).status_code == 409
    assert client.post(url, json={"surprise": True}).status_code == 400
    assert client.post(url, json={"config": 42}).status_code == 400
    assert client.post(url, json={"parameters": ["TARGET"]}).status_code == 400
    assert client.post("/api/v1/pipelines/none:here/executions", json={}).status_code == 404
    assert client.get(f"/api/v1/pipelines/{pipeline}").json["nextRun"] == 1


def test_stop_before_start_and_rerun(client):
    pipeline = _pipeline(client)
    first = client.post(f"/api/v1/pipelines/{pipeline}/executions",
                        json={"commit": "b" * 40, "parameters": {"DRY_RUN": True}}).json
    stopped = client.post(f"/api/v1/executions/{first['id']}/stop")
    assert stopped.json["state"] == "Aborted" and stopped.json["endedAt"]
    assert {s["state"] for s in stopped.json["steps"]} == {"Skipped"}
    assert client.post(f"/api/v1/executions/{first['id']}/stop").status_code == 409
    again = client.post(f"/api/v1/executions/{first['id']}/rerun").json
    assert (again["run"], again["triggerType"], again["commit"]) == (2, "rerun", "b" * 40)
    assert again["parameters"] == first["parameters"]
    listed = client.get(f"/api/v1/executions?pipeline={pipeline}").json
    assert [e["run"] for e in listed] == [2, 1]
    assert client.get("/api/v1/executions?limit=0").status_code == 400


def test_project_settings(client):
    assert client.get("/api/v1/settings/shop").json["executorQuota"] == 2
    assert client.put("/api/v1/settings/default", json={"executorQuota": 5}).status_code == 200
    assert client.get("/api/v1/settings/shop").json["executorQuota"] == 5
    changed = client.put("/api/v1/settings/shop", json={"executorQuota": 1,
                                                        "executorCpuLimit": "2"})
    assert (changed.json["executorQuota"], changed.json["executorCpuLimit"]) == (1, "2")
    bad = client.put("/api/v1/settings/shop", json={"executorQuota": -1, "bogus": 1})
    assert bad.status_code == 400 and len(bad.json["errors"]) == 2
    assert client.put("/api/v1/settings/shop", json={"executorQuota": None}).json[
        "executorQuota"] == 5
