"""Which tool caches several runs on one node may write at once, by the path they mount.

``shared``: safe for concurrent processes on one host (content-addressed with atomic
renames, or file locks that work across pods on one kernel), so concurrent runs of a
pipeline share one warm directory. ``slot``: not safe (Gradle's lock hand-off goes over
a local socket that does not cross pods; Maven's default resolver lock is in-process),
so each concurrent run gets a slot of its own. Unknown paths are ``slot``: sharing is
a claim that needs proof (tests/test_cache_concurrency.py).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

SHARED, SLOT = "shared", "slot"


@dataclass(frozen=True)
class ToolCache:
    """A known cache directory and its concurrency policy."""

    tool: str
    suffix: str
    policy: str
    why: str


KNOWN = (
    ToolCache("npm", ".npm", SHARED, "cacache: content-addressed, written by atomic rename"),
    ToolCache("pip", ".cache/pip", SHARED, "http and wheel caches written by atomic replace"),
    ToolCache("go", "go/pkg/mod", SHARED, "module cache guarded by file locks"),
    ToolCache("go", ".cache/go-build", SHARED, "build cache: content-addressed, atomic"),
    ToolCache("maven", ".m2/repository", SHARED,
              "shared only with the file-lock sync context the sidecar sets"),
    ToolCache("gradle", ".gradle", SLOT, "lock hand-off by local socket fails across pods"),
    ToolCache("yarn", ".cache/yarn", SLOT, "concurrent writers need --mutex"),
)


def tool_cache(mount_path: str) -> ToolCache | None:
    """The known tool cache a mount path is, if any (matched on its trailing segments)."""
    path = posixpath.normpath("/" + mount_path.strip("/"))
    for known in KNOWN:
        if path == "/" + known.suffix or path.endswith("/" + known.suffix):
            return known
    return None


def policy(mount_path: str) -> str:
    """``shared`` or ``slot`` for a cache mount path."""
    known = tool_cache(mount_path)
    return known.policy if known else SLOT
