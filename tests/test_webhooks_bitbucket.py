"""Bitbucket Cloud and Data Center deliveries end to end, on SQLite and PostgreSQL.

We test these aspects:
- a Data Center pipeline reads its config on its own server's REST API
  (``/rest/api/1.0/projects/KEY/repos/slug/raw/<path>?at=<commit>``), whatever form its
  repository URL takes (http clone URL with port and context path, ssh, web page,
  personal repository), or at its ``apiUrl``; the provider token never goes anywhere
  else, and a Cloud repository still reads from api.bitbucket.org;
- a push changing several refs starts one run, for the first ref the pipeline takes
  (Cloud ``repo:push`` and Data Center ``repo:refs_changed``);
- a Cloud pull request from a fork starts nothing, and says why.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

import pytest
from fakes.scm import FakeScm, RecordingClient
from webhook_helpers import (CONFIG, SECRET, body_of, create_pipeline, deliver, executions,
                             headers_for, hub_signature)

from sidecar import outbound
from sidecar.store.models import Execution

TOKEN = "dc-http-access-token"
REMOTE = CONFIG.replace("Build", "Remote")
COMMIT = "178864a7d521b6f5e720b386b2c2b0ef8563e0dc"
BRANCH = {"ref": {"id": "refs/heads/master", "displayId": "master", "type": "BRANCH"},
          "refId": "refs/heads/master", "fromHash": "ecddabb624f6f5ba43816f5926e580a5f680a932",
          "toHash": COMMIT, "type": "UPDATE"}
TAG = {"ref": {"id": "refs/tags/v1.2.0", "displayId": "v1.2.0", "type": "TAG"},
       "refId": "refs/tags/v1.2.0", "fromHash": "0" * 40,
       "toHash": "9f1a2b3c4d5e6f708192a3b4c5d6e7f809a1b2c3", "type": "ADD"}
RAW = f"/rest/api/1.0/projects/PROJ/repos/repo/raw/ci/pipeline.yml?at={COMMIT}"


def _server_push(changes: list[dict], clone_urls: tuple[str, ...] = ()) -> bytes:
    """A Data Center repo:refs_changed body (its "Event payload" documentation's shape)."""
    repository = {"slug": "repo", "name": "repo", "project": {"key": "PROJ"},
                  "links": {"clone": [{"href": url} for url in clone_urls]}}
    return json.dumps({"eventKey": "repo:refs_changed", "date": "2017-09-19T09:58:11+1000",
                       "actor": {"name": "admin"}, "repository": repository,
                       "changes": changes}).encode()


def _deliver_server(client, pipeline: str, body: bytes):
    """Deliver as Data Center does: X-Event-Key, X-Request-Id, X-Hub-Signature."""
    return deliver(client, "bitbucket", pipeline, body, {
        "X-Event-Key": "repo:refs_changed", "X-Request-Id": str(uuid.uuid4()),
        "X-Hub-Signature": hub_signature(SECRET, body)})


def test_data_center_config_is_read_on_the_repository_server(client, app):
    app.extensions["sidecar"].outbound = outbound.Client(outbound.Policy.parse("127.0.0.1/32"))
    with FakeScm(token=TOKEN) as scm:
        scm.files[("PROJ/repo", COMMIT, "ci/pipeline.yml")] = REMOTE
        repo = f"{scm.url}/bitbucket/scm/proj/repo.git"
        pipeline = create_pipeline(client, repositoryUrl=repo, providerToken=TOKEN,
                                   configPath="ci/pipeline.yml")
        response = _deliver_server(client, pipeline, _server_push([BRANCH], (repo,)))
    assert response.status_code == 202, response.json
    [(path, query, headers)] = scm.requests
    assert path == "/bitbucket/rest/api/1.0/projects/PROJ/repos/repo/raw/ci/pipeline.yml"
    assert query == {"at": COMMIT}
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    with app.extensions["sidecar"].store.session() as session:
        run = session.get(Execution, response.json["executionId"])
        assert (run.config_snapshot, run.commit) == (REMOTE, COMMIT)


SERVERS = [  # (repository URL, apiUrl, the one URL called)
    ("https://bitbucket.corp.example/scm/proj/repo.git", None,
     "https://bitbucket.corp.example" + RAW),
    ("ssh://git@bitbucket.corp.example:7999/proj/repo.git", None,
     "https://bitbucket.corp.example" + RAW),
    ("git@bitbucket.corp.example:proj/repo.git", None, "https://bitbucket.corp.example" + RAW),
    ("https://bitbucket.corp.example/projects/PROJ/repos/repo/browse", None,
     "https://bitbucket.corp.example" + RAW),
    ("https://ci@bitbucket.corp.example:8443/bitbucket/scm/~jdoe/repo.git", None,
     "https://bitbucket.corp.example:8443/bitbucket" + RAW.replace("PROJ", "~jdoe")),
    ("https://bitbucket.corp.example/scm/proj/repo.git",
     "https://bitbucket-api.corp.example/rest/api/1.0", "https://bitbucket-api.corp.example" + RAW),
]


@pytest.mark.parametrize("repo,api_url,called", SERVERS,
                         ids=["https", "ssh", "scp-like", "web-page", "personal-port-context",
                              "api-url"])
def test_the_token_goes_only_to_the_repository_server(client, app, repo, api_url, called):
    recorder = RecordingClient(REMOTE)
    app.extensions["sidecar"].outbound = recorder
    triggers = {"apiUrl": api_url} if api_url else {}
    pipeline = create_pipeline(client, repositoryUrl=repo, providerToken=TOKEN,
                               configPath="ci/pipeline.yml", triggers=triggers)
    response = _deliver_server(client, pipeline, _server_push([BRANCH]))
    assert response.status_code == 202, response.json
    assert recorder.calls == [(called, {"Authorization": f"Bearer {TOKEN}"}, True)]
    allowed = {urlsplit(repo if "://" in repo else "ssh://" + repo).hostname,
               urlsplit(api_url or "").hostname}
    assert {urlsplit(url).hostname for url, _, _ in recorder.calls} <= allowed


def test_bitbucket_cloud_still_reads_from_its_api_host(client, app):
    recorder = RecordingClient(REMOTE)
    app.extensions["sidecar"].outbound = recorder
    pipeline = create_pipeline(client, repositoryUrl="https://bitbucket.org/team_name/repo_name",
                               providerToken=TOKEN, configPath="ci/pipeline.yml")
    body = json.dumps(body_of("bitbucket/repo-push.json")).encode()
    response = deliver(client, "bitbucket", pipeline, body,
                       headers_for("bitbucket", body, "repo:push"))
    assert response.status_code == 202, response.json
    [(url, _, credential)] = recorder.calls
    assert url.startswith("https://api.bitbucket.org/2.0/repositories/team_name/repo_name/src/")
    assert credential


def _cloud_branch_and_tag() -> bytes:
    """`git push --follow-tags`: one repo:push with the branch, then its new tag."""
    payload = body_of("bitbucket/repo-push.json")
    branch = payload["push"]["changes"][0]
    tag = json.loads(json.dumps(branch))
    tag["new"]["type"], tag["new"]["name"], tag["old"] = "tag", "v1.2.0", None
    payload["push"]["changes"] = [branch, tag]
    return json.dumps(payload).encode()


@pytest.mark.parametrize("events,event,branch", [(["push"], "push", "name-of-branch"),
                                                 (["tag"], "tag", "v1.2.0")])
def test_a_cloud_push_of_several_refs_builds_the_first_taken(client, events, event, branch):
    pipeline = create_pipeline(client, triggers={"events": events})
    body = _cloud_branch_and_tag()
    response = deliver(client, "bitbucket", pipeline, body,
                       headers_for("bitbucket", body, "repo:push"))
    assert response.status_code == 202, response.json
    assert (response.json["event"], response.json["branch"]) == (event, branch)
    assert len(executions(client, pipeline)) == 1


def test_a_data_center_push_of_several_refs_builds_the_first_taken(client):
    pipeline = create_pipeline(client, triggers={"events": ["push"]})
    deleted = {**BRANCH, "ref": {"id": "refs/heads/old"}, "type": "DELETE"}
    response = _deliver_server(client, pipeline, _server_push([deleted, BRANCH, TAG]))
    assert response.status_code == 202, response.json
    assert (response.json["event"], response.json["branch"], response.json["commit"]) == (
        "push", "master", COMMIT)


def test_a_push_the_pipeline_takes_none_of_says_why_for_each(client):
    pipeline = create_pipeline(client, triggers={"events": ["pull_request"]})
    response = _deliver_server(client, pipeline, _server_push([BRANCH, TAG]))
    assert response.status_code == 200
    assert "push events" in response.json["ignored"] and "tag events" in response.json["ignored"]
    assert executions(client, pipeline) == []


def test_a_cloud_pull_request_from_a_fork_starts_nothing(client):
    pipeline = create_pipeline(client, repositoryUrl="https://bitbucket.org/team_name/repo_name")
    payload = body_of("bitbucket/pullrequest-created.json")
    source = payload["pullrequest"]["source"]
    source["branch"]["name"] = "master"          # the fork's own master, not ours
    source["repository"]["full_name"] = "outsider/repo_name-fork"
    body = json.dumps(payload).encode()
    response = deliver(client, "bitbucket", pipeline, body,
                       headers_for("bitbucket", body, "pullrequest:created"))
    assert response.status_code == 200, response.json
    assert response.json["ignored"] == ("pull request from a fork: Bitbucket Cloud has no "
                                        "pull-request ref in the base repository")
    assert executions(client, pipeline) == []
