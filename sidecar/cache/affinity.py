"""Preferred node affinity toward the nodes where this pipeline ran.

The seed scheme: the 10 most recent executions that were scheduled, weight
``100 - 10*i``, one term per execution (terms for a repeated node add up, as the
scheduler sums matching weights). Nodes are matched by ``metadata.name`` — exactly the
recorded ``spec.nodeName`` — unless the settings ask for the hostname label.
"""

from __future__ import annotations

from sidecar.config.inputs import HistoryEntry, ProjectSettings

SEED_TERMS = 10


def node_affinity(history: tuple[HistoryEntry, ...], settings: ProjectSettings) -> dict | None:
    """The pod's `affinity` for the project's scheme, or None when there is nothing to prefer."""
    if settings.affinity_scheme == "none":
        return None
    nodes = [entry.node_name for entry in history if entry.node_name][:SEED_TERMS]
    if not nodes:
        return None
    terms = [{"weight": 100 - 10 * rank, "preference": _select(node, settings.affinity_key)}
             for rank, node in enumerate(nodes)]
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": terms}}


def _select(node: str, key: str) -> dict:
    requirement = {"key": key, "operator": "In", "values": [node]}
    if key == "metadata.name":
        return {"matchFields": [requirement]}
    return {"matchExpressions": [requirement]}
