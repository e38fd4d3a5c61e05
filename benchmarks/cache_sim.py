"""Discrete-event simulation of kube-scheduler placing CI agent pods next to their caches.

Run: ``python benchmarks/cache_sim.py --nodes 20 --pipelines 100 --util 0.3,0.6,0.85``.
It prints one Markdown table per cache mode: hit rate, p50/p95 pending, mean
time-to-finish, for each affinity scheme and load, averaged over the seeds.

The scheduler model, with where each rule is written, is in ``sim_scheduler.py``.

Caches: each node has a byte budget, evicted least-recently-used like the sidecar's
``cache gc``, which reports pruned directories (NodeCache rows) at once. A cache is warm
only after a run finished on that node. ``shared``: one directory per pipeline and node;
``slot``: one directory per (pipeline, slot), a run mounting the lowest slot its
pipeline's active runs do not hold. The schemes and the hold rule are the product's own
functions (`sidecar.cache.scheme`, `sidecar.cache.locality`).
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sidecar.cache import locality, scheme  # noqa: E402
from sidecar.config.inputs import ProjectSettings  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_scheduler import (GIB, Cluster, Node, Pod, affinity_terms, could_take,  # noqa: E402
                           fits)

SCHEMES = ("none", "seed", "pin", "warm", "warm+hold")
TAIL = 4 * 3600.0


@dataclass(frozen=True)
class Params:
    """One cell of the benchmark."""

    nodes: int = 20
    cpu: int = 16
    mem_gib: int = 64
    pipelines: int = 100
    runs: int = 10_000
    warmup: int = 3_000
    util: float = 0.6
    mode: str = "shared"
    scheme: str = "warm"
    seed: int = 1
    budget_gib: float = 40
    saving: float = ProjectSettings().cache_saving
    hold: float = ProjectSettings().warm_hold
    zipf: float = 1.0
    background: float = 0.3
    churn: float = 0.0
    """Node replacements per node per day (its caches are lost)."""
    score_percentage: int = 0
    """percentageOfNodesToScore; 0 is the scheduler's adaptive default."""


class Workload:
    """Pipelines (Zipf popularity, requests, lognormal run times, cache sizes), arrivals."""

    def __init__(self, p: Params):
        rng = random.Random(p.seed * 7919 + 1)
        weights = [1 / (r + 1) ** p.zipf for r in range(p.pipelines)]
        self.cumulative = _cumulative(weights)
        self.cpu = [rng.choices((1000, 2000, 4000), (4, 4, 2))[0] for _ in weights]
        self.mem = [c * rng.choice((2, 4)) * GIB // 1000 for c in self.cpu]
        self.median = [60 * math.exp(rng.uniform(math.log(3), math.log(30))) for _ in weights]
        self.size = [min(8 * GIB, max(100, int(1.5 * GIB * math.exp(rng.gauss(0, 0.8)))))
                     for _ in weights]
        self.sigma = 0.6
        total = sum(weights)
        ci_work = sum(w / total * c / 1000 * m * math.exp(self.sigma ** 2 / 2)
                      for w, c, m in zip(weights, self.cpu, self.median))
        capacity = p.nodes * p.cpu
        self.ci_rate = p.util * (1 - p.background) * capacity / ci_work
        bg_work = 1.875 * 1800 * math.exp(0.5)  # mean cpu of the choices below × mean life
        self.bg_rate = p.util * p.background * capacity / bg_work
        self.rng, self.bg_rng = random.Random(p.seed * 104729 + 3), random.Random(p.seed * 15485863)

    def next_run(self) -> tuple[float, int, float]:
        """(gap, pipeline, cold run time) of the next CI run."""
        pipeline = _pick(self.cumulative, self.rng.random())
        base = self.median[pipeline] * math.exp(self.rng.gauss(0, self.sigma))
        return self.rng.expovariate(self.ci_rate), pipeline, base

    def next_background(self) -> tuple[float, Pod, float]:
        """(gap, pod, lifetime) of the next non-CI pod."""
        r = self.bg_rng
        cpu = r.choice((500, 1000, 2000, 4000))
        pod = Pod(cpu=cpu, mem=cpu * r.choice((1, 2, 4, 8)) * GIB // 1000)
        return r.expovariate(self.bg_rate), pod, 1800 * math.exp(r.gauss(0, 1.0))


def _cumulative(weights: list[float]) -> list[float]:
    total, acc, out = sum(weights), 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    return out


def _pick(cumulative: list[float], u: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return lo


class Simulation:
    """The event loop: arrivals, admission, scheduling, runs, cache writes and eviction."""

    def __init__(self, p: Params):
        self.p, self.work = p, Workload(p)
        self.cluster = Cluster(p, random.Random(p.seed * 31 + 7))
        self.budget = int(p.budget_gib * GIB)
        self.scheme = "warm" if p.scheme == "warm+hold" else p.scheme
        self.holding = p.scheme == "warm+hold"
        n = p.pipelines
        self.warm = [[] for _ in range(n)]  # WarmCache newest first, per pipeline
        self.pruned = [{} for _ in range(n)]
        self.history = [[] for _ in range(n)]
        self.active = [[] for _ in range(n)]  # slots of admitted, unfinished runs
        self.events, self.seq, self.now = [], 0, 0.0
        self.pending: list[Pod] = []
        self.pinned: dict[str, list[Pod]] = {}  # pending pods that require one node
        self.held: list[tuple[Pod, float]] = []
        self.results: list[tuple] = []
        self.busy_cpu, self.area, self.since, self.until = 0, 0.0, None, None  # cpu × time

    def push(self, at: float, kind: str, item) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, item))

    def run(self) -> dict:
        """Simulate until every measured run finished; the cell's figures."""
        p, total = self.p, self.p.warmup + self.p.runs
        gap, pipeline, base = self.work.next_run()
        self.push(gap, "run", (0, pipeline, base))
        self.push(self.work.next_background()[0], "bg", None)
        if p.churn:
            self.push(random.Random(p.seed).expovariate(p.churn * p.nodes / 86400), "churn", None)
        churn_rng = random.Random(p.seed + 99)
        while self.events and len(self.results) < p.runs:
            at, _, kind, item = heapq.heappop(self.events)
            if self.since is not None and self.until is None:
                self.area += self.busy_cpu * (at - self.now)
            self.now = at
            if kind == "run":
                # Arrivals go on past the measured ones, so those finish under the same load;
                # for TAIL more, so that a queue growing without bound (pin) still drains.
                index, pipeline, base = item
                if self.until is None or self.now < self.until + TAIL:
                    gap, nxt, nbase = self.work.next_run()
                    self.push(self.now + gap, "run", (index + 1, nxt, nbase))
                if index == p.warmup:
                    self.since = self.now
                if index == total:
                    self.until = self.now
                self.arrive(Pod(self.work.cpu[pipeline], self.work.mem[pipeline], pipeline,
                                base=base, arrived=self.now, measured=p.warmup <= index < total,
                                ever_warm=bool(self.warm[pipeline])))
            elif kind == "bg":
                gap, pod, life = self.work.next_background()
                if self.until is None or self.now < self.until + TAIL:
                    self.push(self.now + gap, "bg", None)
                pod.base = life
                self.submit(pod)
            elif kind == "end":
                self.finish(item)
            elif kind == "hold":
                self.retry_held()
            elif kind == "churn":
                self.replace_node(churn_rng.randrange(len(self.cluster.nodes)))
                gap = churn_rng.expovariate(p.churn * p.nodes / 86400)
                self.push(self.now + gap, "churn", None)
        capacity = p.nodes * p.cpu * 1000 * ((self.until or self.now) - self.since)
        return {**summarise(self.results), "util": self.area / capacity}

    # -- the sidecar's side: slot, knowledge, hold, affinity -------------------------------
    def knowledge(self, pipeline: int, slot: int | None) -> scheme.WarmKnowledge:
        return scheme.WarmKnowledge(warm=tuple(self.warm[pipeline]), pruned=self.pruned[pipeline],
                                    nodes=self.cluster.names, slot=slot,
                                    history=tuple(self.history[pipeline]))

    def arrive(self, pod: Pod) -> None:
        if not self.try_admit(pod, None):
            self.held.append((pod, self.now))
            limit = locality.max_hold(self.work.median[pod.pipeline], self.p.saving, self.p.hold)
            self.push(self.now + limit, "hold", None)

    def try_admit(self, pod: Pod, held_since: float | None) -> bool:
        """Admit (choose slot, render affinity, submit) unless the hold rule says wait."""
        slot = scheme.choose_slot(set(self.active[pod.pipeline])) if self.p.mode == "slot" else None
        knowledge = self.knowledge(pod.pipeline, slot)
        if self.holding:
            usable = scheme.usable_nodes(knowledge)
            room = any(fits(n, pod) for n in self.cluster.nodes if n.name in usable)
            limit = locality.max_hold(self.work.median[pod.pipeline], self.p.saving, self.p.hold)
            elsewhere = bool(scheme.usable_nodes(knowledge, any_slot=True))
            held_for = None if held_since is None else self.now - held_since
            decision = locality.decide(usable=len(usable), warm_elsewhere=elsewhere, room=room,
                                       held_for=held_for, limit=limit)
            if decision.hold:
                return False
        pod.slot = slot
        pod.affinity = scheme.affinity_for(self.scheme, knowledge)
        pod.terms = affinity_terms(pod.affinity)
        self.active[pod.pipeline].append(slot)
        self.submit(pod)
        return True

    def retry_held(self) -> None:
        still = []
        for pod, since in self.held:
            if not self.try_admit(pod, since):
                still.append((pod, since))
        self.held = still

    # -- the cluster's side: scheduling, runs, caches ------------------------------------
    def submit(self, pod: Pod) -> None:
        if self.bind(pod):
            return
        required = pod.terms[1]
        if required is not None and len(required) == 1:
            self.pinned.setdefault(next(iter(required)), []).append(pod)
        else:
            self.pending.append(pod)

    def bind(self, pod: Pod) -> bool:
        node = self.cluster.schedule(pod)
        if node is None:
            return False
        node.free_cpu -= pod.cpu
        node.free_mem -= pod.mem
        self.busy_cpu += pod.cpu
        pod.node, duration = node, pod.base
        if pod.pipeline >= 0:
            newest = [node.name] + self.history[pod.pipeline]
            self.history[pod.pipeline] = newest[:scheme.SEED_TERMS]
            entry = node.caches.get((pod.pipeline, pod.slot))
            hit = entry is not None
            if hit:
                entry[1], entry[2] = self.now, entry[2] + 1
                duration = pod.base * (1 - self.p.saving)
            pod.hit = hit
            pod.bound = self.now
        self.push(self.now + duration, "end", pod)
        return True

    def finish(self, pod: Pod) -> None:
        node = pod.node
        node.free_cpu += pod.cpu
        node.free_mem += pod.mem
        self.busy_cpu -= pod.cpu
        if pod.pipeline >= 0:
            self.active[pod.pipeline].remove(pod.slot)
            if node in self.cluster.nodes:
                self.write_cache(node, pod)
            if pod.measured:
                self.results.append((pod.hit, pod.bound - pod.arrived, self.now - pod.arrived,
                                     pod.ever_warm))
        # Pending pods fit nowhere before; only this node gained room.
        if node.name in self.pinned:
            self.pinned[node.name] = [q for q in self.pinned[node.name]
                                      if not (fits(node, q) and self.bind(q))]
        self.pending = [q for q in self.pending if not (could_take(node, q) and self.bind(q))]
        if self.held:
            self.retry_held()

    def write_cache(self, node: Node, pod: Pod) -> None:
        key, size = (pod.pipeline, pod.slot), self.work.size[pod.pipeline]
        entry = node.caches.get(key)
        if entry is None:
            node.caches[key] = entry = [size, self.now, 1]
            node.used += size
        entry[1], entry[2] = self.now, entry[2] - 1
        self.warm[pod.pipeline] = [scheme.WarmCache(node.name, pod.slot, self.now)] + \
            self.warm[pod.pipeline][:40]
        while node.used > self.budget:
            idle = [(e[1], k) for k, e in node.caches.items() if e[2] == 0 and k != key]
            if not idle:
                break
            _, victim = min(idle)
            node.used -= node.caches.pop(victim)[0]
            self.pruned[victim[0]][(node.name, victim[1])] = self.now  # the gc report

    def replace_node(self, index: int) -> None:
        """A node leaves with its caches; an empty one with a new name takes its place."""
        old = self.cluster.nodes[index]
        self.cluster.renamed += 1
        self.cluster.nodes[index] = Node(f"node-{self.cluster.renamed}", old.free_cpu, old.free_mem)
        for pod in [e[3] for e in self.events if e[2] == "end" and e[3].node is old]:
            pod.node = self.cluster.nodes[index]
        self.cluster.names = frozenset(n.name for n in self.cluster.nodes)


def summarise(results: list[tuple]) -> dict:
    """Hit rate, pending percentiles (s) and mean time-to-finish (s) of the measured runs."""
    pending = sorted(r[1] for r in results)
    return {"hit": sum(r[0] for r in results) / len(results),
            "ceiling": sum(r[3] for r in results) / len(results),
            "p50": pending[len(pending) // 2], "p95": pending[int(len(pending) * 0.95)],
            "ttf": statistics.fmean(r[2] for r in results)}


def cell(p: Params) -> dict:
    """One simulated cell (a picklable entry point for the process pool)."""
    return Simulation(p).run()


def table(params: list[Params], results: list[dict], seeds: int) -> str:
    """A Markdown table: one row per (scheme, load), figures averaged over the seeds."""
    rows = ["| scheme | offered load | cpu used | hit rate | ever warm | p50 pending "
            "| p95 pending | mean time-to-finish |", "|---|---|---|---|---|---|---|---|"]
    for i in range(0, len(params), seeds):
        group, p = results[i:i + seeds], params[i]
        mean = {k: statistics.fmean(g[k] for g in group) for k in group[0]}
        rows.append(f"| {p.scheme} | {p.util:.0%} | {mean['util']:.0%} | {mean['hit']:.1%} | "
                    f"{mean['ceiling']:.1%} | {mean['p50']:.0f} s | "
                    f"{mean['p95']:.0f} s | {mean['ttf'] / 60:.1f} min |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    """Run the grid of cells in parallel and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10_000, help="measured runs per cell")
    parser.add_argument("--warmup", type=int, default=3_000)
    parser.add_argument("--util", default="0.3,0.6,0.85", help="target CPU utilisations")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--mode", default="shared,slot")
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    parser.add_argument("--budget-gib", type=float, default=40)
    parser.add_argument("--saving", type=float, default=Params.saving,
                        help="share of run time a warm cache saves")
    parser.add_argument("--hold", type=float, default=Params.hold,
                        help="hold at most this fraction of the expected saving")
    parser.add_argument("--churn", type=float, default=0.0, help="node replacements per node-day")
    parser.add_argument("--score-percentage", type=int, default=0,
                        help="the cluster's percentageOfNodesToScore (0: adaptive default)")
    parser.add_argument("--workers", type=int, default=2)
    a = parser.parse_args(argv)
    for mode in a.mode.split(","):
        grid = [Params(nodes=a.nodes, pipelines=a.pipelines, runs=a.runs, warmup=a.warmup,
                       util=float(u), mode=mode, scheme=s, seed=seed, budget_gib=a.budget_gib,
                       saving=a.saving, hold=a.hold, churn=a.churn,
                       score_percentage=a.score_percentage)
                for s in a.schemes.split(",") for u in a.util.split(",")
                for seed in range(1, a.seeds + 1)]
        with ProcessPoolExecutor(max_workers=a.workers) as pool:
            results = list(pool.map(cell, grid))
        print(f"\n{mode} caches, {a.nodes} nodes, {a.pipelines} pipelines, {a.runs} runs, "
              f"mean of {a.seeds} seeds\n", flush=True)
        print(table(grid, results, a.seeds), flush=True)


if __name__ == "__main__":
    main()
