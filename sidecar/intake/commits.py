"""The commits a push delivery lists: what Blue Ocean shows as the run's change set.

GitHub and GitLab push payloads carry ``commits[]`` (id, message, timestamp, url, author,
added/modified/removed paths), Bitbucket Cloud ``push.changes[].commits[]`` (hash,
message, date, author, links; no paths). Other deliveries (tags without commits, pull
requests, registry pushes) list none. Everything is bounded: at most MAX_COMMITS
commits, each message and path cut to its limit, at most MAX_PATHS paths per commit.
The author's id is the provider's user name, else the local part of the author's e-mail
address (as Jenkins' Git plugin names commit authors), else the author's name, with
anything but letters, digits, '.', '_' and '-' replaced: safe in a Blue Ocean user link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sidecar.services.events import obj, text

MAX_COMMITS = 50
MAX_MESSAGE = 4000
MAX_PATHS = 200
MAX_PATH = 1000
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
BITBUCKET_AUTHOR = re.compile(r"^(.*?)\s*<([^>]*)>\s*$")


@dataclass(frozen=True)
class Commit:
    """One delivered commit, bounded."""

    commit_id: str
    message: str
    author_id: str
    author_name: str
    timestamp: datetime | None
    url: str
    affected_paths: tuple[str, ...]


def delivered(provider: str, payload: dict) -> list[Commit]:
    """The commits a delivery lists, oldest first (as the providers list them)."""
    if provider in ("github", "gitlab"):
        items = _list(payload.get("commits"))
        found = [_git_commit(item) for item in items]
    elif provider == "bitbucket":
        changes = _list(obj(payload.get("push")).get("changes"))
        found = [_bitbucket_commit(item) for change in changes
                 for item in reversed(_list(obj(change).get("commits")))]
    else:
        found = []
    return [commit for commit in found if commit is not None][:MAX_COMMITS]


def _git_commit(item) -> Commit | None:
    item, author = obj(item), obj(obj(item).get("author"))
    paths = [p for key in ("added", "modified", "removed") for p in _list(item.get(key))]
    name, email = text(author.get("name")), text(author.get("email"))
    return _commit(text(item.get("id")), text(item.get("message")),
                   text(author.get("username")) or _local(email) or name, name,
                   text(item.get("timestamp")), text(item.get("url")), paths)


def _bitbucket_commit(item) -> Commit | None:
    item, author = obj(item), obj(obj(item).get("author"))
    user = obj(author.get("user"))
    raw = BITBUCKET_AUTHOR.match(text(author.get("raw")))
    name = text(user.get("display_name")) or (raw[1] if raw else text(author.get("raw")))
    return _commit(text(item.get("hash")), text(item.get("message")),
                   text(user.get("nickname")) or _local(raw[2] if raw else "") or name, name,
                   text(item.get("date")),
                   text(obj(obj(item.get("links")).get("html")).get("href")), [])


def _commit(commit_id: str, message: str, author_id: str, name: str, stamp: str, url: str,
            paths: list) -> Commit | None:
    if not commit_id:
        return None
    return Commit(commit_id[:100], message[:MAX_MESSAGE],
                  UNSAFE.sub("_", author_id)[:200] or "unknown", name[:200], _time(stamp),
                  url[:2000], tuple(p[:MAX_PATH] for p in paths if isinstance(p, str))[:MAX_PATHS])


def _local(email: str) -> str:
    return email.partition("@")[0] if "@" in email else ""


def _time(stamp: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else None


def _list(value) -> list:
    return value if isinstance(value, list) else []
