"""Branch, ref and commit longer than a run stores, on SQLite and PostgreSQL.

PostgreSQL refuses a value longer than its column (SQLite stores it), so the limits
are checked before anything is written. We test these aspects:
- the native trigger answers 400 naming each field too long, records nothing and uses
  up no run number; values at the limit are taken; a tag's derived ref counts too;
- a pipeline keeping its config in its repository refuses before the provider is asked;
- a webhook with a branch, ref or commit too long is ignored (200, saying which).
"""

from __future__ import annotations

import json

import pytest
from fakes.scm import RecordingClient
from webhook_helpers import CONFIG, body_of, create_pipeline, deliver, executions, headers_for

TOO_LONG = [({"commit": "a" * 101}, ["commit"]),
            ({"branch": "b" * 501}, ["branch"]),
            ({"ref": "refs/heads/" + "r" * 490}, ["ref"]),
            ({"branch": "b" * 501, "commit": "c" * 200}, ["branch", "commit"]),
            ({"event": "tag", "branch": "v" * 495}, ["ref"])]   # refs/tags/ + 495


@pytest.mark.parametrize("body,fields", TOO_LONG, ids=["commit", "branch", "ref", "two",
                                                       "tag-ref"])
def test_the_native_trigger_names_each_field_too_long(client, body, fields):
    pipeline = create_pipeline(client)
    response = client.post(f"/api/v1/pipelines/{pipeline}/executions", json=body)
    assert response.status_code == 400, response.json
    assert sorted(e["field"] for e in response.json["errors"]) == fields
    assert executions(client, pipeline) == []
    started = client.post(f"/api/v1/pipelines/{pipeline}/executions", json={})
    assert started.json["run"] == 1                 # the refused trigger used no number


def test_values_at_the_limits_are_taken(client):
    pipeline = create_pipeline(client)
    body = {"branch": "b" * 500, "ref": "refs/heads/" + "b" * 489, "commit": "c" * 100}
    response = client.post(f"/api/v1/pipelines/{pipeline}/executions", json=body)
    assert response.status_code == 201, response.json
    assert (len(response.json["branch"]), len(response.json["commit"])) == (500, 100)


def test_a_repository_config_is_not_read_for_a_refused_commit(client, app):
    recorder = RecordingClient(CONFIG)
    app.extensions["sidecar"].outbound = recorder
    pipeline = create_pipeline(client, repositoryUrl="https://github.com/shop/app.git",
                               providerToken="token", configPath="ci/pipeline.yml")
    response = client.post(f"/api/v1/pipelines/{pipeline}/executions",
                           json={"commit": "a" * 101})
    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == ["commit"]
    assert recorder.calls == []


@pytest.mark.parametrize("change,field", [
    ({"ref": "refs/heads/" + "feature/" * 70 + "x"}, "branch"),
    ({"after": "a" * 101}, "commit")])
def test_a_webhook_with_a_field_too_long_is_ignored(client, change, field):
    pipeline = create_pipeline(client)
    payload = {**body_of("github/push.json"), **change}
    body = json.dumps(payload).encode()
    response = deliver(client, "github", pipeline, body, headers_for("github", body, "push"))
    assert response.status_code == 200, response.json
    assert f"{field}: longer than" in response.json["ignored"]
    assert executions(client, pipeline) == []
