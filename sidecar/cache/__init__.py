"""Node-local caches: which hostPath directories a run mounts and which nodes it prefers."""

from __future__ import annotations

from sidecar.cache.affinity import node_affinity
from sidecar.cache.scheme import WarmKnowledge
from sidecar.cache.tools import SLOT, policy
from sidecar.cache.volumes import cache_mounts, root_problem  # noqa: F401
from sidecar.config.inputs import HistoryEntry, ProjectSettings, RenderContext
from sidecar.config.model import Pipeline
from sidecar.render import Placement, prepare


def place(pipeline: Pipeline, context: RenderContext, settings: ProjectSettings,
          history: tuple[HistoryEntry, ...] = (),
          knowledge: WarmKnowledge | None = None) -> Placement:
    """Cache mounts for every cached step and node affinity toward warm caches.

    knowledge: what the store knows (finished runs, gc reports, busy slots); without it,
    the history stands in for it.
    """
    prepared = prepare(pipeline, context)
    return Placement(mounts=cache_mounts(prepared, context, settings),
                     affinity=node_affinity(history, settings, knowledge))


def uses_slots(pipeline: Pipeline, context: RenderContext) -> bool:
    """Whether any cache of the run is not safe to share, so each concurrent run needs a slot."""
    prepared = prepare(pipeline, context)
    return any(policy(path) == SLOT for stage in prepared.stages for step in stage.steps
               for path in stage.cache_paths(step))
