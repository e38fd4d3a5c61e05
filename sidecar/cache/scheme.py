"""Affinity schemes as pure functions: what the sidecar knows about warm caches → pod affinity.

The scheduler scores preferred NodeAffinity as the sum of matching term weights,
normalised to 0..100 by the best scored node and multiplied by the plugin weight 2
(kubernetes/kubernetes pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go,
helper/normalize_score.go). So only the *ratio* between nodes counts. The ``warm``
scheme gives every node that holds a usable warm cache one and the same weight (one
term, weight 100): each of them scores 200 and every cold node 0, which no
LeastAllocated + BalancedAllocation difference (at most 100 + 100) can overturn. A node
is usable when a run of this pipeline finished there, later than any gc report that
pruned that cache, the node is still in the cluster, and — for slot caches — at least one
of the pipeline's warm slots there is not held by a running execution: the run's pod
claims the warmest free slot on the node it lands on (`sidecar.render.slotclaim`). The
benchmark (benchmarks/cache_sim.py) and the renderer both call these functions.

In a cluster of more than 100 nodes kube-scheduler scores only a sample: it stops
filtering once it has found `numFeasibleNodesToFind` feasible nodes (at least 100), from
a rotating start (schedule_one.go), so a warm node outside the sample is never scored
and the pod lands cold although the warm node had room. When the sidecar can read node
room, the warm term therefore comes with a *required* term naming `SCORED` nodes: the
usable warm ones and, for the rest, the nodes with the most free CPU. The scheduler then
filters only those (NodeAffinity's PreFilter narrows to named nodes), scores all of
them, and still places the pod at once on a roomy node when no warm node fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

SCHEMES = ("warm", "seed", "pin", "none")
SEED_TERMS = 10
WARM_TERMS = 20  # bounds the pod yaml; LRU gc keeps few warm copies per pipeline anyway
SCORED = 100
"""Nodes kube-scheduler always scores in full (minFeasibleNodesToFind)."""


@dataclass(frozen=True)
class WarmCache:
    """Evidence that a cache of the pipeline was warm on a node (slot None: shared)."""

    node: str
    slot: int | None
    at: float
    """When: a finished run's end, or a gc report of the directory as present (epoch s)."""


@dataclass(frozen=True)
class WarmKnowledge:
    """What the sidecar knows about one pipeline's caches when it renders a run."""

    warm: tuple[WarmCache, ...] = ()
    """Newest first."""
    pruned: dict[tuple[str, int | None], float] = field(default_factory=dict)
    """(node, slot) → when gc last reported that cache pruned."""
    nodes: frozenset[str] | None = None
    """The cluster's nodes; None when the sidecar cannot list them."""
    busy: frozenset[tuple[str, int]] = frozenset()
    """(node, slot) held by the pipeline's running executions (slot caches only)."""
    history: tuple[str, ...] = ()
    """Nodes of the newest executions, finished or not (the seed scheme's input)."""
    roomy: tuple[str, ...] = ()
    """The cluster's nodes, most free CPU first; given only when the sidecar reads node
    room and the cluster has more than `SCORED` nodes."""


def usable_nodes(knowledge: WarmKnowledge, *, any_slot: bool = False) -> tuple[str, ...]:
    """Nodes holding a usable warm cache for this run, newest evidence first.

    any_slot: count a warm cache even in a busy slot (to tell "warm, but every warm slot
    is busy" apart from "cold everywhere").
    """
    seen: list[str] = []
    for cache in knowledge.warm:
        departed = knowledge.nodes is not None and cache.node not in knowledge.nodes
        if cache.node in seen or departed:
            continue
        if not any_slot and (cache.node, cache.slot) in knowledge.busy:
            continue
        if knowledge.pruned.get((cache.node, cache.slot), float("-inf")) >= cache.at:
            continue
        seen.append(cache.node)
    return tuple(seen)


def affinity_for(scheme: str, knowledge: WarmKnowledge, key: str = "metadata.name") -> dict | None:
    """The pod's `affinity` under a scheme, or None when there is nothing to prefer."""
    if scheme == "warm":
        return warm_affinity(knowledge, key)
    if scheme == "seed":
        return seed_affinity(knowledge.history, key)
    if scheme == "pin":
        return pin_affinity(knowledge, key)
    return None


def warm_affinity(knowledge: WarmKnowledge, key: str = "metadata.name") -> dict | None:
    """One preferred term, weight 100, selecting every node with a usable warm cache."""
    nodes = usable_nodes(knowledge)[:WARM_TERMS]
    if not nodes:
        return None
    term = {"weight": 100, "preference": select_nodes(list(nodes), key)}
    affinity = {"preferredDuringSchedulingIgnoredDuringExecution": [term]}
    window = scored_window(nodes, knowledge.roomy)
    if window:
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [select_nodes(list(window), key)]}
    return {"nodeAffinity": affinity}


def by_room(free_cpu: Mapping[str, float]) -> tuple[str, ...]:
    """`WarmKnowledge.roomy` from each node's free CPU: the nodes, most free first — or ()
    when the cluster has at most `SCORED` nodes, all of which the scheduler scores."""
    if len(free_cpu) <= SCORED:
        return ()
    return tuple(sorted(free_cpu, key=free_cpu.__getitem__, reverse=True))


def scored_window(warm: tuple[str, ...], roomy: tuple[str, ...]) -> tuple[str, ...]:
    """The warm nodes and the roomiest others, `SCORED` in all; () when room is unknown."""
    if not roomy:
        return ()
    others = tuple(node for node in roomy if node not in warm)
    return warm + others[:SCORED - len(warm)]


def seed_affinity(history: tuple[str, ...], key: str = "metadata.name") -> dict | None:
    """The seed scheme: one term per newest execution, weight 100 - 10*i (repeats add up)."""
    nodes = [node for node in history if node][:SEED_TERMS]
    if not nodes:
        return None
    terms = [{"weight": 100 - 10 * rank, "preference": select_nodes([node], key)}
             for rank, node in enumerate(nodes)]
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": terms}}


def pin_affinity(knowledge: WarmKnowledge, key: str = "metadata.name") -> dict | None:
    """Hard pinning: required affinity to the newest usable warm node (waits for it)."""
    nodes = usable_nodes(knowledge)[:1]
    if not nodes:
        return None
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [select_nodes(list(nodes), key)]}}}


def select_nodes(nodes: list[str], key: str) -> dict:
    """A node selector term matching these nodes by name (exact) or by hostname label."""
    requirement = {"key": key, "operator": "In", "values": nodes}
    if key == "metadata.name":
        return {"matchFields": [requirement]}
    return {"matchExpressions": [requirement]}


def describe(scheme: str, knowledge: WarmKnowledge) -> str:
    """A one-line placement note: which nodes are preferred and why."""
    if scheme in ("none", "seed"):
        return f"affinity scheme {scheme}"
    warm = usable_nodes(knowledge)[:WARM_TERMS]
    if warm:
        note = f"warm cache on {', '.join(warm)}"
        window = scored_window(warm, knowledge.roomy) if scheme == "warm" else ()
        if window:
            note += (f"; scheduling limited to those and the {len(window) - len(warm)} nodes "
                     "with the most room, so that every warm node is scored")
        return note
    if usable_nodes(knowledge, any_slot=True):
        return "every warm slot is busy; the run starts in a cold slot"
    return "no warm cache known; no node preferred"
