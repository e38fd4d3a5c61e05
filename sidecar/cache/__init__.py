"""Node-local caches: which hostPath directories a run mounts and which nodes it prefers."""

from __future__ import annotations

from sidecar.cache.affinity import node_affinity
from sidecar.cache.volumes import cache_mounts
from sidecar.config.inputs import HistoryEntry, ProjectSettings, RenderContext
from sidecar.config.model import Pipeline
from sidecar.render import Placement, prepare


def place(pipeline: Pipeline, context: RenderContext, settings: ProjectSettings,
          history: tuple[HistoryEntry, ...] = ()) -> Placement:
    """Cache mounts for every cached step and node affinity from the execution history."""
    prepared = prepare(pipeline, context)
    return Placement(mounts=cache_mounts(prepared, context, settings),
                     affinity=node_affinity(history, settings))
