"""Provider payloads to events, and signatures, without a database.

We test these aspects:
- actions that start nothing (closed PRs, title-only MR edits, deleted branches) say why;
- a GitHub tag push is a tag event; Bitbucket Server/Data Center pushes and PRs map like
  Cloud's (payload shapes of its "Event payload" documentation page);
- the signature check needs the exact secret and body, and never passes an empty secret.
"""

from __future__ import annotations

import pytest
from webhook_helpers import body_of, hub_signature

from sidecar.intake import bitbucket, github, gitlab, signatures
from sidecar.services.events import Ignored


def test_github_closed_pull_requests_start_nothing():
    payload = {**body_of("github/pull_request-opened.json"), "action": "closed"}
    with pytest.raises(Ignored, match="closed"):
        github.parse({"X-GitHub-Event": "pull_request"}, payload)


def test_github_tag_push_is_a_tag_event():
    payload = {**body_of("github/push.json"), "ref": "refs/tags/v2.1.0"}
    event = github.parse({"X-GitHub-Event": "push"}, payload)
    assert (event.event, event.branch, event.ref) == ("tag", "v2.1.0", "refs/tags/v2.1.0")


def test_gitlab_merge_request_edits_without_commits_start_nothing():
    payload = body_of("gitlab/merge_request-open.json")
    payload["object_attributes"]["action"] = "update"
    with pytest.raises(Ignored, match="without new commits"):
        gitlab.parse({}, payload)
    payload["object_attributes"]["oldrev"] = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"
    assert gitlab.parse({}, payload).commit == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"


SERVER_REPO = {"slug": "repository", "project": {"key": "PROJ"}, "links": {"clone": [
    {"href": "ssh://git@bitbucket.example.com:7999/proj/repository.git", "name": "ssh"},
    {"href": "https://bitbucket.example.com/scm/proj/repository.git", "name": "http"}]}}


def test_bitbucket_server_push_and_pull_request():
    push = {"eventKey": "repo:refs_changed", "repository": SERVER_REPO, "changes": [
        {"ref": {"id": "refs/heads/master", "displayId": "master", "type": "BRANCH"},
         "refId": "refs/heads/master", "fromHash": "ecddabb624f6f5ba43816f5926e580a5f680a932",
         "toHash": "178864a7d521b6f5e720b386b2c2b0ef8563e0dc", "type": "UPDATE"}]}
    [event] = bitbucket.events({"X-Event-Key": "repo:refs_changed"}, push)
    assert (event.event, event.branch, event.commit) == (
        "push", "master", "178864a7d521b6f5e720b386b2c2b0ef8563e0dc")
    assert "https://bitbucket.example.com/scm/proj/repository.git" in event.repository_urls
    pr = {"eventKey": "pr:opened", "pullRequest": {
        "id": 1, "title": "a new file added",
        "fromRef": {"id": "refs/heads/a-branch", "displayId": "a-branch",
                    "latestCommit": "ef8755f06ee4b28c96a847a95cb8ec8ed6ddd1ca",
                    "repository": SERVER_REPO},
        "toRef": {"id": "refs/heads/master", "displayId": "master",
                  "latestCommit": "178864a7d521b6f5e720b386b2c2b0ef8563e0dc",
                  "repository": SERVER_REPO}}}
    [event] = bitbucket.events({"X-Event-Key": "pr:opened"}, pr)
    assert (event.event, event.branch, event.commit) == (
        "pull_request", "master", "ef8755f06ee4b28c96a847a95cb8ec8ed6ddd1ca")
    deleted = {**push, "changes": [{**push["changes"][0], "type": "DELETE"}]}
    with pytest.raises(Ignored, match="deleted"):
        bitbucket.events({"X-Event-Key": "repo:refs_changed"}, deleted)


def test_bitbucket_server_delivery_id_is_the_request_id():
    assert bitbucket.delivery_id({"X-Request-Id": "a1b2"}) == "a1b2"


@pytest.mark.parametrize("secret,body,header,ok", [
    ("k", b"{}", hub_signature("k", b"{}"), True),
    ("k", b"{}", hub_signature("K", b"{}"), False),
    ("k", b"{} ", hub_signature("k", b"{}"), False),
    ("", b"{}", hub_signature("", b"{}"), False),
    ("k", b"{}", hub_signature("k", b"{}").upper(), False),
])
def test_hub_signatures(secret, body, header, ok):
    for provider, name in (("github", "X-Hub-Signature-256"), ("bitbucket", "X-Hub-Signature")):
        assert signatures.verify(provider, secret, {name: header}, body, {}) is ok


def test_tokens_need_the_exact_secret():
    assert signatures.verify("gitlab", "t", {"X-Gitlab-Token": "t"}, b"", {})
    assert not signatures.verify("gitlab", "t", {"X-Gitlab-Token": "t "}, b"", {})
    assert not signatures.verify("gitlab", "", {"X-Gitlab-Token": ""}, b"", {})
    assert signatures.verify("dockerhub", "t", {}, b"", {"token": "t"})
    assert not signatures.verify("harbor", "", {}, b"", {})
