"""Bitbucket deliveries, Cloud and Server/Data Center.

Cloud sends ``X-Event-Key`` ``repo:push`` and ``pullrequest:created|updated`` with
``X-Request-UUID``; Server/Data Center sends ``repo:refs_changed`` and
``pr:opened|pr:from_ref_updated`` with ``X-Request-Id``. Both sign with ``X-Hub-Signature``.
"""

from __future__ import annotations

from typing import Mapping

from sidecar.services.events import HookEvent, Ignored, first_line, obj, ref_event, text


def delivery_id(headers: Mapping[str, str]) -> str:
    """X-Request-UUID (Cloud) or X-Request-Id (Server/Data Center)."""
    return headers.get("X-Request-UUID") or headers.get("X-Request-Id") or ""


def parse(headers: Mapping[str, str], payload: dict) -> HookEvent:
    """The event of a delivery. :raise Ignored:"""
    key = headers.get("X-Event-Key", "")
    if key == "repo:push":
        return _cloud_push(payload)
    if key in ("pullrequest:created", "pullrequest:updated"):
        return _cloud_pull_request(payload)
    if key == "repo:refs_changed":
        return _server_push(payload)
    if key in ("pr:opened", "pr:from_ref_updated"):
        return _server_pull_request(payload)
    if key == "diagnostics:ping":
        raise Ignored("ping")
    raise Ignored(f"Bitbucket event {key or '(none)'!r} is not handled")


def _cloud_push(payload: dict) -> HookEvent:
    changes = [c for c in obj(payload.get("push")).get("changes") or [] if isinstance(c, dict)]
    # One delivery may carry several ref changes; the last updated ref is built, as one
    # delivery starts at most one run (the dedupe key is per delivery).
    new = next((obj(c.get("new")) for c in reversed(changes) if c.get("new")), None)
    if new is None:
        raise Ignored("the push only deleted refs")
    kind, name = text(new.get("type")), text(new.get("name"))
    target = obj(new.get("target"))
    prefix = "refs/tags/" if kind == "tag" else "refs/heads/"
    return ref_event(prefix + name, text(target.get("hash")),
                     first_line(text(target.get("message"))), _cloud_urls(payload))


def _cloud_pull_request(payload: dict) -> HookEvent:
    pr = obj(payload.get("pullrequest"))
    source, destination = obj(pr.get("source")), obj(pr.get("destination"))
    commit = text(obj(source.get("commit")).get("hash"))
    return HookEvent("pull_request", text(obj(destination.get("branch")).get("name")),
                     "refs/heads/" + text(obj(source.get("branch")).get("name")), commit,
                     first_line(text(pr.get("title"))), _cloud_urls(payload),
                     extra={"source_branch": text(obj(source.get("branch")).get("name")),
                            # pullrequest:updated also fires for title or reviewer edits:
                            # one run per pull request and head commit.
                            "dedupe": f"pr-{pr.get('id')}-{commit}"})


def _cloud_urls(payload: dict) -> tuple[str, ...]:
    repo = obj(payload.get("repository"))
    html = text(obj(obj(repo.get("links")).get("html")).get("href"))
    full = text(repo.get("full_name"))
    return tuple(u for u in (html, f"https://bitbucket.org/{full}" if full else "") if u)


def _server_push(payload: dict) -> HookEvent:
    changes = [c for c in payload.get("changes") or [] if isinstance(c, dict)
               and text(c.get("type")) != "DELETE"]
    if not changes:
        raise Ignored("the push only deleted refs")
    change = changes[-1]
    return ref_event(text(obj(change.get("ref")).get("id")), text(change.get("toHash")), "",
                     _server_urls(payload.get("repository")))


def _server_pull_request(payload: dict) -> HookEvent:
    pr = obj(payload.get("pullRequest"))
    source, target = obj(pr.get("fromRef")), obj(pr.get("toRef"))
    return HookEvent("pull_request", text(target.get("displayId")),
                     f"refs/pull-requests/{pr.get('id')}/from", text(source.get("latestCommit")),
                     first_line(text(pr.get("title"))),
                     _server_urls(target.get("repository")),
                     extra={"source_branch": text(source.get("displayId"))})


def _server_urls(repository) -> tuple[str, ...]:
    clones = obj(obj(repository).get("links")).get("clone") or []
    return tuple(text(obj(c).get("href")) for c in clones if text(obj(c).get("href")))
