"""Webhooks from each provider's documented sample payloads, on SQLite and PostgreSQL.

We test these aspects:
- every stored documentation sample starts one run with the right event, branch, ref,
  commit and trigger type; pings and deleted refs start nothing and say why;
- forged, missing and empty signatures or tokens, unknown pipelines and pipelines
  without a secret all answer the same 401 envelope;
- a redelivered delivery starts nothing new, also when two arrive at once; deliveries
  are deduplicated per pipeline (GitLab by Idempotency-Key, Bitbucket pull requests by
  head commit); malformed pipeline names and odd delivery ids are handled, never a 5xx;
- a payload about another repository starts nothing, and a run clones the pipeline's
  own repository whatever the payload says.
"""

from __future__ import annotations

import json
import threading

import pytest
from webhook_helpers import (SECRET, body_of, create_pipeline, deliver, executions, headers_for,
                             sample)

from sidecar.services import executions as execution_service
from sidecar.store.models import Execution, Pipeline

# (provider, sample, event header, pipeline repository, event, branch, ref, commit)
SAMPLES = [
    ("github", "github/push.json", "push", "https://github.com/baxterthehacker/public-repo",
     "push", "changes", "refs/heads/changes", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"),
    ("github", "github/pull_request-opened.json", "pull_request",
     "git@github.com:Codertocat/Hello-World.git", "pull_request", "master",
     "refs/pull/2/head", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
    ("gitlab", "gitlab/push.json", "Push Hook", "http://example.com/mike/diaspora.git",
     "push", "master", "refs/heads/master", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
    ("gitlab", "gitlab/tag_push.json", "Tag Push Hook", "git@example.com:jsmith/example.git",
     "tag", "v1.0.0", "refs/tags/v1.0.0", "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"),
    ("gitlab", "gitlab/merge_request-open.json", "Merge Request Hook",
     "http://example.com/awesome_space/awesome_project.git", "pull_request", "master",
     "refs/merge-requests/1/head", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
    ("bitbucket", "bitbucket/repo-push.json", "repo:push",
     "https://bitbucket.org/team_name/repo_name.git", "push", "name-of-branch",
     "refs/heads/name-of-branch", "709d658dc5b6d6afcd46049c2f332ee3f515a67d"),
    ("bitbucket", "bitbucket/pullrequest-created.json", "pullrequest:created",
     "git@bitbucket.org:team_name/repo_name.git", "pull_request", "master",
     "refs/heads/branch2", "d3022fc0ca3d"),
    ("harbor", "harbor/push_artifact.json", "", "", "image", "main", "refs/heads/main", ""),
    ("dockerhub", "dockerhub/push.json", "", "", "image", "main", "refs/heads/main", ""),
]
MESSAGES = {"github/push.json": "Update README.md", "gitlab/push.json": "fixed readme",
            "bitbucket/repo-push.json": "new commit message",
            "harbor/push_artifact.json": "image hub.harbor.com/test-webhook/debian:latest pushed",
            "dockerhub/push.json": "image svendowideit/testhook:latest pushed"}


@pytest.mark.parametrize("provider,name,header,repo,event,branch,ref,commit", SAMPLES,
                         ids=[s[1] for s in SAMPLES])
def test_documented_samples_start_the_right_run(client, app, provider, name, header, repo,
                                                event, branch, ref, commit):
    pipeline = create_pipeline(client, repositoryUrl=repo)
    body = sample(name)
    response = deliver(client, provider, pipeline, body, headers_for(provider, body, header))
    assert response.status_code == 202, response.json
    assert response.json["event"] == event
    [run] = executions(client, pipeline)
    assert (run["event"], run["branch"], run["ref"], run["commit"]) == (event, branch, ref, commit)
    assert run["triggerType"] == ("image" if event == "image" else "webhook")
    assert run["state"] == "Waiting"
    if name in MESSAGES:
        assert run["message"] == MESSAGES[name]
    with app.extensions["sidecar"].store.session() as session:
        execution = session.get(Execution, run["id"])
        assert execution.triggered_by == f"webhook:{provider}"
        # The run clones the pipeline's repository, never a URL from the payload.
        context = execution_service.context_of(execution, session.get(Pipeline, pipeline))
        assert context.git_url == repo


@pytest.mark.parametrize("name,reason", [("github/ping.json", "ping"),
                                         ("github/push-tag-deleted.json", "deleted")])
def test_pings_and_deleted_refs_start_nothing(client, name, reason):
    pipeline = create_pipeline(client)
    body = sample(name)
    event = "ping" if "ping" in name else "push"
    response = deliver(client, "github", pipeline, body, headers_for("github", body, event))
    assert response.status_code == 200
    assert reason in response.json["ignored"]
    assert executions(client, pipeline) == []


FORGERIES = [
    ("github", "push", "github/push.json", {"X-Hub-Signature-256": "sha256=" + "0" * 64}),
    ("github", "push", "github/push.json", {"X-Hub-Signature-256": ""}),
    ("gitlab", "Push Hook", "gitlab/push.json", {"X-Gitlab-Token": "guess"}),
    ("gitlab", "Push Hook", "gitlab/push.json", {"X-Gitlab-Token": ""}),
    ("bitbucket", "repo:push", "bitbucket/repo-push.json", {"X-Hub-Signature": "sha256=00"}),
    ("bitbucket", "repo:push", "bitbucket/repo-push.json", {"X-Hub-Signature": ""}),
    ("harbor", "", "harbor/push_artifact.json", {"Authorization": "Bearer guess"}),
    ("harbor", "", "harbor/push_artifact.json", {"Authorization": ""}),
]


@pytest.mark.parametrize("provider,event,name,forged", FORGERIES)
def test_forged_or_missing_signatures_are_401(client, provider, event, name, forged):
    pipeline = create_pipeline(client)
    body = sample(name)
    headers = {**headers_for(provider, body, event), **forged}
    response = deliver(client, provider, pipeline, body, headers)
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["message"]
    assert executions(client, pipeline) == []


def test_a_signature_over_other_bytes_is_refused(client):
    pipeline = create_pipeline(client)
    body = sample("github/push.json")
    headers = headers_for("github", body + b" ", "push")
    assert deliver(client, "github", pipeline, body, headers).status_code == 401


def test_docker_hub_needs_the_token_in_the_url(client):
    pipeline = create_pipeline(client)
    body = sample("dockerhub/push.json")
    assert deliver(client, "dockerhub", pipeline, body, {}, token=None).status_code == 401
    assert deliver(client, "dockerhub", pipeline, body, {}, token="guess").status_code == 401
    assert executions(client, pipeline) == []


def test_unknown_pipeline_and_bad_signature_look_alike(client):
    pipeline = create_pipeline(client)
    body = sample("github/push.json")
    unknown = deliver(client, "github", "shop:nope", body, headers_for("github", body, "push"))
    forged = deliver(client, "github", pipeline, body,
                     headers_for("github", body, "push", secret="other"))
    assert unknown.status_code == forged.status_code == 401
    assert unknown.json["message"] == forged.json["message"]


def test_a_pipeline_without_secret_takes_no_hooks(client):
    pipeline = create_pipeline(client, webhookSecret="")
    body = sample("github/push.json")
    for secret in ("", SECRET):
        response = deliver(client, "github", pipeline, body,
                           headers_for("github", body, "push", secret=secret))
        assert response.status_code == 401
    gitlab = sample("gitlab/push.json")
    response = deliver(client, "gitlab", pipeline, gitlab,
                       headers_for("gitlab", gitlab, "Push Hook", secret=""))
    assert response.status_code == 401


@pytest.mark.parametrize("provider,event,name", [
    ("github", "push", "github/push.json"), ("gitlab", "Push Hook", "gitlab/push.json"),
    ("bitbucket", "repo:push", "bitbucket/repo-push.json"),
    ("harbor", "", "harbor/push_artifact.json"), ("dockerhub", "", "dockerhub/push.json")])
def test_a_redelivery_starts_nothing_new(client, provider, event, name):
    pipeline = create_pipeline(client)
    body = sample(name)
    headers = headers_for(provider, body, event, delivery="0f3c1f4e-delivery-1")
    assert deliver(client, provider, pipeline, body, headers).status_code == 202
    again = deliver(client, provider, pipeline, body, headers)
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert len(executions(client, pipeline)) == 1
    # A new delivery of the same push (a new id) is a new run, as the provider meant it.
    if provider in ("github", "gitlab", "bitbucket"):
        fresh = headers_for(provider, body, event, delivery="0f3c1f4e-delivery-2")
        assert deliver(client, provider, pipeline, body, fresh).status_code == 202
        assert len(executions(client, pipeline)) == 2


def test_two_identical_deliveries_at_once_start_one_run(app):
    client = app.test_client()
    pipeline = create_pipeline(client)
    body = sample("github/push.json")
    headers = headers_for("github", body, "push", delivery="race-delivery")
    barrier, statuses = threading.Barrier(2), []

    def send():
        own = app.test_client()
        barrier.wait()
        statuses.append(deliver(own, "github", pipeline, body, headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 202]
    assert len(executions(client, pipeline)) == 1


def test_a_payload_about_another_repository_starts_nothing(client):
    pipeline = create_pipeline(client, repositoryUrl="https://github.com/shop/app.git")
    body = sample("github/push.json")     # about baxterthehacker/public-repo
    response = deliver(client, "github", pipeline, body, headers_for("github", body, "push"))
    assert response.status_code == 200
    assert "another repository" in response.json["ignored"]
    assert executions(client, pipeline) == []


def test_bad_bodies_are_400_after_the_signature(client):
    pipeline = create_pipeline(client)
    body = b"not json"
    response = deliver(client, "github", pipeline, body, headers_for("github", body, "push"))
    assert response.status_code == 400
    assert client.post("/hooks/github", data=b"{}").status_code == 400
    assert client.post(f"/hooks/gitea?pipeline={pipeline}", data=b"{}").status_code == 404


def test_one_push_to_two_pipelines_runs_each_once(client):
    first, second = create_pipeline(client, "one"), create_pipeline(client, "two")
    body = sample("harbor/push_artifact.json")
    for pipeline in (first, second, first, second):
        deliver(client, "harbor", pipeline, body, headers_for("harbor", body))
    assert len(executions(client, first)) == len(executions(client, second)) == 1


def test_gitlab_retries_are_known_by_their_idempotency_key(client):
    pipeline = create_pipeline(client)
    body = sample("gitlab/push.json")
    for event_uuid in ("first-attempt", "second-attempt"):
        headers = {**headers_for("gitlab", body, "Push Hook", delivery=event_uuid),
                   "Idempotency-Key": "908a6d9e-45fd-46c8-97e6-c4f350f219dd"}
        deliver(client, "gitlab", pipeline, body, headers)
    assert len(executions(client, pipeline)) == 1


def test_bitbucket_pull_request_edits_without_commits_start_nothing_new(client):
    pipeline = create_pipeline(client)
    created = body_of("bitbucket/pullrequest-created.json")
    edited = {**created, "pullrequest": {**created["pullrequest"], "title": "Better title"}}
    pushed = {**created, "pullrequest": {**created["pullrequest"], "source": {
        **created["pullrequest"]["source"], "commit": {"hash": "9f1a2b3c4d5e"}}}}
    for key, payload in (("pullrequest:created", created), ("pullrequest:updated", edited),
                         ("pullrequest:updated", pushed)):
        body = json.dumps(payload).encode()
        deliver(client, "bitbucket", pipeline, body, headers_for("bitbucket", body, key))
    assert [run["commit"] for run in executions(client, pipeline)] == [
        "9f1a2b3c4d5e", "d3022fc0ca3d"]


@pytest.mark.parametrize("pipeline,status", [("shop%00app", 400), ("shop:app%00", 400),
                                             ("x" * 300, 401), ("nocolon", 401)])
def test_malformed_pipeline_names_are_unknown_pipelines(client, pipeline, status):
    create_pipeline(client)
    body = sample("github/push.json")
    response = deliver(client, "github", pipeline, body, headers_for("github", body, "push"))
    assert response.status_code == status     # NUL: no URL with control characters is taken


def test_odd_delivery_ids_still_dedupe(client):
    pipeline = create_pipeline(client)
    body = sample("github/push.json")
    headers = headers_for("github", body, "push", delivery="\u00e9" * 50 + "x" * 300)
    assert deliver(client, "github", pipeline, body, headers).status_code == 202
    assert deliver(client, "github", pipeline, body, headers).json["duplicate"] is True
