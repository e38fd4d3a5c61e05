"""Workloads of the cache simulation: what runs arrive, when, asking for what.

A workload is any object with this interface (`Workload`), read by
``cache_sim.Simulation``:

* ``pipelines``: how many pipelines; per pipeline ``cpu`` (millicores), ``mem`` (MiB),
  ``size`` (cache MiB) and ``median`` (expected cold run time, s — the hold's estimate);
* ``ci_rate`` (CI arrivals per s) and ``ci_work`` (mean cold CPU-seconds, in cores × s,
  of one arrival): the simulation's rate correction reads them;
* ``next_run()``: ``(gap s, pipeline, cold run time s)`` of the next CI run, or None
  when the workload has no more runs;
* ``next_background()``: ``(gap s, Pod, lifetime s)`` of the next non-CI pod, or None;
* ``initial_background()``: ``[(Pod, remaining lifetime s)]``, the non-CI pods already
  running when the simulation starts (their steady level, so the load is right at once);
* ``scale(factor)``: multiply the CI arrival rate (the simulation tunes it, up to the
  last measured arrival, so that requested CPU is the asked share of the cluster); a
  replayed trace ignores it.

`Synthetic` is the benchmark's generated workload; `Trace` replays the executions that
``jenkins-sidecar history export`` wrote.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from datetime import datetime
from typing import Protocol

from sim_scheduler import GIB, Pod

DEFAULT_SIZE = int(1.5 * GIB)
# Non-CI pods: cpu (millicores, equally likely) and lognormal lifetime (median, σ = 1, s).
BG_CPUS = (500, 1000, 2000, 4000)
BG_MEDIAN = 1800
BG_LIFE = BG_MEDIAN * math.exp(0.5)  # the lifetime's mean
BG_WORK = statistics.fmean(BG_CPUS) / 1000 * BG_LIFE  # cores × s of one pod, on average


class Workload(Protocol):
    """The simulation's input; see the module docstring."""

    pipelines: int
    cpu: list[int]
    mem: list[int]
    size: list[int]
    median: list[float]
    ci_rate: float
    ci_work: float

    def next_run(self) -> tuple[float, int, float] | None: ...

    def next_background(self) -> tuple[float, Pod, float] | None: ...

    def initial_background(self) -> list[tuple[Pod, float]]: ...

    def scale(self, factor: float) -> None: ...


class Synthetic:
    """Pipelines (Zipf popularity, requests, lognormal run times, cache sizes), arrivals."""

    def __init__(self, p):
        rng = random.Random(p.seed * 7919 + 1)
        weights = [1 / (r + 1) ** p.zipf for r in range(p.pipelines)]
        self.pipelines = p.pipelines
        self.cumulative = _cumulative(weights)
        self.cpu = [rng.choices((1000, 2000, 4000), (4, 4, 2))[0] for _ in weights]
        self.mem = [c * rng.choice((2, 4)) * GIB // 1000 for c in self.cpu]
        self.median = [60 * math.exp(rng.uniform(math.log(3), math.log(30))) for _ in weights]
        self.size = [min(8 * GIB, max(100, int(1.5 * GIB * math.exp(rng.gauss(0, 0.8)))))
                     for _ in weights]
        self.sigma = 0.6
        total = sum(weights)
        self.ci_work = sum(w / total * c / 1000 * m * math.exp(self.sigma ** 2 / 2)
                           for w, c, m in zip(weights, self.cpu, self.median))
        capacity = p.nodes * p.cpu
        # First guess: the target share as cold work; the simulation corrects it.
        self.ci_rate = p.util * (1 - p.background) * capacity / self.ci_work
        self.bg_rate = p.util * p.background * capacity / BG_WORK
        self.capacity = capacity
        self.rng, self.bg_rng = random.Random(p.seed * 104729 + 3), random.Random(p.seed * 15485863)
        self.seed = p.seed

    def offered(self) -> float:
        """Offered load: cold CI work plus background work, as a share of the cluster's CPU."""
        return (self.ci_rate * self.ci_work + self.bg_rate * BG_WORK) / self.capacity

    def scale(self, factor: float) -> None:
        """Multiply the CI arrival rate."""
        self.ci_rate *= factor

    def next_run(self) -> tuple[float, int, float]:
        """(gap, pipeline, cold run time) of the next CI run."""
        pipeline = _pick(self.cumulative, self.rng.random())
        base = self.median[pipeline] * math.exp(self.rng.gauss(0, self.sigma))
        return self.rng.expovariate(self.ci_rate), pipeline, base

    def next_background(self) -> tuple[float, Pod, float]:
        """(gap, pod, lifetime) of the next non-CI pod."""
        r = self.bg_rng
        gap, pod = r.expovariate(self.bg_rate), _background_pod(r)  # this order: the seeds
        return gap, pod, BG_MEDIAN * math.exp(r.gauss(0, 1.0))

    def initial_background(self) -> list[tuple[Pod, float]]:
        """The non-CI pods running at a random moment of the steady state.

        Their number is arrival rate × mean lifetime (Little's law; the Poisson spread of
        it left out); a pod seen running is picked in proportion to its lifetime (the
        lognormal's length-biased form has log-mean μ + σ²), and has a uniform share of it
        left.
        """
        r = random.Random(self.seed * 15485863 + 1)
        return [(_background_pod(r), r.random() * BG_MEDIAN * math.exp(r.gauss(1.0, 1.0)))
                for _ in range(round(self.bg_rate * BG_LIFE))]


class Trace:
    """Executions exported by ``jenkins-sidecar history export``, replayed in trigger order.

    A run recorded as a cache hit ran warm, so its cold run time is taken as
    ``duration / (1 - saving)``; runs without a duration (never started) are skipped.
    There are no background pods: the trace holds only the sidecar's own runs.
    """

    def __init__(self, path: str, saving: float):
        with open(path, encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        rows = sorted((r for r in rows if r.get("durationSeconds")), key=lambda r: _time(r))
        names = sorted({r["pipeline"] for r in rows})
        index = {name: i for i, name in enumerate(names)}
        self.pipelines = len(names)
        self.cpu = [1000] * self.pipelines
        self.mem = [2 * GIB] * self.pipelines
        self.size = [DEFAULT_SIZE] * self.pipelines
        runs: dict[int, list[float]] = {}
        self.runs, last = [], None
        for r in rows:
            i, at = index[r["pipeline"]], _time(r)
            cold = r["durationSeconds"] / (1 - saving if r.get("cacheHit") else 1)
            requests = r.get("requests") or {}
            self.cpu[i] = int(requests.get("cpuMillis") or self.cpu[i])
            self.mem[i] = int((requests.get("memoryBytes") or self.mem[i] * 2 ** 20) // 2 ** 20)
            runs.setdefault(i, []).append(cold)
            self.runs.append((0.0 if last is None else max(0.0, at - last), i, cold))
            last = at
        self.median = [statistics.median(runs.get(i, [60.0])) for i in range(self.pipelines)]
        span = sum(gap for gap, _, _ in self.runs)
        self.ci_rate = len(self.runs) / span if span else 0.0
        self.ci_work = statistics.fmean(self.cpu[i] / 1000 * cold
                                        for _, i, cold in self.runs) if self.runs else 0.0
        self.recorded_hit = (sum(bool(r.get("cacheHit")) for r in rows) / len(rows)) if rows else 0
        self._next = 0

    def __len__(self) -> int:
        return len(self.runs)

    def scale(self, factor: float) -> None:
        """A replay keeps its recorded arrivals."""

    def next_run(self) -> tuple[float, int, float] | None:
        """The next recorded run, or None after the last."""
        if self._next >= len(self.runs):
            return None
        self._next += 1
        return self.runs[self._next - 1]

    def next_background(self) -> None:
        """No background pods in a trace."""
        return None

    def initial_background(self) -> list:
        """No background pods in a trace."""
        return []


def _background_pod(r: random.Random) -> Pod:
    cpu = r.choice(BG_CPUS)
    return Pod(cpu=cpu, mem=cpu * r.choice((1, 2, 4, 8)) * GIB // 1000)


def _time(row: dict) -> float:
    return datetime.fromisoformat(row["triggeredAt"].replace("Z", "+00:00")).timestamp()


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
