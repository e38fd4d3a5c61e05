"""Bitbucket deliveries, Cloud and Server/Data Center.

Cloud sends ``X-Event-Key`` ``repo:push`` and ``pullrequest:created|updated`` with
``X-Request-UUID``; Server/Data Center sends ``repo:refs_changed`` and
``pr:opened|pr:from_ref_updated`` with ``X-Request-Id``. Both sign with ``X-Hub-Signature``.
A push gives one event per ref it changed, as a delivery may carry several; Cloud pull
requests from forks start nothing (``_cloud_pull_request``).
"""

from __future__ import annotations

from typing import Mapping

from sidecar.services.events import HookEvent, Ignored, first_line, obj, ref_event, text


def delivery_id(headers: Mapping[str, str]) -> str:
    """X-Request-UUID (Cloud) or X-Request-Id (Server/Data Center)."""
    return headers.get("X-Request-UUID") or headers.get("X-Request-Id") or ""


def events(headers: Mapping[str, str], payload: dict) -> list[HookEvent]:
    """The events a delivery may start, in payload order: one per ref a push changed.

    :raise Ignored: none at all
    """
    key = headers.get("X-Event-Key", "")
    if key == "repo:push":
        changes = obj(payload.get("push")).get("changes") or []
        return _each(_cloud_change, changes, _cloud_urls(payload))
    if key in ("pullrequest:created", "pullrequest:updated"):
        return [_cloud_pull_request(payload)]
    if key == "repo:refs_changed":
        return _each(_server_change, payload.get("changes") or [],
                     _server_urls(payload.get("repository")))
    if key in ("pr:opened", "pr:from_ref_updated"):
        return [_server_pull_request(payload)]
    if key == "diagnostics:ping":
        raise Ignored("ping")
    raise Ignored(f"Bitbucket event {key or '(none)'!r} is not handled")


def _each(parse_change, changes, urls: tuple[str, ...]) -> list[HookEvent]:
    """One event per pushed branch or tag; deleted refs start nothing. :raise Ignored:"""
    # One push may carry a branch and its tags (`git push --follow-tags`): the
    # pipeline's filters pick the first change they take (`sidecar.intake.service`).
    found, reasons = [], []
    for change in changes if isinstance(changes, list) else []:
        try:
            found.append(parse_change(obj(change), urls))
        except Ignored as exc:
            reasons.append(str(exc))
    if not found:
        raise Ignored("; ".join(reasons) or "the push changed no refs")
    return found


def _cloud_change(change: dict, urls: tuple[str, ...]) -> HookEvent:
    new = obj(change.get("new"))
    if not new:
        raise Ignored(f"{text(obj(change.get('old')).get('name')) or 'a ref'} was deleted")
    kind, name = text(new.get("type")), text(new.get("name"))
    target = obj(new.get("target"))
    prefix = "refs/tags/" if kind == "tag" else "refs/heads/"
    return ref_event(prefix + name, text(target.get("hash")),
                     first_line(text(target.get("message"))), urls)


def _cloud_pull_request(payload: dict) -> HookEvent:
    """:raise Ignored: from a fork, whose commits the base repository cannot fetch by ref"""
    pr = obj(payload.get("pullrequest"))
    source, destination = obj(pr.get("source")), obj(pr.get("destination"))
    if _full_name(source) and _full_name(destination) and \
            _full_name(source) != _full_name(destination):
        # GitHub (refs/pull/N/head), GitLab (refs/merge-requests/N/head) and Data Center
        # (refs/pull-requests/N/from) build forks through the base repository's PR ref;
        # Cloud has none, and refs/heads/<branch> there is another branch, or nothing.
        raise Ignored("pull request from a fork: Bitbucket Cloud has no pull-request ref "
                      "in the base repository")
    commit = text(obj(source.get("commit")).get("hash"))
    return HookEvent("pull_request", text(obj(destination.get("branch")).get("name")),
                     "refs/heads/" + text(obj(source.get("branch")).get("name")), commit,
                     first_line(text(pr.get("title"))), _cloud_urls(payload),
                     extra={"source_branch": text(obj(source.get("branch")).get("name")),
                            # pullrequest:updated also fires for title or reviewer edits:
                            # one run per pull request and head commit.
                            "dedupe": f"pr-{pr.get('id')}-{commit}"})


def _full_name(end: dict) -> str:
    return text(obj(end.get("repository")).get("full_name")).lower()


def _cloud_urls(payload: dict) -> tuple[str, ...]:
    repo = obj(payload.get("repository"))
    html = text(obj(obj(repo.get("links")).get("html")).get("href"))
    full = text(repo.get("full_name"))
    return tuple(u for u in (html, f"https://bitbucket.org/{full}" if full else "") if u)


def _server_change(change: dict, urls: tuple[str, ...]) -> HookEvent:
    ref = text(obj(change.get("ref")).get("id")) or text(change.get("refId"))
    if text(change.get("type")) == "DELETE":
        raise Ignored(f"{ref or 'a ref'} was deleted")
    return ref_event(ref, text(change.get("toHash")), "", urls)


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
