"""Preferred node affinity toward the nodes where this pipeline's cache is warm.

The schemes live in `sidecar.cache.scheme` as pure functions. Here the renderer's
inputs become their input: without knowledge from the store (the offline `render`
command), every history entry with a node counts as a warm cache in the run's slot.
Nodes are matched by ``metadata.name`` — exactly the recorded ``spec.nodeName`` —
unless the settings ask for the hostname label.
"""

from __future__ import annotations

from dataclasses import replace

from sidecar.cache.scheme import SEED_TERMS, WarmCache, WarmKnowledge, affinity_for
from sidecar.config.inputs import HistoryEntry, ProjectSettings

__all__ = ["SEED_TERMS", "knowledge_from_history", "node_affinity"]


def knowledge_from_history(history: tuple[HistoryEntry, ...]) -> WarmKnowledge:
    """Warm knowledge from history alone (newest first): each scheduled entry is warm."""
    nodes = tuple(entry.node_name for entry in history if entry.node_name)
    count = len(nodes)
    return WarmKnowledge(warm=tuple(WarmCache(node, None, float(count - i))
                                    for i, node in enumerate(nodes)),
                         history=nodes)


def node_affinity(history: tuple[HistoryEntry, ...], settings: ProjectSettings,
                  knowledge: WarmKnowledge | None = None) -> dict | None:
    """The pod's `affinity` for the project's scheme, or None when there is nothing to prefer."""
    if knowledge is None:
        knowledge = knowledge_from_history(history)
    elif not knowledge.history:
        knowledge = replace(knowledge, history=tuple(e.node_name for e in history if e.node_name))
    return affinity_for(settings.affinity_scheme, knowledge, settings.affinity_key)
