"""The cache simulation's event loop: arrivals, admission, scheduling, slot claims, runs.

The sidecar's side (what it knows, the hold, the affinity) calls the product's own
functions; the node's side claims slots as `sidecar.cache.slots` does. See cache_sim.py.
"""

from __future__ import annotations

import heapq
import random
import statistics
from collections import deque
from dataclasses import replace

from sidecar.cache import locality, scheme
from sim_scheduler import GIB, Cluster, Node, Pod, affinity_terms, could_take, fits
from sim_workload import Synthetic, Trace

TAIL = 4 * 3600.0
WINDOW = 150  # arrivals between corrections of the arrival rate
LATEST = 4 * WINDOW  # bound runs whose warm share sets the rate (the hit rate still rises)
RECENT = 10  # successful runs whose median is the expected run time (as the engine's)


class Simulation:
    """One cell: a cluster, a workload, a scheme; `run` gives its figures."""

    def __init__(self, p, work=None):
        self.p = p
        self.work = work or (Trace(p.trace, p.saving) if p.trace else Synthetic(p))
        self.replay = bool(p.trace)
        self.cluster = Cluster(p, random.Random(p.seed * 31 + 7))
        self.budget = int(p.budget_gib * GIB)
        self.scheme = "warm" if p.scheme == "warm+hold" else p.scheme
        self.holding = p.scheme == "warm+hold"
        n = self.work.pipelines
        self.warm = [[] for _ in range(n)]  # WarmCache newest first, per pipeline
        self.pruned = [{} for _ in range(n)]
        self.history = [[] for _ in range(n)]
        self.recent = [[] for _ in range(n)]  # run times of the latest runs
        self.running = [{} for _ in range(n)]  # id → bound pod: the sidecar's executions
        self.events, self.seq, self.now = [], 0, 0.0
        self.pending: list[Pod] = []
        self.pinned: dict[str, list[Pod]] = {}  # pending pods that require one node
        self.held: list[tuple[Pod, float]] = []
        self.results: list[tuple] = []
        self.requested = [0, 0]  # cpu requested by bound CI, background pods
        self.area = [0.0, 0.0]  # requested cpu × time over the measured span
        # for the rate: arrivals so far, and (cold cpu × time, the same if warm) of the
        # latest bound runs
        self.arrivals = 0
        self.bound_work: deque[tuple[float, float]] = deque(maxlen=LATEST)
        self.offered = 0.0  # cold cpu × time brought by arrivals in the measured span
        self.since, self.until = None, None

    def push(self, at: float, kind: str, item) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, item))

    def run(self) -> dict:
        """Simulate until every measured run finished; the cell's figures."""
        p = self.p
        warmup = 0 if self.replay else p.warmup
        total = len(self.work) if self.replay else warmup + p.runs
        first = self.work.next_run()
        if first:
            self.push(first[0], "run", (0,) + first[1:])
        for pod, life in self.work.initial_background():
            self.start_background(pod, life)
        self.schedule_background()
        if p.churn:
            self.push(random.Random(p.seed).expovariate(p.churn * p.nodes / 86400), "churn", None)
        churn_rng = random.Random(p.seed + 99)
        while self.events and len(self.results) < total - warmup:
            at, _, kind, item = heapq.heappop(self.events)
            self.advance(at)
            if kind == "run":
                self.on_arrival(item, warmup, total)
            elif kind == "bg":
                self.schedule_background()
                self.start_background(*item)
            elif kind == "end":
                self.finish(item)
            elif kind == "hold":
                self.retry_held()
            elif kind == "churn":
                self.replace_node(churn_rng.randrange(len(self.cluster.nodes)))
                gap = churn_rng.expovariate(p.churn * p.nodes / 86400)
                self.push(self.now + gap, "churn", None)
        span = (self.until or self.now) - (self.since or 0.0)
        capacity = p.nodes * p.cpu * 1000 * max(span, 1e-9)
        return {**summarise(self.results), "util": sum(self.area) / capacity,
                "offered": self.offered / capacity}

    def measuring(self) -> bool:
        return self.since is not None and self.until is None

    def advance(self, at: float) -> None:
        """Integrate requested cpu over time up to `at`."""
        dt = at - self.now
        if self.measuring():
            self.area[0] += self.requested[0] * dt
            self.area[1] += self.requested[1] * dt
        self.now = at

    def on_arrival(self, item: tuple, warmup: int, total: int) -> None:
        # Arrivals go on past the measured ones, so those finish under the same load;
        # for TAIL more, so that a queue growing without bound (pin) still drains.
        index, pipeline, base = item
        if self.until is None or self.now < self.until + TAIL:
            nxt = self.work.next_run()
            if nxt:
                self.push(self.now + nxt[0], "run", (index + 1,) + nxt[1:])
        self.arrivals = index
        if index % WINDOW == WINDOW - 1 and self.until is None:
            self.correct_rate()
        if index == warmup:
            self.since = self.now
        if index == total - 1 and self.replay or index == total:
            self.until = self.now
        measured = warmup <= index < total
        if measured and self.measuring():
            self.offered += self.work.cpu[pipeline] * base
        self.arrive(Pod(self.work.cpu[pipeline], self.work.mem[pipeline], pipeline, base=base,
                        arrived=self.now, measured=measured, ever_warm=bool(self.warm[pipeline])))

    def correct_rate(self) -> None:
        """Set CI arrivals so that CI pods request their share of cpu (Little's law).

        It runs every WINDOW arrivals up to the last measured one, since the hit rate,
        and with it the work an arrival brings, moves after the warm-up too.
        Requested cpu = arrival rate × mean (cpu × run time). The workload knows the mean
        cold work of an arrival; a warm run saves `saving` of it, so the mean is scaled
        by the share of cold work that the latest *bound* runs ran warm. (Counting runs
        when they finish would count mostly the short ones early on, and the rate would
        overshoot: by half at 200 nodes, where the warm-up is short in simulated time.)
        CI tops up the background's design share, not its level so far: the background
        starts at its steady level, and on a small cluster its few long-lived pods make
        that level swing by a third over hours, which CI should not follow.
        """
        cold = sum(w for w, _ in self.bound_work)
        if cold:
            target = self.p.util * (1 - self.p.background) * self.p.nodes * self.p.cpu * 1000
            warm = sum(w for _, w in self.bound_work) / cold
            work = self.work.ci_work * 1000 * (1 - self.p.saving * warm)
            self.work.scale(target / work / self.work.ci_rate)

    def start_background(self, pod: Pod, life: float) -> None:
        pod.base = life
        if self.measuring():
            self.offered += pod.cpu * life
        self.submit(pod)

    def schedule_background(self) -> None:
        nxt = self.work.next_background()
        if nxt and (self.until is None or self.now < self.until + TAIL):
            self.push(self.now + nxt[0], "bg", (nxt[1], nxt[2]))

    # -- the sidecar's side: knowledge, hold, affinity ------------------------------------
    def knowledge(self, pipeline: int) -> scheme.WarmKnowledge:
        busy = frozenset((q.node.name, q.slot) for q in self.running[pipeline].values()
                         if q.slot is not None)
        return scheme.WarmKnowledge(warm=tuple(self.warm[pipeline]), pruned=self.pruned[pipeline],
                                    nodes=self.cluster.names, busy=busy,
                                    history=tuple(self.history[pipeline]))

    def expected(self, pipeline: int) -> float | None:
        """Median of the pipeline's latest run times, as the engine estimates it."""
        recent = self.recent[pipeline]
        return statistics.median(recent) if recent else None

    def arrive(self, pod: Pod) -> None:
        if not self.try_admit(pod, None):
            self.held.append((pod, self.now))
            limit = locality.max_hold(self.expected(pod.pipeline), self.p.saving, self.p.hold)
            self.push(self.now + limit, "hold", None)

    def try_admit(self, pod: Pod, held_since: float | None) -> bool:
        """Render affinity and submit, unless the hold rule says wait."""
        knowledge = self.knowledge(pod.pipeline)
        if self.holding:
            usable = scheme.usable_nodes(knowledge)
            room = None
            if self.p.rights:
                room = any(fits(n, pod) for n in self.cluster.nodes if n.name in usable)
            limit = locality.max_hold(self.expected(pod.pipeline), self.p.saving, self.p.hold)
            decision = locality.decide(
                usable=len(usable),
                warm_elsewhere=bool(scheme.usable_nodes(knowledge, any_slot=True)),
                room=room, held_for=None if held_since is None else self.now - held_since,
                limit=limit, wait=self.expected_wait(pod, knowledge, usable, room))
            if decision.hold:
                return False
        if self.p.rights:  # the engine reads node room for the scored window
            knowledge = replace(knowledge, roomy=scheme.by_room(
                {n.name: n.free_cpu for n in self.cluster.nodes}))
        pod.affinity = scheme.affinity_for(self.scheme, knowledge)
        pod.terms = affinity_terms(pod.affinity)
        self.submit(pod)
        return True

    def expected_wait(self, pod: Pod, knowledge, usable: tuple, room) -> float | None:
        """When room (or a warm slot) is expected to free, from the sidecar's own runs."""
        if usable and room is False:
            nodes = [n for n in self.cluster.nodes if n.name in usable]
            return locality.wait_for_room(
                [((n.free_cpu, n.free_mem),
                  [(self.remaining(q), (q.cpu, q.mem)) for q in n.running.values()])
                 for n in nodes], (pod.cpu, pod.mem))
        warm = {(c.node, c.slot) for c in knowledge.warm}
        ends = [self.remaining(q) for q in self.running[pod.pipeline].values()
                if (q.node.name, q.slot) in warm]
        return min(ends) if ends else None

    def remaining(self, q: Pod) -> float:
        return max(0.0, q.bound + q.expect - self.now)

    def retry_held(self) -> None:
        still = []
        for pod, since in self.held:
            if not self.try_admit(pod, since):
                still.append((pod, since))
        self.held = still

    # -- the cluster's side: scheduling, slot claims, runs, caches -----------------------
    def submit(self, pod: Pod) -> None:
        pod.submitted = self.now
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
        ci = pod.pipeline >= 0
        self.requested[0 if ci else 1] += pod.cpu
        pod.node, duration = node, pod.base
        if ci:
            newest = [node.name] + self.history[pod.pipeline]
            self.history[pod.pipeline] = newest[:scheme.SEED_TERMS]
            pod.slot = claim(node, pod.pipeline) if self.p.mode == "slot" else None
            entry = node.caches.get((pod.pipeline, pod.slot))
            pod.hit = entry is not None
            if pod.hit:
                entry[1], entry[2] = self.now, entry[2] + 1
                pod.counted = (pod.pipeline, pod.slot)
                duration = pod.base * (1 - self.p.saving)
            pod.bound, pod.expect = self.now, self.expected(pod.pipeline) or 0.0
            if self.arrivals > WINDOW:
                cold = pod.cpu * pod.base
                self.bound_work.append((cold, cold if pod.hit else 0.0))
            self.running[pod.pipeline][id(pod)] = node.running[id(pod)] = pod
        self.push(self.now + duration, "end", pod)
        return True

    def finish(self, pod: Pod) -> None:
        node = pod.node
        node.free_cpu += pod.cpu
        node.free_mem += pod.mem
        ci = pod.pipeline >= 0
        self.requested[0 if ci else 1] -= pod.cpu
        if ci:
            del self.running[pod.pipeline][id(pod)], node.running[id(pod)]
            if pod.slot is not None:
                node.locks[pod.pipeline].discard(pod.slot)  # the kernel drops the flock
            recent = [self.now - pod.bound] + self.recent[pod.pipeline]
            self.recent[pod.pipeline] = recent[:RECENT]
            if node in self.cluster.nodes:
                self.write_cache(node, pod)
            if pod.measured:
                self.results.append((pod.hit, pod.bound - pod.arrived, self.now - pod.arrived,
                                     pod.ever_warm, pod.cpu, pod.bound - pod.submitted))
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
            node.caches[key] = entry = [size, self.now, 0]
            node.used += size
        entry[1] = self.now
        if pod.counted == key:  # only a run that raised the in-use count lowers it
            entry[2] -= 1
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
        new = Node(f"node-{self.cluster.renamed}", old.free_cpu, old.free_mem)
        self.cluster.nodes[index] = new
        for pod in [e[3] for e in self.events if e[2] == "end" and e[3].node is old]:
            pod.node, pod.counted = new, None
            if pod.pipeline >= 0:
                new.running[id(pod)] = pod
                if pod.slot is not None:
                    new.locks.setdefault(pod.pipeline, set()).add(pod.slot)
        self.cluster.names = frozenset(n.name for n in self.cluster.nodes)


def claim(node: Node, pipeline: int) -> int:
    """The slot a pod's claim container locks: the free one used last, else a new one."""
    locked = node.locks.setdefault(pipeline, set())
    free = [(e[1], s) for (pl, s), e in node.caches.items() if pl == pipeline and s not in locked]
    if free:
        slot = max(free)[1]
    else:
        slot = 0
        while slot in locked or (pipeline, slot) in node.caches:
            slot += 1
    locked.add(slot)
    return slot


def summarise(results: list[tuple]) -> dict:
    """Hit rate, how many waited, the wait's mean and percentiles (s), mean time-to-finish (s).

    A result: (hit, wait from trigger to bind, trigger to end, ever warm, cpu, wait of the
    pod itself from its creation to its bind — the wait without the hold).
    """
    pending = sorted(r[1] for r in results)
    return {"hit": sum(r[0] for r in results) / len(results),
            "ceiling": sum(r[3] for r in results) / len(results),
            "p50": pending[len(pending) // 2], "p95": _p95(pending),
            "p95_pod": _p95([r[5] for r in results]),
            "pended": sum(1 for w in pending if w > 0) / len(pending),
            "mean_pending": statistics.fmean(pending),
            "p95_by_cpu": {cpu: _p95([r[1] for r in results if r[4] == cpu])
                           for cpu in {r[4] for r in results}},
            "ttf": statistics.fmean(r[2] for r in results)}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(len(ordered) * 0.95)]
