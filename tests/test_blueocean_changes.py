"""Blue Ocean change sets, authors, queue and search, through the HTTP interface.

We test these aspects, on SQLite and PostgreSQL:
- the commits of GitHub, GitLab and Bitbucket Cloud push deliveries (the providers'
  documented samples) become the run's change set: ids, messages, paths, authors (user
  name, else the e-mail's local part) and times; a delivery without commits (a tag
  push) gives an empty one; a run's change set is the same in the run and its list;
- a delivery's commits are bounded: at most 50, each message cut to 4,000 characters;
- commit authors answer as users (and their favourites, none), to callers who see a
  project they committed to; to others, and for an unknown user, 404;
- the pipeline's queue lists the runs waiting for Jenkins; deleting a queue item stops
  that run; a run that has ended is no queue item;
- search finds pipelines by exact name or a glob without case, other types nothing; a
  query without a type, or naming another organization, is a 400.
"""

from __future__ import annotations

import json

import pytest
from same_origin import SameOriginClient
from webhook_helpers import body_of, create_pipeline, deliver, headers_for, sample

from sidecar.app import create_app
from sidecar.services.access import load_tokens

BO = "/blue/rest/organizations/jenkins/pipelines/sidecar.shop.app/"


@pytest.fixture
def app(database_url):
    app = create_app({"TESTING": True, "database_url": database_url})
    app.test_client_class = SameOriginClient
    create_pipeline(app.test_client())
    yield app
    app.extensions["sidecar"].store.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def _push(client, provider: str, name: str, event: str, body: bytes | None = None) -> str:
    body = body if body is not None else sample(name)
    response = deliver(client, provider, "shop:app", body, headers_for(provider, body, event))
    assert response.status_code == 202, response.json
    return f"{BO}runs/{response.json['executionId'].rsplit('-', 1)[1]}/"


def test_push_commits_become_the_change_set(client):
    github = client.get(_push(client, "github", "github/push.json", "push")).json
    gitlab = client.get(_push(client, "gitlab", "gitlab/push.json", "Push Hook")).json
    bitbucket = client.get(_push(client, "bitbucket", "bitbucket/repo-push.json",
                                 "repo:push")).json
    assert [(c["commitId"][:7], c["author"]["id"]) for c in github["changeSet"]] == [
        ("0d1a26e", "baxterthehacker")]
    assert github["changeSet"][0]["timestamp"] == "2015-05-05T23:40:15.000+0000"
    assert github["changeSet"][0]["affectedPaths"] == ["README.md"]
    commits = body_of("gitlab/push.json")["commits"]
    assert [c["commitId"] for c in gitlab["changeSet"]] == [c["id"] for c in commits]
    assert gitlab["changeSet"][0]["author"] == {
        "_class": "io.jenkins.blueocean.service.embedded.rest.UserImpl",
        "_links": {"self": {"_class": "io.jenkins.blueocean.rest.hal.Link",
                            "href": "/blue/rest/users/jordi/"},
                   "favorites": {"_class": "io.jenkins.blueocean.rest.hal.Link",
                                 "href": "/blue/rest/users/jordi/favorites/"}},
        "avatar": None, "email": None, "fullName": "Jordi Mallach", "id": "jordi",
        "permission": None}
    assert sorted(gitlab["changeSet"][0]["affectedPaths"]) == [
        "CHANGELOG", "app/controller/application.rb"]
    (change,) = bitbucket["changeSet"]
    assert (change["commitId"][:7], change["author"]["id"], change["msg"]) == (
        "709d658", "emma", "new commit message\n")
    listed = client.get(f"{BO}runs/?limit=100").json
    assert [run["changeSet"] for run in listed] == [
        bitbucket["changeSet"], gitlab["changeSet"], github["changeSet"]]
    tag = client.get(_push(client, "gitlab", "gitlab/tag_push.json", "Tag Push Hook")).json
    assert tag["changeSet"] == []
    assert client.get("/blue/rest/users/jordi/").json["fullName"] == "Jordi Mallach"
    assert client.get("/blue/rest/users/jordi/favorites/").json == []
    assert client.get("/blue/rest/users/nobody-committed/").status_code == 404


def test_authors_are_users_only_to_callers_who_see_their_projects(app, client, tmp_path):
    _push(client, "gitlab", "gitlab/push.json", "Push Hook")
    (tmp_path / "tokens.yaml").write_text(
        "tokens:\n- {user: alice, access: read, token: alice-token}\n"
        "- {user: bob, access: read, token: bob-token, projects: [payments]}\n")
    app.extensions["sidecar"].tokens = load_tokens(str(tmp_path / "tokens.yaml"))
    for token, status in (("alice-token", 200), ("bob-token", 404)):
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/blue/rest/users/jordi/", headers=headers).status_code == status
        assert client.get("/blue/rest/users/jordi/favorites/",
                          headers=headers).status_code == status


def test_a_delivery_s_commits_are_bounded(client):
    payload = body_of("github/push.json")
    one = payload["commits"][0]
    payload["commits"] = [{**one, "id": f"{n:040x}", "message": "x" * 10_000}
                          for n in range(80)]
    run = _push(client, "github", "", "push", json.dumps(payload).encode())
    changes = client.get(f"{run}changeSet/?limit=1000").json
    assert len(changes) == 50 and {len(c["msg"]) for c in changes} == {4000}
    assert client.get(f"{run}changeSet/{changes[3]['commitId']}/").json == changes[3]
    assert client.get(f"{run}changeSet/{'f' * 40}/").status_code == 404


def test_the_queue_and_its_items(client):
    first = client.post(f"{BO}runs/", json={}).json["id"]
    second = client.post(f"{BO}runs/", json={}).json["id"]
    queue = client.get(f"{BO}queue/").json
    assert [item["expectedBuildNumber"] for item in queue] == [int(second), int(first)]
    assert client.get(f"{BO}queue/{first}/").json == queue[1]
    assert client.delete(f"{BO}queue/{first}/").status_code == 200
    stopped = client.get(f"{BO}runs/{first}/").json
    assert (stopped["state"], stopped["result"]) == ("FINISHED", "ABORTED")
    assert client.get(f"{BO}queue/{first}/").status_code == 404
    assert [item["id"] for item in client.get(f"{BO}queue/").json] == [second]


def test_search(client):
    create_pipeline(client, "api-gateway")
    def names(query):
        response = client.get(f"/blue/rest/search/?q={query}")
        assert response.status_code == 200, response.json
        return [p["name"] for p in response.json]
    assert names("type:pipeline;organization:jenkins") == ["sidecar.shop.api-gateway",
                                                           "sidecar.shop.app"]
    assert names("type:pipeline;organization:jenkins;pipeline:*API*") == [
        "sidecar.shop.api-gateway"]
    assert names("type:pipeline;pipeline:sidecar.shop.app") == ["sidecar.shop.app"]
    assert names("type:pipeline;pipeline:SIDECAR.shop.app") == []  # exact without '*'
    assert names("type:pipeline;pipeline:*%25*") == []  # '%' is no wildcard
    assert names("type:pipeline;pipeline:;excludedFromFlattening:jenkins.branch."
                 "MultiBranchProject&filter=no-folders") == ["sidecar.shop.api-gateway",
                                                            "sidecar.shop.app"]
    assert names("type:run") == []
    for query in ("", "pipeline:*", "type:pipeline;organization:elsewhere"):
        response = client.get(f"/blue/rest/search/?q={query}")
        assert response.status_code == 400 and response.json["message"], query
