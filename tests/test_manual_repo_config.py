"""Runs started by hand of a pipeline that keeps its config in its repository.

We test these aspects, on SQLite and PostgreSQL, through the HTTP API against a fake
provider API (a real HTTP server):
- the native trigger reads the config at the requested branch, or at the commit when one
  is given, with the pipeline's credential, and the run records exactly that text; the
  run number taken is the next one;
- Blue Ocean's "run" (no branch) reads the default branch;
- a missing file or a refused credential is a 502 that starts nothing and uses up no run
  number; a file that is not a pipeline config is a 400 with where it fails and without
  its text;
- a pipeline with an inline config calls no provider;
- the web UI's start form reads the config at the form's branch, and shows why it could not.
"""

from __future__ import annotations

import re

import pytest
from fakes.scm import FakeScm
from webhook_helpers import CONFIG, create_pipeline, executions

from sidecar import outbound

TOKEN = "ghp-provider-token"
REPO, PATH = "shop/app", "ci/pipeline.yml"
RELEASE = CONFIG.replace("Build", "Release build")
BLUE = "/blue/rest/organizations/jenkins/pipelines/sidecar.shop.app/runs/"


@pytest.fixture
def app(app):
    """The app, allowed to call the fake provider API on 127.0.0.1."""
    app.extensions["sidecar"].outbound = outbound.Client(outbound.Policy.parse("127.0.0.1/32"))
    return app


@pytest.fixture
def scm():
    with FakeScm(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def pipeline(client, scm):
    return create_pipeline(client, repositoryUrl=f"https://github.com/{REPO}.git",
                           providerToken=TOKEN, configPath=PATH,
                           triggers={"apiUrl": scm.url, "scm": "github"})


def _start(client, pipeline, **body):
    return client.post(f"/api/v1/pipelines/{pipeline}/executions", json=body)


def test_a_run_by_hand_reads_the_config_at_its_branch_or_commit(client, scm, pipeline):
    scm.files[(REPO, "release/1.x", PATH)] = RELEASE
    scm.files[(REPO, "c0ffee", PATH)] = CONFIG
    by_branch = _start(client, pipeline, branch="release/1.x")
    assert by_branch.status_code == 201, by_branch.json
    by_commit = _start(client, pipeline, branch="release/1.x", commit="c0ffee")
    assert by_commit.status_code == 201, by_commit.json
    assert [query["ref"] for _, query, _ in scm.requests] == ["release/1.x", "c0ffee"]
    assert {headers["Authorization"] for _, _, headers in scm.requests} == {f"Bearer {TOKEN}"}
    assert [e["run"] for e in executions(client, pipeline)] == [2, 1]
    assert by_branch.json["steps"][1]["stageName"] == "Release build"  # after the clone
    assert by_commit.json["steps"][1]["stageName"] == "Build"


def test_blue_ocean_runs_read_the_default_branch(client, scm, pipeline):
    scm.files[(REPO, "main", PATH)] = RELEASE
    answer = client.post(BLUE, json={})
    assert answer.status_code == 200, answer.json
    assert [query["ref"] for _, query, _ in scm.requests] == ["main"]
    assert answer.json["id"] == "1"


@pytest.mark.parametrize("token", ["wrong", TOKEN])
def test_an_unreadable_config_starts_nothing_and_keeps_the_run_number(client, scm, pipeline,
                                                                      token):
    scm.token = token  # wrong: the credential is refused; right: the file is missing
    answer = _start(client, pipeline, branch="main")
    assert answer.status_code == 502 and TOKEN not in answer.get_data(as_text=True)
    assert client.post(BLUE, json={}).status_code == 502
    assert executions(client, pipeline) == []
    scm.token = TOKEN
    scm.files[(REPO, "main", PATH)] = CONFIG
    assert _start(client, pipeline, branch="main").json["run"] == 1


def test_a_file_that_is_no_config_is_refused_without_its_text(client, scm, pipeline):
    scm.files[(REPO, "main", PATH)] = "stages: [{name: Build, steps: [{secretly: internal}]}]"
    answer = _start(client, pipeline, branch="main")
    assert answer.status_code == 400
    assert "secretly" not in answer.get_data(as_text=True)
    assert answer.json["errors"][0]["position"].startswith(f"{PATH}:1:")
    assert executions(client, pipeline) == []


def test_an_inline_config_calls_no_provider(client, scm):
    inline = create_pipeline(client, name="inline")
    assert _start(client, inline, branch="main").status_code == 201
    assert scm.requests == []


def test_the_web_ui_reads_the_config_at_the_forms_branch(client, scm, pipeline):
    scm.files[(REPO, "release/1.x", PATH)] = RELEASE
    page = client.get(f"/ui/pipelines/{pipeline}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    missing = client.post(f"/ui/pipelines/{pipeline}/runs",
                          data={"csrf_token": csrf, "branch": "main"})
    assert missing.status_code == 400 and "ci/pipeline.yml not found" in missing.text
    started = client.post(f"/ui/pipelines/{pipeline}/runs",
                          data={"csrf_token": csrf, "branch": "release/1.x"})
    assert started.status_code == 303
    assert [query["ref"] for _, query, _ in scm.requests] == ["main", "release/1.x"]
    assert [e["run"] for e in executions(client, pipeline)] == [1]
