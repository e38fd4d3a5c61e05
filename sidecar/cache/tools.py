"""Which tool caches several runs on one node may write at once, by the path they mount.

``shared``: safe for concurrent processes on one host, so concurrent runs of a pipeline
share one warm directory. Each ``shared`` entry names the test in
tests/test_cache_concurrency.py where two real tool processes write one cache at once.
``slot``: not shown safe, so each concurrent run gets a slot of its own. Gradle's lock
hand-off goes over a local socket that does not cross pods; Maven locks across
processes only with Resolver 1.7+ named file locks (Maven 3.9+ with
``-Daether.syncContext.named.factory=file-lock``), which the sidecar cannot see in a
user's image and this project cannot test (Debian 12 ships Maven 3.8.7 with Resolver
1.6.3, whose only sync context is a no-op). Unknown paths are ``slot``: sharing is a
claim that needs proof.
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
    ToolCache("npm", ".npm", SHARED, "cacache: content-addressed, written by atomic rename; "
              "proof: test_npm_cache_shared"),
    ToolCache("pip", ".cache/pip", SHARED, "http and wheel caches written by atomic replace "
              "from a temp file in the cache; proof: test_pip_cache_shared"),
    ToolCache("go", "go/pkg/mod", SHARED, "module downloads serialised by file locks; "
              "proof: test_go_caches_shared"),
    ToolCache("go", ".cache/go-build", SHARED, "build cache: content-addressed, atomic; "
              "proof: test_go_caches_shared"),
    ToolCache("maven", ".m2/repository", SLOT, "cross-process locks need Resolver 1.7+ "
              "file-lock named locks, opt-in and untestable here"),
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
