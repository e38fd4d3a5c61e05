"""hostPath cache directories: one per cached path, at a deterministic place on the node.

Layout: ``<cacheDir>/<project>/<pipeline>/<scope>[/slot-<k>]/<path>``, every segment made
safe by `path_segment` (``sidecar/cache/gc.py`` parses it back).

- scope: ``trusted`` for trusted runs (tags and the project's protected branches, as
  `sidecar.config.trust` decides), ``untrusted`` for pull requests and every other
  branch, so untrusted code never writes into the cache that protected builds read
  (DESIGN §5, §10). Untrusted runs get a writable cache of their
  own rather than the trusted one read-only: most tools cannot run on a read-only cache.
- slot: only for tools whose cache is unsafe for concurrent writers (`tools.policy`).
  The slot is not known when the pod is rendered (its node is not known yet): the pod
  mounts the scope directory and claims a free ``slot-<k>`` there itself, with a lock
  held for its lifetime (`sidecar.render.slotclaim`); its steps mount
  ``pods/<pod name>/<path>``, a symlink to that slot.
"""

from __future__ import annotations

import posixpath
import re

from sidecar.cache.tools import SLOT, policy, tool_cache
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import Pipeline
from sidecar.config.trust import is_trusted
from sidecar.render.naming import path_segment, short_hash
from sidecar.render.placement import CacheMount, StepKey

SCOPES = ("trusted", "untrusted")
_NO_CONFIG = Pipeline(stages=())  # a config that does not narrow the protected list
SLOT_SEGMENT = re.compile(r"^slot-(\d+)$")
RESERVED = ("pods",)  # the claim's per-pod symlinks live in <scope>/pods
# Maven Resolver 1.9 (Maven 3.9) and 2.x (Maven 4) read the same keys: advisory file
# locks in the local repository coordinate processes on one kernel, so across pods.
MAVEN_FILE_LOCKS = ("-Daether.syncContext.named.factory=file-lock "
                    "-Daether.syncContext.named.nameMapper=file-gav")


def root_problem(cache_dir: str, root: str) -> str | None:
    """Why a project's cacheDir may not be used: outside the operator's root, or not normalised."""
    if posixpath.normpath(cache_dir) != cache_dir:
        return f"cacheDir {cache_dir!r} must be a normalised path (no '..', '.' or '//')"
    if posixpath.commonpath([cache_dir, root]) != root:
        return f"cacheDir {cache_dir!r} must be in the operator's cache root {root!r}"
    return None


def cache_scope(context: RenderContext, settings: ProjectSettings,
                pipeline: Pipeline = _NO_CONFIG) -> str:
    """``trusted`` for trusted runs (`sidecar.config.trust`); everything else is not."""
    return "trusted" if is_trusted(context, settings, pipeline) else "untrusted"


def leaf_segment(mount_path: str) -> str:
    """The directory name that holds mount_path's cache inside its scope (or slot)."""
    leaf = path_segment(mount_path.strip("/"))
    if SLOT_SEGMENT.match(leaf) or leaf in RESERVED:  # never mistaken for a slot directory
        leaf = f"{leaf}-{short_hash(leaf)}"
    return leaf


def scope_dir(context: RenderContext, settings: ProjectSettings,
              pipeline: Pipeline = _NO_CONFIG) -> str:
    """The pipeline's cache directory for the run's trust scope (slots live under it)."""
    return posixpath.join(settings.cache_dir, path_segment(context.project),
                          path_segment(context.pipeline_id),
                          cache_scope(context, settings, pipeline))


def host_path(context: RenderContext, settings: ProjectSettings, mount_path: str,
              pipeline: Pipeline = _NO_CONFIG) -> str:
    """The node directory that backs mount_path (for a slot cache: the slots' parent)."""
    scope = scope_dir(context, settings, pipeline)
    if policy(mount_path) == SLOT:
        return scope
    return posixpath.join(scope, leaf_segment(mount_path))


def cache_mounts(pipeline: Pipeline, context: RenderContext,
                 settings: ProjectSettings) -> dict[StepKey, tuple[CacheMount, ...]]:
    """Mounts per step for every path that step caches (its own setting, else its stage's)."""
    mounts: dict[StepKey, tuple[CacheMount, ...]] = {}
    for s, stage in enumerate(pipeline.stages):
        for i, step in enumerate(stage.steps):
            paths = stage.cache_paths(step)
            if paths:
                mounts[(s, i)] = tuple(_mount(context, settings, path, pipeline)
                                       for path in paths)
    return mounts


def _mount(context: RenderContext, settings: ProjectSettings, mount_path: str,
           pipeline: Pipeline) -> CacheMount:
    directory = host_path(context, settings, mount_path, pipeline)
    known = tool_cache(mount_path)
    env = (("MAVEN_OPTS", MAVEN_FILE_LOCKS),) if known and known.tool == "maven" else ()
    slot_leaf = leaf_segment(mount_path) if policy(mount_path) == SLOT else ""
    return CacheMount(volume=f"cache-{short_hash(directory, 12)}", host_path=directory,
                      mount_path=mount_path, env=env, slot_leaf=slot_leaf)
