"""The scheduler simulation's sanity, on a tiny cluster (the figures live in the README).

We test: one seed gives the same figures twice and another seed different ones; on a
small cluster with more caches than fit on one node, the warm scheme hits more often
than no affinity; kube-scheduler's node sampling scores 100 of 200 nodes and rotates
where it starts; the measured requested CPU lands near the target load and is reported
with the offered load; no cache's in-use count goes below zero or stays raised after
the runs end; the target load is met also on a cluster big enough that the warm-up
lasts little simulated time (the rate correction once overshot there by half); a pod
claims the free slot of its pipeline used last on its node, else the lowest free one,
and slot numbers are per node; waits are summarised overall, per pod size and without
the hold (the pod's own wait); a bin-packing profile puts an agent on the fuller node,
and the background keeps spreading; a held run's pod is created when the hold ends.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cache_sim  # noqa: E402
import sim_run  # noqa: E402

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


def test_requested_load_is_met_and_in_use_counts_balance():
    sim = cache_sim.Simulation(cache_sim.Params(**{**TINY, "util": 0.8}, mode="slot"))
    figures = sim.run()
    assert abs(figures["util"] - 0.8) < 0.1 and figures["offered"] > figures["util"]
    running = {}
    for _, _, kind, pod in sim.events:
        if kind == "end" and pod.counted:
            running[(pod.node.name, pod.counted)] = running.get((pod.node.name, pod.counted), 0) + 1
    for node in sim.cluster.nodes:
        for key, entry in node.caches.items():
            assert entry[2] == running.get((node.name, key), 0) >= 0


def test_requested_load_is_met_after_a_short_warm_up():
    # 80 nodes, 600 warm-up runs: long runs have not finished when the rate is first
    # corrected, and the background is at its level from the start.
    cells = [cache_sim.cell(cache_sim.Params(nodes=80, pipelines=200, runs=5000, warmup=600,
                                             util=0.6, scheme="none", budget_gib=8, seed=s))
             for s in (1, 2, 3)]
    assert abs(sum(c["util"] for c in cells) / 3 - 0.6) < 0.04


def test_slots_are_claimed_per_node_warmest_free_first():
    node = cache_sim.Node("n1", 16000, 65536)
    other = cache_sim.Node("n2", 16000, 65536)
    assert [sim_run.claim(node, 7) for _ in range(3)] == [0, 1, 2]
    assert sim_run.claim(other, 7) == 0  # slot numbers are per node
    node.caches = {(7, 0): [1, 10.0, 0], (7, 1): [1, 30.0, 0], (7, 2): [1, 20.0, 0]}
    node.locks = {7: set()}
    assert sim_run.claim(node, 7) == 1  # used last
    assert sim_run.claim(node, 7) == 2
    assert sim_run.claim(node, 7) == 0
    assert sim_run.claim(node, 7) == 3  # all busy: a new one


def test_waits_are_summarised_overall_and_per_pod_size():
    # (hit, pending s, time-to-finish s, ever warm, cpu m, pod pending s): two of four
    # runs waited; the one that waited 90 s was held for 80 of them.
    results = [(True, 0.0, 60.0, True, 1000, 0.0), (False, 30.0, 90.0, True, 1000, 30.0),
               (True, 0.0, 60.0, True, 4000, 0.0), (True, 90.0, 150.0, True, 4000, 10.0)]
    summary = sim_run.summarise(results)
    assert summary["pended"] == 0.5 and summary["mean_pending"] == 30.0
    assert summary["p95_by_cpu"] == {1000: 30.0, 4000: 90.0}
    assert summary["p95"] == 90.0 and summary["hit"] == 0.75
    assert summary["p95_pod"] == 30.0


def test_a_bin_packing_profile_fills_the_fuller_node_for_agents_only():
    for scoring, agent_goes_to in (("least", "n2"), ("most", "n1")):
        cluster = cache_sim.Cluster(cache_sim.Params(nodes=2, scoring=scoring),
                                    cache_sim.random.Random(1))
        cluster.nodes[0].free_cpu -= 8000  # n1 half full
        cluster.nodes[0].free_mem -= 32 * 1024
        cluster.nodes[0].name, cluster.nodes[1].name = "n1", "n2"
        agent = cache_sim.Pod(cpu=1000, mem=1024, pipeline=0)
        background = cache_sim.Pod(cpu=1000, mem=1024)
        assert cluster.schedule(agent).name == agent_goes_to
        assert cluster.schedule(background).name == "n2"


def test_the_pods_own_wait_starts_when_the_hold_ends():
    sim = cache_sim.Simulation(cache_sim.Params(**{**TINY, "util": 0.85}, scheme="warm+hold"))
    figures = sim.run()
    held = [r for r in sim.results if r[1] > r[5]]
    assert held and all(r[5] >= 0 for r in sim.results)
    assert figures["p95_pod"] <= figures["p95"]
