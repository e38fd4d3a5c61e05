"""The scheduler simulation's sanity, on a tiny cluster (the figures live in the README).

We test: one seed gives the same figures twice and another seed different ones; on a
small cluster with more caches than fit on one node, the warm scheme hits more often
than no affinity; kube-scheduler's node sampling scores 100 of 200 nodes and rotates
where it starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cache_sim  # noqa: E402

TINY = dict(nodes=6, pipelines=30, runs=600, warmup=300, util=0.6, budget_gib=8)


def test_deterministic_per_seed():
    first = cache_sim.cell(cache_sim.Params(**TINY, seed=3))
    assert first == cache_sim.cell(cache_sim.Params(**TINY, seed=3))
    assert first != cache_sim.cell(cache_sim.Params(**TINY, seed=4))


def test_warm_scheme_beats_no_affinity():
    for mode in ("shared", "slot"):
        none = cache_sim.cell(cache_sim.Params(**TINY, mode=mode, scheme="none"))
        warm = cache_sim.cell(cache_sim.Params(**TINY, mode=mode, scheme="warm"))
        assert warm["hit"] > none["hit"] + 0.1


def test_big_clusters_score_a_rotating_sample():
    params = cache_sim.Params(nodes=200, pipelines=10)
    cluster = cache_sim.Cluster(params, cache_sim.random.Random(1))
    pod = cache_sim.Pod(cpu=1000, mem=1024)
    assert len(cluster._sample(pod)) == 100 and cluster.start == 100
    assert cluster._sample(pod)[0].name == "node-100" and cluster.start == 0
