"""Affinity schemes: what the sidecar knows about warm caches becomes pod affinity.

We test: the warm scheme gives every node with a usable warm cache one term of weight
100 (deduplicated, newest first); a cache pruned by gc after its last finished run, a
node that left the cluster, or a node whose every warm slot is held by a running
execution is not preferred, and a run that finished after a prune makes the node warm
again; the seed scheme keeps its weights; pinning requires the newest warm node; the
render path (`cache.place`) uses the same functions and the busy slots; in a cluster
larger than kube-scheduler's scored sample, with node room known, the warm term comes
with a required window of 100 nodes — the warm ones and the roomiest others — that the
Kubernetes schemas accept.
"""

from __future__ import annotations

import kubernetes_validate

from sidecar import cache
from sidecar.cache.scheme import (SCORED, WarmCache, WarmKnowledge, affinity_for, describe,
                                  usable_nodes)
from sidecar.config import parse_pipeline
from sidecar.config.inputs import HistoryEntry, ProjectSettings, RenderContext

WARM = (WarmCache("n1", None, 30.0), WarmCache("n2", None, 20.0), WarmCache("n1", None, 10.0),
        WarmCache("n3", None, 5.0))


def _values(affinity):
    terms = affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    return [(t["weight"], t["preference"]["matchFields"][0]["values"]) for t in terms]


def test_warm_scheme_is_one_equal_term_for_every_warm_node():
    assert _values(affinity_for("warm", WarmKnowledge(warm=WARM))) == [(100, ["n1", "n2", "n3"])]
    assert affinity_for("warm", WarmKnowledge()) is None


def test_pruned_and_departed_nodes_are_dropped_until_warm_again():
    knowledge = WarmKnowledge(warm=WARM, pruned={("n2", None): 25.0, ("n1", None): 15.0},
                              nodes=frozenset({"n1", "n2"}))
    # n1 ran again (30) after its prune (15); n2 was pruned after its run; n3 left.
    assert usable_nodes(knowledge) == ("n1",)
    assert "n1" in describe("warm", knowledge)


def test_a_node_counts_while_one_of_its_warm_slots_is_free():
    warm = (WarmCache("n1", 0, 9.0), WarmCache("n2", 1, 8.0), WarmCache("n1", 2, 7.0))
    assert usable_nodes(WarmKnowledge(warm=warm, busy=frozenset({("n1", 0)}))) == ("n2", "n1")
    all_busy = frozenset({("n1", 0), ("n1", 2), ("n2", 1)})
    assert usable_nodes(WarmKnowledge(warm=warm, busy=all_busy)) == ()
    assert usable_nodes(WarmKnowledge(warm=warm, busy=all_busy), any_slot=True) == ("n1", "n2")
    assert "every warm slot is busy" in describe("warm", WarmKnowledge(warm=warm, busy=all_busy))
    # A slot busy on one node says nothing about the same slot number on another.
    assert usable_nodes(WarmKnowledge(warm=warm, busy=frozenset({("n2", 0)}))) == ("n1", "n2")


def test_seed_weights_and_pinning():
    knowledge = WarmKnowledge(warm=WARM, history=("n9", "n1", "n1"))
    assert _values(affinity_for("seed", knowledge)) == [(100, ["n9"]), (90, ["n1"]), (80, ["n1"])]
    required = affinity_for("pin", knowledge)["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert required == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                          "values": ["n1"]}]}]
    assert affinity_for("none", knowledge) is None


CONFIG = """
stages:
- name: Build
  cache: {enabled: true, paths: [/root/.gradle]}
  steps:
  - runScriptConfig: {image: gradle:8, shellScript: gradle build}
"""


def test_render_path_uses_the_scheme_and_the_busy_slots():
    pipeline, settings = parse_pipeline(CONFIG, "config"), ProjectSettings()
    context = RenderContext()
    assert cache.uses_slots(pipeline, context)
    history = (HistoryEntry("e-2", "n2"), HistoryEntry("e-1", "n1"))
    placement = cache.place(pipeline, context, settings, history)
    assert _values(placement.affinity) == [(100, ["n2", "n1"])]
    knowledge = WarmKnowledge(warm=(WarmCache("n1", 1, 2.0), WarmCache("n2", 0, 1.0)),
                              busy=frozenset({("n2", 0)}))
    assert _values(cache.place(pipeline, context, settings, history, knowledge).affinity) == [
        (100, ["n1"])]
    gone = WarmKnowledge(warm=knowledge.warm, busy=knowledge.busy, nodes=frozenset({"n2"}))
    assert cache.place(pipeline, context, settings, history, gone).affinity is None


def test_a_big_cluster_gets_a_window_that_kube_scheduler_scores_in_full():
    # 151 nodes by free CPU; the warm n2 is among them.
    roomy = tuple(f"m{i}" for i in range(75)) + ("n2",) + tuple(f"m{i}" for i in range(75, 150))
    affinity = affinity_for("warm", WarmKnowledge(warm=WARM, roomy=roomy))
    assert _values(affinity) == [(100, ["n1", "n2", "n3"])]  # the preference is unchanged
    required = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (term,) = required["nodeSelectorTerms"]
    window = term["matchFields"][0]["values"]
    assert len(window) == SCORED == len(set(window))
    # The warm nodes first, then the roomiest of the others (n2 is warm, so not again).
    assert window == ["n1", "n2", "n3"] + [f"m{i}" for i in range(97)]
    assert "the 97 nodes with the most room" in describe(
        "warm", WarmKnowledge(warm=WARM, roomy=roomy))
    assert "required" not in str(affinity_for("warm", WarmKnowledge(warm=WARM)))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "agent"},
           "spec": {"containers": [{"name": "jnlp", "image": "jenkins/inbound-agent"}],
                    "affinity": affinity}}
    kubernetes_validate.validate(pod, "1.34.0", strict=True)
