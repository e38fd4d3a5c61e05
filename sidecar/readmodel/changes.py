"""A run's change set: the commits the webhook that started it delivered, and their authors.

Authors are Blue Ocean users known by their commits only: their id and name, never an
e-mail address, avatar or permissions (a replay shows its original run's commits).
"""

from __future__ import annotations

from typing import Any

from sidecar.readmodel import names
from sidecar.store.models import Execution, ExecutionCommit

CHANGESET_CLASS = "io.jenkins.blueocean.service.embedded.rest.ChangeSetResource"
USER_CLASS = "io.jenkins.blueocean.service.embedded.rest.UserImpl"
USERS = "/blue/rest/users/"


def change_set(execution: Execution) -> list[dict[str, Any]]:
    """The run's ChangeSetResources, oldest commit first."""
    base = names.run_href(execution.pipeline_id, execution.run) + "changeSet/"
    return [_change(base, commit) for commit in execution.commits]


def _change(base: str, commit: ExecutionCommit) -> dict[str, Any]:
    return {"_class": CHANGESET_CLASS, "_links": {"self": names.link(base + commit.commit_id)},
            "affectedPaths": list(commit.affected_paths or ()),
            "author": user_document(commit.author_id, commit.author_name),
            "checkoutCount": 0, "commitId": commit.commit_id, "issues": [],
            "msg": commit.message, "timestamp": names.date(commit.timestamp),
            "url": commit.url or None}


def user_document(user_id: str, full_name: str) -> dict[str, Any]:
    """A UserImpl known from its commits."""
    href = f"{USERS}{user_id}/"
    return {"_class": USER_CLASS, "_links": {"self": names.link(href),
                                             "favorites": names.link(href + "favorites/")},
            "avatar": None, "email": None, "fullName": full_name or user_id, "id": user_id,
            "permission": None}
