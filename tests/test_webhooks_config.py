"""Webhook runs read their config at the pushed commit; pipelines filter what they take.

We test these aspects, on SQLite and PostgreSQL:
- GitHub, GitLab and Bitbucket Cloud: the config is read through the provider's file API
  (a real HTTP fake) at the pushed commit, with the pipeline's credential header; the run
  records exactly that text;
- a refused credential or a missing file is a 502 envelope and starts nothing;
- a GitHub annotated tag builds, and reads the config at, the tagged commit (its push's
  ``after`` is the tag object);
- image pushes read the config at the pipeline's image branch;
- trigger settings (events, branches, tags, images) and the config's branch filter
  ignore events with a reason, never an error; bad settings are 400 naming the field;
- the provider token is write-only: the API shows only that one is set.
"""

from __future__ import annotations

import json

import pytest
from fakes.scm import FakeScm
from webhook_helpers import (CONFIG, body_of, create_pipeline, deliver, executions, headers_for,
                             sample)

from sidecar import outbound
from sidecar.store.models import Execution

TOKEN = "glpat-provider-token"
REMOTE = CONFIG.replace("Build", "Remote")

# (provider, sample, header, repository URL, API suffix, repository path, commit)
SOURCES = [
    ("github", "github/push.json", "push", "https://github.com/baxterthehacker/public-repo.git",
     "", "baxterthehacker/public-repo", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"),
    ("gitlab", "gitlab/push.json", "Push Hook", "http://example.com/mike/diaspora.git",
     "/api/v4", "mike/diaspora", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
    ("bitbucket", "bitbucket/repo-push.json", "repo:push",
     "https://bitbucket.org/team_name/repo_name", "/2.0", "team_name/repo_name",
     "709d658dc5b6d6afcd46049c2f332ee3f515a67d"),
]


@pytest.fixture
def app(app):
    """The app, allowed to call the fake provider API on 127.0.0.1."""
    state = app.extensions["sidecar"]
    state.outbound = outbound.Client(outbound.Policy.parse("127.0.0.1/32"))
    return app


@pytest.fixture
def scm():
    """A fake provider API that wants the pipeline's token."""
    with FakeScm(token=TOKEN) as fake:
        yield fake


def _remote_pipeline(client, fake, repo, suffix, token=TOKEN, **triggers):
    return create_pipeline(client, repositoryUrl=repo, providerToken=token,
                           configPath="ci/pipeline.yml",
                           triggers={"apiUrl": fake.url + suffix, **triggers})


@pytest.mark.parametrize("provider,name,header,repo,suffix,path,commit", SOURCES,
                         ids=[s[0] for s in SOURCES])
def test_config_is_read_at_the_pushed_commit(client, app, scm, provider, name, header, repo,
                                             suffix, path, commit):
    scm.files[(path, commit, "ci/pipeline.yml")] = REMOTE
    scm.files[(path, "master", "ci/pipeline.yml")] = CONFIG     # a branch head: not read
    pipeline = _remote_pipeline(client, scm, repo, suffix)
    body = sample(name)
    response = deliver(client, provider, pipeline, body, headers_for(provider, body, header))
    assert response.status_code == 202, response.json
    [(_, query, headers)] = scm.requests
    assert query.get("ref", commit) == commit
    credential = headers.get("Private-Token") or headers.get("Authorization")
    assert credential in (TOKEN, f"Bearer {TOKEN}")
    with app.extensions["sidecar"].store.session() as session:
        run = session.get(Execution, response.json["executionId"])
        assert run.config_snapshot == REMOTE and run.commit == commit


@pytest.mark.parametrize("token,files", [("wrong", True), (TOKEN, False)])
def test_unreadable_config_is_502_and_starts_nothing(client, scm, token, files):
    provider, name, header, repo, suffix, path, commit = SOURCES[0]
    if files:
        scm.files[(path, commit, "ci/pipeline.yml")] = REMOTE
    pipeline = _remote_pipeline(client, scm, repo, suffix, token=token)
    body = sample(name)
    response = deliver(client, provider, pipeline, body, headers_for(provider, body, header))
    assert response.status_code == 502
    assert token not in response.get_data(as_text=True)
    assert executions(client, pipeline) == []
    # Nothing was recorded either: the provider's retry may still start the run.
    scm.token = token
    scm.files[(path, commit, "ci/pipeline.yml")] = REMOTE
    assert deliver(client, provider, pipeline, body, headers_for(
        provider, body, header, delivery="retry")).status_code == 202


def test_an_annotated_tag_builds_the_tagged_commit(client, app, scm):
    provider, name, header, repo, suffix, path, commit = SOURCES[0]
    scm.files[(path, commit, "ci/pipeline.yml")] = REMOTE
    pipeline = _remote_pipeline(client, scm, repo, suffix)
    payload = body_of(name)
    assert payload["head_commit"]["id"] == commit
    tag_object = "1111111111111111111111111111111111111111"
    payload.update(ref="refs/tags/v1.0.0", before="0" * 40, after=tag_object, created=True,
                   base_ref="refs/heads/master", commits=[])
    body = json.dumps(payload).encode()
    response = deliver(client, provider, pipeline, body, headers_for(provider, body, header))
    assert response.status_code == 202, response.json
    assert (response.json["event"], response.json["commit"]) == ("tag", commit)
    [(_, query, _)] = scm.requests
    assert query["ref"] == commit
    with app.extensions["sidecar"].store.session() as session:
        assert session.get(Execution, response.json["executionId"]).commit == commit


def test_an_image_push_reads_the_image_branch(client, scm):
    scm.files[("shop/app", "release", "ci/pipeline.yml")] = REMOTE
    pipeline = _remote_pipeline(client, scm, "https://github.com/shop/app.git", "",
                                imageBranch="release", scm="github")
    body = sample("dockerhub/push.json")
    response = deliver(client, "dockerhub", pipeline, body, {})
    assert response.status_code == 202, response.json
    [run] = executions(client, pipeline)
    assert (run["event"], run["branch"], run["triggerType"]) == ("image", "release", "image")


@pytest.mark.parametrize("triggers,provider,name,header,why", [
    ({"events": ["push"]}, "github", "github/pull_request-opened.json", "pull_request",
     "does not take pull_request"),
    ({"branches": {"exclude": ["chan*"]}}, "github", "github/push.json", "push",
     "branch filter"),
    ({"branches": {"include": ["main"]}}, "gitlab", "gitlab/push.json", "Push Hook",
     "branch filter"),
    ({"tags": {"include": ["release-*"]}}, "gitlab", "gitlab/tag_push.json", "Tag Push Hook",
     "tag filter"),
    ({"images": [{"repository": "svendowideit/testhook", "tag": "v*"}]}, "dockerhub",
     "dockerhub/push.json", "", "matches none"),
    ({"images": [{"repository": "other/*"}]}, "harbor", "harbor/push_artifact.json", "",
     "matches none"),
    ({"events": ["push", "tag"]}, "bitbucket", "bitbucket/pullrequest-created.json",
     "pullrequest:created", "does not take pull_request"),
])
def test_events_the_pipeline_does_not_take_are_ignored(client, triggers, provider, name,
                                                       header, why):
    pipeline = create_pipeline(client, triggers=triggers)
    body = sample(name)
    response = deliver(client, provider, pipeline, body, headers_for(provider, body, header))
    assert response.status_code == 200 and why in response.json["ignored"]
    assert executions(client, pipeline) == []


def test_matching_image_filters_start_a_run(client):
    pipeline = create_pipeline(client, triggers={
        "images": [{"repository": "test-webhook/*", "tag": "lat*"}], "events": ["image"]})
    body = sample("harbor/push_artifact.json")
    assert deliver(client, "harbor", pipeline, body,
                   headers_for("harbor", body)).status_code == 202


def test_the_configs_branch_filter_ignores_without_error(client):
    pipeline = create_pipeline(client, inlineConfig="branch: {include: [main]}\n" + CONFIG)
    body = sample("github/push.json")       # branch 'changes'
    response = deliver(client, "github", pipeline, body, headers_for("github", body, "push"))
    assert response.status_code == 200 and "branch filter" in response.json["ignored"]
    assert executions(client, pipeline) == []


@pytest.mark.parametrize("triggers,field", [
    ({"events": ["pr"]}, "triggers.events"), ({"branches": {"only": ["x"]}}, "triggers.branches"),
    ({"images": [{"tag": "v*"}]}, "triggers.images"), ({"apiUrl": "ftp://x"}, "triggers.apiUrl"),
    ({"scm": "svn"}, "triggers.scm"), ({"cron": "* * *"}, "triggers.cron"), ([], None)])
def test_bad_trigger_settings_are_400(client, triggers, field):
    pipeline = create_pipeline(client)
    response = client.put(f"/api/v1/pipelines/{pipeline}", json={"triggers": triggers})
    assert response.status_code == 400
    assert field is None or field in [e["field"] for e in response.json["errors"]]


def test_the_provider_token_is_write_only(client):
    pipeline = create_pipeline(client, providerToken=TOKEN)
    shown = client.get(f"/api/v1/pipelines/{pipeline}")
    assert shown.json["hasProviderToken"] is True
    assert TOKEN not in shown.get_data(as_text=True)
    client.put(f"/api/v1/pipelines/{pipeline}", json={"providerToken": None})
    assert client.get(f"/api/v1/pipelines/{pipeline}").json["hasProviderToken"] is False
    assert client.put(f"/api/v1/pipelines/{pipeline}",
                      json={"providerToken": 5}).status_code == 400


def test_a_pipeline_without_config_or_repository_is_400(client):
    pipeline = create_pipeline(client, providerToken=TOKEN)
    body = sample("github/push.json")
    response = deliver(client, "github", pipeline, body, headers_for("github", body, "push"))
    assert response.status_code == 400
    assert "neither an inline config nor a repository" in response.json["errors"][0]["message"]
    assert executions(client, pipeline) == []
