"""A pipeline's own webhook settings: ``Pipeline.triggers``, validated and applied.

::

    {"events": ["push", "tag", "pull_request", "image"],     # default: all four
     "branches": {"include": ["main", "release/*"], "exclude": ["wip/*"]},
     "tags": {"include": ["v*"]},
     "images": [{"repository": "library/app", "tag": "v*"}],  # absent: any image
     "imageBranch": "main",   # the branch an image-triggered run builds (default main)
     "scm": "github",         # provider of the repository API (default: from its host)
     "apiUrl": "https://git.example.com/api/v4"}              # default: from the URL

Globs are the config's branch globs (``*`` stops at ``/``). The config's own
``branch`` filter applies as well, when the execution is recorded.
"""

from __future__ import annotations

from typing import Any

from wcmatch import glob

from sidecar.config.model import Constraint
from sidecar.config.when import branch_matches
from sidecar.errors import Problem
from sidecar.scm import PROVIDERS
from sidecar.services.events import EVENTS, HookEvent

KEYS = ("events", "branches", "tags", "images", "imageBranch", "scm", "apiUrl")


def problems(triggers: Any) -> list[Problem]:
    """Everything wrong with a triggers object, each naming its field."""
    if not isinstance(triggers, dict):
        return [Problem("triggers must be an object")]
    found = [Problem(f"unknown key '{k}'; known are {', '.join(KEYS)}", config_path=f"triggers.{k}")
             for k in triggers if k not in KEYS]
    events = triggers.get("events", list(EVENTS))
    if not isinstance(events, list) or any(e not in EVENTS for e in events):
        found.append(Problem(f"events must be a list of {', '.join(EVENTS)}",
                             config_path="triggers.events"))
    for key in ("branches", "tags"):
        found += _constraint_problems(triggers.get(key, {}), f"triggers.{key}")
    images = triggers.get("images", [])
    if not isinstance(images, list) or not all(_image_ok(i) for i in images):
        found.append(Problem("images must be a list of {repository, tag?} with string globs",
                             config_path="triggers.images"))
    for key in ("imageBranch", "apiUrl"):
        if key in triggers and not (isinstance(triggers[key], str) and triggers[key]):
            found.append(Problem(f"{key} must be a non-empty string",
                                 config_path=f"triggers.{key}"))
    if "apiUrl" in triggers and not str(triggers["apiUrl"]).startswith(("http://", "https://")):
        found.append(Problem("apiUrl must be an http(s) URL", config_path="triggers.apiUrl"))
    if "scm" in triggers and triggers["scm"] not in PROVIDERS:
        found.append(Problem(f"scm must be one of {', '.join(PROVIDERS)}",
                             config_path="triggers.scm"))
    return found


def refusal(triggers: dict, event: HookEvent) -> str | None:
    """Why the pipeline does not take this event, or None when it does."""
    if event.event not in triggers.get("events", EVENTS):
        return f"the pipeline does not take {event.event} events"
    if event.event in ("push", "pull_request") and not branch_matches(
            _constraint(triggers.get("branches")), event.branch):
        return f"branch {event.branch!r} is outside the pipeline's webhook branch filter"
    if event.event == "tag" and not branch_matches(_constraint(triggers.get("tags")),
                                                   event.branch):
        return f"tag {event.branch!r} is outside the pipeline's webhook tag filter"
    if event.event == "image" and not image_matches(triggers.get("images") or [], event):
        return f"image {event.image}:{event.tag} matches none of the pipeline's images"
    return None


def image_matches(images: list[dict], event: HookEvent) -> bool:
    """True when no image filter is set or one entry matches repository and tag."""
    flags = glob.FORCEUNIX
    return not images or any(
        glob.globmatch(event.image, i["repository"], flags=flags)
        and glob.globmatch(event.tag, i.get("tag", "*"), flags=flags) for i in images)


def _constraint(value: dict | None) -> Constraint | None:
    if not value:
        return None
    return Constraint(tuple(value.get("include", ())), tuple(value.get("exclude", ())))


def _constraint_problems(value: Any, where: str) -> list[Problem]:
    ok = isinstance(value, dict) and set(value) <= {"include", "exclude"} and all(
        isinstance(v, list) and all(isinstance(p, str) for p in v) for v in value.values())
    return [] if ok else [Problem("must be {include: [globs], exclude: [globs]}",
                                  config_path=where)]


def _image_ok(image: Any) -> bool:
    return (isinstance(image, dict) and set(image) <= {"repository", "tag"}
            and isinstance(image.get("repository"), str) and bool(image["repository"])
            and isinstance(image.get("tag", "*"), str))
