"""GitHub deliveries: ``push`` (branches and tags), ``pull_request`` and ``ping``."""

from __future__ import annotations

from typing import Mapping

from sidecar.services.events import HookEvent, Ignored, first_line, obj, ref_event, text

PR_ACTIONS = ("opened", "synchronize", "reopened")


def delivery_id(headers: Mapping[str, str]) -> str:
    """The delivery GUID GitHub keeps across redeliveries."""
    return headers.get("X-GitHub-Delivery", "")


def parse(headers: Mapping[str, str], payload: dict) -> HookEvent:
    """The event of a delivery. :raise Ignored:"""
    kind = headers.get("X-GitHub-Event", "")
    if kind == "ping":
        raise Ignored("ping")
    if kind == "push":
        head = obj(payload.get("head_commit"))
        return ref_event(text(payload.get("ref")), _pushed_commit(payload, head),
                         first_line(text(head.get("message"))), _urls(payload.get("repository")))
    if kind == "pull_request":
        return _pull_request(payload)
    raise Ignored(f"GitHub event {kind or '(none)'!r} is not handled")


def _pushed_commit(payload: dict, head: dict) -> str:
    """The commit a push points its ref at: for a tag, the tagged commit."""
    after = text(payload.get("after"))
    # An annotated tag's `after` is the tag object, not a commit: head_commit is the commit.
    if text(payload.get("ref")).startswith("refs/tags/") and not payload.get("deleted"):
        return text(head.get("id")) or after
    return after


def _pull_request(payload: dict) -> HookEvent:
    action = text(payload.get("action"))
    if action not in PR_ACTIONS:
        raise Ignored(f"pull request action {action!r} starts nothing")
    pr = obj(payload.get("pull_request"))
    head, base = obj(pr.get("head")), obj(pr.get("base"))
    number = payload.get("number", pr.get("number"))
    # The branch is the target, as Rancher had it: filters say which PRs into which branch
    # run. GitHub keeps every PR's head (also from forks) at refs/pull/N/head.
    return HookEvent("pull_request", text(base.get("ref")), f"refs/pull/{number}/head",
                     text(head.get("sha")), first_line(text(pr.get("title"))),
                     _urls(base.get("repo") or payload.get("repository")),
                     extra={"source_branch": text(head.get("ref"))})


def _urls(repository) -> tuple[str, ...]:
    repo = obj(repository)
    return tuple(text(repo.get(key)) for key in ("clone_url", "ssh_url", "html_url", "git_url")
                 if text(repo.get(key)))
