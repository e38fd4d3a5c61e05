"""What a provider's delivery means, independent of the provider."""

from __future__ import annotations

from dataclasses import dataclass, field

from sidecar.errors import SidecarError

EVENTS = ("push", "tag", "pull_request", "image")


@dataclass(frozen=True)
class HookEvent:
    """A delivery that may start a run."""

    event: str
    branch: str = ""
    ref: str = ""
    commit: str = ""
    message: str = ""
    repository_urls: tuple[str, ...] = ()
    """Every URL the payload names for its repository; checked, never used for cloning."""
    image: str = ""
    tag: str = ""
    digest: str = ""
    extra: dict = field(default_factory=dict, compare=False)


class Ignored(SidecarError):
    """A valid delivery that starts nothing (ping, closed PR, deleted branch...)."""


def first_line(message: str) -> str:
    """The subject line of a commit message, at most 500 characters."""
    return (message or "").strip().splitlines()[0][:500] if (message or "").strip() else ""


def text(value, default: str = "") -> str:
    """A payload value as text; anything that is not a string is the default."""
    return value if isinstance(value, str) else default


def obj(value) -> dict:
    """A payload value as an object; anything else is empty."""
    return value if isinstance(value, dict) else {}


def ref_event(ref: str, commit: str, message: str, urls: tuple[str, ...]) -> HookEvent:
    """A push of refs/heads/<branch> or refs/tags/<tag>. :raise Ignored:"""
    if set(commit) <= {"0"}:
        raise Ignored(f"{ref} was deleted")
    if ref.startswith("refs/heads/"):
        return HookEvent("push", ref.removeprefix("refs/heads/"), ref, commit, message, urls)
    if ref.startswith("refs/tags/"):
        return HookEvent("tag", ref.removeprefix("refs/tags/"), ref, commit, message, urls)
    raise Ignored(f"ref {ref!r} is neither a branch nor a tag")
