"""Notifiers: the channels a project registers, which its configs' recipients name.

A notifier's secret (signing key, SMTP password) is write-only: stored, used by the
engine's sender, and never shown; the URL is shown only up to its host, since the
URLs of Slack, DingTalk, WeCom, Feishu and Teams carry their tokens in the path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar.errors import ConfigError, Problem
from sidecar.notify.channels import Channel, problems as channel_problems
from sidecar.services.access import Principal
from sidecar.services.pipelines import NAME, Conflict, NotFound
from sidecar.store.models import Notifier

FIELDS = ("project", "name", "type", "url", "secret", "options")
MAX_SECRET = 500
MAX_URL = 2000


def create(session: Session, body: dict[str, Any], principal: Principal) -> Notifier:
    """Register a notifier. :raise ConfigError, Conflict: (NotFound: a project not seen)"""
    problems = _problems(body, required=("project", "name", "type"))
    if problems:
        raise ConfigError(problems)
    if not principal.sees(body["project"]):
        raise NotFound(f"project {body['project']} not found")
    if session.get(Notifier, (body["project"], body["name"])) is not None:
        raise Conflict(f"notifier {body['project']}/{body['name']} exists already")
    notifier = Notifier(project=body["project"], name=body["name"], type=body["type"],
                        url=body.get("url") or "", secret=body.get("secret") or "",
                        options=body.get("options") or {})
    _check(notifier)
    session.add(notifier)
    session.flush()
    return notifier


def update(session: Session, project: str, name: str, body: dict[str, Any],
           principal: Principal) -> Notifier:
    """Change a notifier's type, URL, secret or options; an absent secret is kept."""
    notifier = get(session, project, name, principal)
    problems = _problems(body, required=())
    problems += [Problem(f"{key} cannot change") for key in ("project", "name")
                 if key in body and body[key] != getattr(notifier, key)]
    if problems:
        raise ConfigError(problems)
    for key in ("type", "url", "secret", "options"):
        if key in body:
            setattr(notifier, key, body[key] if body[key] is not None else
                    ({} if key == "options" else ""))
    _check(notifier)
    return notifier


def get(session: Session, project: str, name: str, principal: Principal) -> Notifier:
    """A notifier the caller may see. :raise NotFound: none, or of a project not seen"""
    notifier = session.get(Notifier, (project, name)) if principal.sees(project) else None
    if notifier is None:
        raise NotFound(f"notifier {project}/{name} not found")
    return notifier


def delete(session: Session, project: str, name: str, principal: Principal) -> None:
    """Remove a notifier; runs that name it later record a failed delivery."""
    session.delete(get(session, project, name, principal))


def listing(session: Session, principal: Principal, project: str | None = None
            ) -> list[Notifier]:
    """The notifiers of the projects the caller sees, by project and name."""
    query = select(Notifier).order_by(Notifier.project, Notifier.name)
    if project:
        query = query.where(Notifier.project == project)
    return [n for n in session.scalars(query) if principal.sees(n.project)]


def view(notifier: Notifier) -> dict[str, Any]:
    """What the API shows: never the secret, the URL up to its host."""
    return {"project": notifier.project, "name": notifier.name, "type": notifier.type,
            "url": _shown(notifier.url), "options": notifier.options or {},
            "hasSecret": bool(notifier.secret),
            "createdAt": notifier.created_at.isoformat(),
            "updatedAt": notifier.updated_at.isoformat()}


def channel_of(notifier: Notifier) -> Channel:
    """The channel the sender uses."""
    return Channel(notifier.type, notifier.url, notifier.secret, dict(notifier.options or {}))


def _problems(body: dict[str, Any], *, required: tuple[str, ...]) -> list[Problem]:
    problems = [Problem(f"unknown field '{key}'") for key in body if key not in FIELDS]
    problems += [Problem(f"{key} is required") for key in required if key not in body]
    for key in ("project", "name"):
        if key in body and (not isinstance(body[key], str) or not NAME.match(body[key])):
            problems.append(Problem(f"{key} must be lowercase letters, digits and '-' "
                                    "(at most 63)"))
    for key, limit in (("type", 20), ("url", MAX_URL), ("secret", MAX_SECRET)):
        if key in body and not isinstance(body[key], (str, type(None))) or \
                isinstance(body.get(key), str) and len(body[key]) > limit:
            problems.append(Problem(f"{key} must be a string of at most {limit} characters"))
    if "options" in body and not isinstance(body["options"], (dict, type(None))):
        problems.append(Problem("options must be an object"))
    return problems


def _check(notifier: Notifier) -> None:
    found = channel_problems(channel_of(notifier))
    if found:
        raise ConfigError([Problem(text) for text in found])


def _shown(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
