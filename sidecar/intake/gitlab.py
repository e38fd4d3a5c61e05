"""GitLab deliveries: Push Hook, Tag Push Hook and Merge Request Hook."""

from __future__ import annotations

import hashlib
from typing import Mapping

from sidecar.services.events import HookEvent, Ignored, first_line, obj, ref_event, text

MR_ACTIONS = ("open", "reopen", "update")


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    """Idempotency-Key (GitLab 17.4+, the same on every retry), else X-Gitlab-Event-UUID."""
    return (headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID")
            or "body-" + hashlib.sha256(body).hexdigest())


def parse(headers: Mapping[str, str], payload: dict) -> HookEvent:
    """The event of a delivery. :raise Ignored:"""
    kind = text(payload.get("object_kind"))
    if kind in ("push", "tag_push"):
        commit = text(payload.get("checkout_sha")) or text(payload.get("after"))
        return ref_event(text(payload.get("ref")), commit, _message(payload, commit),
                         _urls(payload.get("project"), payload.get("repository")))
    if kind == "merge_request":
        return _merge_request(payload)
    raise Ignored(f"GitLab event {kind or headers.get('X-Gitlab-Event', '(none)')!r} "
                  "is not handled")


def _message(payload: dict, commit: str) -> str:
    commits = [c for c in payload.get("commits") or [] if isinstance(c, dict)]
    match = next((c for c in commits if c.get("id") == commit), commits[-1] if commits else {})
    return first_line(text(match.get("message")))


def _merge_request(payload: dict) -> HookEvent:
    attributes = obj(payload.get("object_attributes"))
    action = text(attributes.get("action"))
    if action not in MR_ACTIONS:
        raise Ignored(f"merge request action {action!r} starts nothing")
    if action == "update" and "oldrev" not in attributes:
        raise Ignored("merge request update without new commits")
    commit = text(obj(attributes.get("last_commit")).get("id"))
    return HookEvent("pull_request", text(attributes.get("target_branch")),
                     f"refs/merge-requests/{attributes.get('iid')}/head", commit,
                     first_line(text(attributes.get("title"))),
                     _urls(attributes.get("target"), payload.get("project")),
                     extra={"source_branch": text(attributes.get("source_branch"))})


def _urls(*projects) -> tuple[str, ...]:
    keys = ("git_http_url", "git_ssh_url", "http_url", "ssh_url", "web_url", "url")
    return tuple(text(obj(p).get(k)) for p in projects for k in keys if text(obj(p).get(k)))
