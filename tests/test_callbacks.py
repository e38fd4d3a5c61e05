"""Node reports from builds, authenticated by each execution's own token.

We test these aspects, on SQLite and PostgreSQL:
- a started build receives a token (password parameter); with it, its pod's report
  records the node, the pipeline's history shows it, and its next render prefers it;
- a wrong token, another execution's token, an unknown execution or no token get 401;
  a bad node name or cache slot gets 400; a second report changes nothing;
- the report's cache slot (claimed by the pod on its node) is recorded on the execution
  and served as its cacheSlot, even when the node was known already;
- the stored token is a hash, never the token itself.
"""

from __future__ import annotations

import pytest
import yaml
from fakes.jenkins import FakeJenkins

from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER, TOKEN_PARAMETER
from sidecar.jenkins import JenkinsClient
from sidecar.services import executions, pipelines, projects

API_TOKEN = "7a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"


@pytest.fixture
def started(app, templates):
    """Two started executions of one pipeline: (store, {execution id: build token})."""
    store = app.extensions["sidecar"].store
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": API_TOKEN}) as fake, \
            JenkinsClient(url=fake.url, user="sidecar", token=API_TOKEN) as client:
        with store.session() as session:
            pipelines.create(session, {"name": "api", "inlineConfig": CONFIG})
            projects.update_settings(session, "default",
                                     {"executorQuota": 0, "affinityScheme": "seed"})
        for _ in range(2):
            with store.session() as session:
                executions.trigger(session, "default:api", executions.TriggerRequest())
        Engine(store=store, jenkins=client, templates=templates,
               callback_url="http://sidecar.example:8081").cycle()
        tokens = {b.parameters[EXECUTION_PARAMETER]: b.parameters[TOKEN_PARAMETER]
                  for b in fake.builds.values()}
        yield store, tokens, fake


def _report(client, execution_id, token, node="node-9", **extra):
    return client.post(f"/api/v1/callbacks/executions/{execution_id}/node",
                       json={"nodeName": node, **extra},
                       headers={"Authorization": f"Bearer {token}"})


def test_report_records_the_claimed_slot(client, started):
    _, tokens, _ = started
    first = "default:api-1"
    assert _report(client, first, tokens[first]).json == {"recorded": True}
    assert client.get(f"/api/v1/executions/{first}").json["cacheSlot"] is None
    for bad in (-1, 10_000, "2", 1.5, True):
        assert _report(client, first, tokens[first], cacheSlot=bad).status_code == 400
    assert _report(client, first, tokens[first], cacheSlot=3).json == {"recorded": True}
    assert client.get(f"/api/v1/executions/{first}").json["cacheSlot"] == 3
    assert _report(client, first, tokens[first], cacheSlot=1).json == {"recorded": False}
    assert _report(client, first, tokens[first], cacheSlot=None).json == {"recorded": False}


def test_report_records_node_and_next_render_prefers_it(client, started, templates):
    """The seed scheme prefers nodes of running executions too (the warm one waits for an end)."""
    store, tokens, fake = started
    first = "default:api-1"
    assert _report(client, first, tokens[first]).json == {"recorded": True}
    assert _report(client, first, tokens[first], node="node-2").json == {"recorded": False}
    with store.session() as session:
        execution = executions.get(session, first)
        assert execution.node_name == "node-9"
        assert tokens[first] not in execution.callback_token_hash
        executions.trigger(session, "default:api", executions.TriggerRequest())
    history = client.get("/api/v1/pipelines/default:api/history").json
    assert [(h["executionId"], h["nodeName"], h["source"]) for h in history] == [
        (first, "node-9", "callback")]
    assert client.get("/api/v1/pipelines/default:nothing/history").status_code == 404
    assert client.get("/api/v1/pipelines/default:api/history?limit=0").status_code == 400
    with JenkinsClient(url=fake.url, user="sidecar", token=API_TOKEN) as jenkins:
        Engine(store=store, jenkins=jenkins, templates=templates).cycle()
    with store.session() as session:
        pod = yaml.safe_load(executions.get(session, "default:api-3").pod_yaml)
    values = [t["preference"]["matchFields"][0]["values"] for t in
              pod["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]]
    assert values == [["node-9"]]


def test_reports_need_the_executions_own_token(client, started):
    _, tokens, _ = started
    first, second = "default:api-1", "default:api-2"
    assert _report(client, first, tokens[second]).status_code == 401
    assert _report(client, first, "guess").status_code == 401
    assert _report(client, first, "").status_code == 401
    assert _report(client, "default:api-99", tokens[first]).status_code == 401
    assert _report(client, first, tokens[first], node="Not A Node!").status_code == 400


def test_the_pod_carries_the_callback_address(started):
    store, _, _ = started
    with store.session() as session:
        pod = yaml.safe_load(executions.get(session, "default:api-1").pod_yaml)
        jenkinsfile = executions.get(session, "default:api-1").jenkinsfile
    (jnlp,) = [c for c in pod["spec"]["containers"] if c["name"] == "jnlp"]
    env = {e["name"]: e.get("value") for e in jnlp["env"]}
    assert env["SIDECAR_CALLBACK_URL"] == \
        "http://sidecar.example:8081/api/v1/callbacks/executions/default%3Aapi-1/node"
    assert "stage('node-1')" in jenkinsfile
