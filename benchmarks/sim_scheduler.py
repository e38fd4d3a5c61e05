"""The scheduler of the cache simulation: nodes, agent pods, and one scheduling cycle.

What the scheduler does, and where that is written (kubernetes/kubernetes, read for
shared/reference/k8s-plugin-and-caching.md):

* Filter: NodeResourcesFit — the pod's cpu/memory requests fit the node's allocatable
  minus what bound pods request (noderesources/fit.go). Required node affinity
  (pin) reduces the candidates to the named nodes in PreFilter (nodeaffinity PreFilter
  returns a PreFilterResult for ``metadata.name`` matchFields).
* Sampling: schedule_one.go ``numFeasibleNodesToFind``: below 100 nodes all are scored;
  else percentage = 50 - nodes/125 (at least 5), nodes*percentage/100, at least 100.
  Filtering stops at that many feasible nodes, starting from ``nextStartNodeIndex``,
  which then advances by the nodes processed (modulo the node count).
* Scores, default weights (apis/config/v1/default_plugins.go): NodeAffinity ×2 — sum of
  matching preferred weights, normalised by the max over scored nodes to 0..100
  (helper/normalize_score.go DefaultNormalizeScore); NodeResourcesFit LeastAllocated ×1 —
  mean over cpu, memory of (allocatable - requested)*100/allocatable
  (least_allocated.go); NodeResourcesBalancedAllocation ×1 — (1 - |f_cpu - f_mem|/2)*100
  with fractions of requested/allocatable capped at 1 (balanced_allocation.go). With
  ``--scoring most`` the agent pods (not the background) are on a profile whose
  NodeResourcesFit strategy is MostAllocated: mean of requested*100/allocatable
  (most_allocated.go), which packs nodes instead of spreading. Other
  default scores are equal on every node here (no taints, pre-pulled images, bare
  agent pods that no Service selects so no default topology spread) and are left out.
* selectHost: a uniformly random node among those with the top score (schedule_one.go).
* Pods that fit nowhere wait; a pod leaving a node moves them back to be tried again,
  oldest first (the scheduling queue's unschedulable pods on a delete event).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

GIB = 1024  # memory and cache sizes are in MiB, cpu in millicores (kube's integer units)


@dataclass
class Node:
    name: str
    free_cpu: int
    free_mem: int
    caches: dict = field(default_factory=dict)  # (pipeline, slot) -> [size, last_used, users]
    used: int = 0
    locks: dict = field(default_factory=dict)  # pipeline -> slots locked by running pods
    running: dict = field(default_factory=dict)  # id -> CI pod bound here (the sidecar's own)


@dataclass
class Pod:
    cpu: int
    mem: int
    pipeline: int = -1
    slot: int | None = None
    base: float = 0.0
    arrived: float = 0.0
    affinity: dict | None = None
    measured: bool = False
    node: Node | None = None
    hit: bool = False
    ever_warm: bool = False
    terms: tuple = ([], None)  # parsed affinity: preferred (weight, names), required names
    submitted: float | None = None  # when the pod was created (after any hold)
    bound: float = 0.0
    counted: tuple | None = None  # the cache entry whose in-use count this run raised
    expect: float = 0.0  # the sidecar's expected run time when it started


class Cluster:
    """Nodes and the scheduler's view of them."""

    def __init__(self, p, rng: random.Random):
        # p: the simulation's Params (nodes, cpu, mem_gib, score_percentage)
        self.cpu, self.mem = p.cpu * 1000, p.mem_gib * GIB
        self.nodes = [Node(f"node-{i}", self.cpu, self.mem) for i in range(p.nodes)]
        self.rng, self.start, self.renamed = rng, 0, p.nodes
        self.percentage = p.score_percentage
        self.most_allocated = p.scoring == "most"
        self.names = frozenset(n.name for n in self.nodes)
        """The node list, as the sidecar would read it."""

    def schedule(self, pod: Pod) -> Node | None:
        """One scheduling cycle: filter, sample, score, pick; None when nothing fits."""
        preferred, required = pod.terms
        if required is not None:
            feasible = [n for n in self.nodes if n.name in required and fits(n, pod)]
        else:
            feasible = self._sample(pod)
        if not feasible:
            return None
        raw = [sum(w for w, names in preferred if n.name in names) for n in feasible]
        top = max(raw)
        best, count, chosen = -1, 0, None
        for n, r in zip(feasible, raw):
            score = (2 * (100 * r // top) if top else 0) + self._resources(n, pod)
            if score > best:
                best, count, chosen = score, 1, n
            elif score == best:
                count += 1
                if self.rng.randrange(count) == 0:
                    chosen = n
        return chosen

    def _sample(self, pod: Pod) -> list[Node]:
        total = len(self.nodes)
        wanted = total
        if total >= 100 and self.percentage < 100:
            percentage = self.percentage or max(5, 50 - total // 125)
            wanted = max(100, total * percentage // 100)
        feasible, processed = [], 0
        for i in range(total):
            node = self.nodes[(self.start + i) % total]
            processed += 1
            if fits(node, pod):
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
        self.start = (self.start + processed) % total
        return feasible

    def _resources(self, n: Node, pod: Pod) -> int:
        free_cpu, free_mem = n.free_cpu - pod.cpu, n.free_mem - pod.mem
        fit = (free_cpu * 100 // self.cpu + free_mem * 100 // self.mem) // 2
        if self.most_allocated and pod.pipeline >= 0:  # agents on a bin-packing profile
            fit = ((self.cpu - free_cpu) * 100 // self.cpu
                   + (self.mem - free_mem) * 100 // self.mem) // 2
        f_cpu = min(1.0, 1 - free_cpu / self.cpu)
        f_mem = min(1.0, 1 - free_mem / self.mem)
        return fit + int((1 - abs(f_cpu - f_mem) / 2) * 100)


def fits(n: Node, pod: Pod) -> bool:
    """The pod's requests fit the node's free room (NodeResourcesFit)."""
    return n.free_cpu >= pod.cpu and n.free_mem >= pod.mem


def could_take(node: Node, pod: Pod) -> bool:
    """The node fits the pod and any required affinity allows it."""
    required = pod.terms[1]
    return fits(node, pod) and (required is None or node.name in required)


def affinity_terms(affinity: dict | None) -> tuple[list, set | None]:
    """(weight, node names) of preferred terms and the required node names, from pod yaml."""
    if not affinity:
        return [], None
    na = affinity["nodeAffinity"]
    preferred = [(t["weight"], set(t["preference"]["matchFields"][0]["values"]))
                 for t in na.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    required = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    names = None
    if required:
        names = {v for term in required["nodeSelectorTerms"]
                 for v in term["matchFields"][0]["values"]}
    return preferred, names
