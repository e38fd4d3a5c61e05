"""hostPath cache directories: one per cached path, at a deterministic place on the node.

Layout: ``<cacheDir>/<project>/<pipeline>/<scope>/<path>``, every segment made safe by
`path_segment`. Runs of pull requests get their own scope, so untrusted code never
writes into the cache that pushes and tags read (DESIGN §5).
"""

from __future__ import annotations

import posixpath

from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import Pipeline
from sidecar.render.naming import path_segment, short_hash
from sidecar.render.placement import CacheMount, StepKey
from sidecar.render.steps import UNTRUSTED_EVENTS


def cache_scope(context: RenderContext) -> str:
    """Trusted runs share one cache; pull requests write elsewhere."""
    return "untrusted" if context.event in UNTRUSTED_EVENTS else "trusted"


def host_path(context: RenderContext, settings: ProjectSettings, mount_path: str) -> str:
    """The node directory that backs mount_path for this pipeline."""
    return posixpath.join(settings.cache_dir, path_segment(context.project),
                          path_segment(context.pipeline_id), cache_scope(context),
                          path_segment(mount_path.strip("/")))


def cache_mounts(pipeline: Pipeline, context: RenderContext,
                 settings: ProjectSettings) -> dict[StepKey, tuple[CacheMount, ...]]:
    """Mounts per step for every path that step caches (its own setting, else its stage's)."""
    mounts: dict[StepKey, tuple[CacheMount, ...]] = {}
    for s, stage in enumerate(pipeline.stages):
        for i, step in enumerate(stage.steps):
            paths = stage.cache_paths(step)
            if paths:
                mounts[(s, i)] = tuple(_mount(context, settings, path) for path in paths)
    return mounts


def _mount(context: RenderContext, settings: ProjectSettings, mount_path: str) -> CacheMount:
    directory = host_path(context, settings, mount_path)
    return CacheMount(volume=f"cache-{short_hash(directory, 12)}", host_path=directory,
                      mount_path=mount_path)
