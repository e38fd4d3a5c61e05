"""Image registries: Harbor ``PUSH_ARTIFACT`` and Docker Hub pushes.

Neither sends a delivery id that survives a retry, so the id is derived from what the
push was: repository, digest (Harbor) or tag, and the registry's own push time.
"""

from __future__ import annotations

import hashlib
import json

from sidecar.services.events import HookEvent, Ignored, obj, text


def harbor(payload: dict) -> list[HookEvent]:
    """One image event per pushed tag of a Harbor PUSH_ARTIFACT. :raise Ignored:"""
    if payload.get("type") != "PUSH_ARTIFACT":
        raise Ignored(f"Harbor event {payload.get('type')!r} is not handled")
    data = obj(payload.get("event_data"))
    repository = text(obj(data.get("repository")).get("repo_full_name"))
    events = [HookEvent("image", image=repository, tag=text(r.get("tag")),
                        digest=text(r.get("digest")),
                        message=f"image {text(r.get('resource_url')) or repository} pushed",
                        extra={"occur_at": payload.get("occur_at")})
              for r in data.get("resources") or [] if isinstance(r, dict)]
    if not repository or not events:
        raise Ignored("the push names no repository or artifact")
    return events


def dockerhub(payload: dict) -> HookEvent:
    """The image event of a Docker Hub push. :raise Ignored:"""
    repository = text(obj(payload.get("repository")).get("repo_name"))
    push = obj(payload.get("push_data"))
    if not repository:
        raise Ignored("the push names no repository")
    tag = text(push.get("tag"), "latest")
    return HookEvent("image", image=repository, tag=tag, message=f"image {repository}:{tag} pushed",
                     extra={"pushed_at": push.get("pushed_at")})


def delivery_id(provider: str, event: HookEvent) -> str:
    """A stable id: the same push delivered again yields the same id."""
    stamp = event.extra.get("occur_at") or event.extra.get("pushed_at")
    key = json.dumps([provider, event.image, event.digest, event.tag, stamp])
    return "derived-" + hashlib.sha256(key.encode("utf-8")).hexdigest()
