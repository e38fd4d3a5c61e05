"""Discrete-event simulation of kube-scheduler placing CI agent pods next to their caches.

Run: ``python benchmarks/cache_sim.py --nodes 20 --pipelines 100 --util 0.6,0.85``, or
``--trace FILE`` to replay what ``jenkins-sidecar history export`` wrote. It prints one
Markdown table per cache mode: requested and offered load, hit rate, the share of runs
whose pod waited at all (held or pending), mean, p50 and p95 of that wait, p95 of the
pod's own wait (from its creation, after any hold, to its bind), mean time-to-finish,
for each affinity scheme and load, averaged over the seeds.

Load (``--util``) is the share of the cluster's allocatable CPU that bound pods (CI and
background) request, averaged over the measured runs: background pods start at their
design share, and the CI arrival rate is corrected every 150 arrivals (Little's law,
from the warm share of the latest bound runs) so that CI requests the rest; "offered"
is the cold work the arrivals bring.

The scheduler model, with where each rule is written, is in ``sim_scheduler.py``; the
workloads in ``sim_workload.py``.

Caches: each node has a byte budget, evicted least-recently-used like the sidecar's
``cache gc``, which reports pruned directories (NodeCache rows) at once. A cache is warm
only after a run finished on that node. ``shared``: one directory per pipeline and node;
``slot``: one directory per (pipeline, slot) on each node — the pod claims, on the node
it lands on, the free slot used most recently (or a new one), as the claim container of
`sidecar.cache.slots` does with ``flock``. The schemes and the hold rule are the
product's own functions (`sidecar.cache.scheme`, `sidecar.cache.locality`).
"""

from __future__ import annotations

import argparse
import random  # noqa: F401  (tests seed the Cluster with it)
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sidecar.config.inputs import ProjectSettings  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_run import Simulation, summarise  # noqa: E402,F401
from sim_scheduler import Cluster, Node, Pod  # noqa: E402,F401
from sim_workload import Trace  # noqa: E402

SCHEMES = ("none", "seed", "pin", "warm", "warm+hold")


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
    """Requested CPU share of the cluster's allocatable CPU (CI and background pods)."""
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
    scoring: str = "least"
    """The agents' NodeResourcesFit scoring: 'least' (LeastAllocated, the default) or 'most'."""
    rights: bool = True
    """Whether the sidecar may read nodes and pods (so knows each node's free room)."""
    trace: str = ""
    """A `history export` file to replay instead of the synthetic workload."""


def cell(p: Params) -> dict:
    """One simulated cell (a picklable entry point for the process pool)."""
    return Simulation(p).run()


def table(params: list[Params], results: list[dict], seeds: int) -> str:
    """A Markdown table: one row per (scheme, rights, load), figures averaged over the seeds."""
    rows = ["| scheme | node/pod reads | requested cpu: target | requested cpu: measured "
            "| offered load | hit rate | ever warm | pending at all | mean pending "
            "| p50 pending | p95 pending | p95 pod pending | mean time-to-finish |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i in range(0, len(params), seeds):
        group, p = results[i:i + seeds], params[i]
        mean = {k: statistics.fmean(g[k] for g in group) for k in group[0] if k != "p95_by_cpu"}
        target = "replay" if p.trace else f"{p.util:.0%}"
        rows.append(f"| {p.scheme} | {'yes' if p.rights else 'no'} | {target} | "
                    f"{mean['util']:.1%} | {mean['offered']:.1%} | {mean['hit']:.1%} | "
                    f"{mean['ceiling']:.1%} | {mean['pended']:.1%} | "
                    f"{mean['mean_pending']:.0f} s | {mean['p50']:.0f} s | "
                    f"{mean['p95']:.0f} s | {mean['p95_pod']:.0f} s | {mean['ttf'] / 60:.1f} min |")
    return "\n".join(rows)


def table_by_cpu(params: list[Params], results: list[dict], seeds: int) -> str:
    """p95 pending of each pod size (CPU request), averaged over the seeds."""
    sizes = sorted({cpu for r in results for cpu in r["p95_by_cpu"]})
    rows = ["| scheme | node/pod reads | requested cpu: target | "
            + " | ".join(f"p95 pending, {cpu / 1000:g}-CPU pods" for cpu in sizes) + " |",
            "|---|---|---|" + "---|" * len(sizes)]
    for i in range(0, len(params), seeds):
        group, p = results[i:i + seeds], params[i]
        cells = [statistics.fmean(g["p95_by_cpu"].get(cpu, 0.0) for g in group) for cpu in sizes]
        rows.append(f"| {p.scheme} | {'yes' if p.rights else 'no'} | "
                    f"{'replay' if p.trace else f'{p.util:.0%}'} | "
                    + " | ".join(f"{c:.0f} s" for c in cells) + " |")
    return "\n".join(rows)


def grid(a: argparse.Namespace, mode: str) -> list[Params]:
    """Every cell of one cache mode, seeds innermost (rows of the table)."""
    base = Params(nodes=a.nodes, pipelines=a.pipelines, runs=a.runs, warmup=a.warmup,
                  mode=mode, budget_gib=a.budget_gib, saving=a.saving, hold=a.hold,
                  churn=a.churn, score_percentage=a.score_percentage, scoring=a.scoring,
                  trace=a.trace or "")
    rights = {"yes": (True,), "no": (False,), "both": (True, False)}[a.rights]
    cells = []
    for s in a.schemes.split(","):
        for r in rights if s == "warm+hold" else (True,):
            for u in a.util.split(","):
                cells += [replace(base, scheme=s, rights=r, util=float(u), seed=seed)
                          for seed in range(1, a.seeds + 1)]
    return cells


def main(argv: list[str] | None = None) -> None:
    """Run the grid of cells and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10_000, help="measured runs per cell")
    parser.add_argument("--warmup", type=int, default=3_000)
    parser.add_argument("--util", default="0.6,0.85",
                        help="requested CPU shares of the cluster (CI and background pods)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--mode", default="shared,slot")
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    parser.add_argument("--rights", choices=("yes", "no", "both"), default="both",
                        help="whether the hold may read nodes and pods (warm+hold rows)")
    parser.add_argument("--budget-gib", type=float, default=40)
    parser.add_argument("--saving", type=float, default=Params.saving,
                        help="share of run time a warm cache saves")
    parser.add_argument("--hold", type=float, default=Params.hold,
                        help="hold at most this fraction of the expected saving")
    parser.add_argument("--churn", type=float, default=0.0, help="node replacements per node-day")
    parser.add_argument("--score-percentage", type=int, default=0,
                        help="the cluster's percentageOfNodesToScore (0: adaptive default)")
    parser.add_argument("--scoring", choices=("least", "most"), default="least",
                        help="the agents' NodeResourcesFit scoring strategy (a profile)")
    parser.add_argument("--trace", help="replay a `jenkins-sidecar history export` file")
    parser.add_argument("--by-cpu", action="store_true",
                        help="also a table of p95 pending per pod size")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes; 1 runs the cells one after another")
    a = parser.parse_args(argv)
    if a.trace:
        a.seeds, a.util = 1, "0"
        print(f"recorded hit rate: {Trace(a.trace, a.saving).recorded_hit:.1%}")
    for mode in a.mode.split(","):
        cells = grid(a, mode)
        if a.workers > 1:
            with ProcessPoolExecutor(max_workers=a.workers) as pool:
                results = list(pool.map(cell, cells))
        else:
            results = [cell(c) for c in cells]
        scoring = ", agents on MostAllocated" if a.scoring == "most" else ""
        print(f"\n{mode} caches, {a.nodes} nodes, {a.pipelines} pipelines, {a.runs} runs, "
              f"mean of {a.seeds} seeds{scoring}\n", flush=True)
        print(table(cells, results, a.seeds), flush=True)
        if a.by_cpu:
            print("\n" + table_by_cpu(cells, results, a.seeds), flush=True)


if __name__ == "__main__":
    main()
