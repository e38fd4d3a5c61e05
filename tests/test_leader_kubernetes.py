"""Leader election on a Kubernetes Lease, fenced by the database (DESIGN §11).

We test this aspect against the fake Kubernetes API (the Lease API's optimistic
concurrency included) with a candidate clock the test moves, so nothing waits:

- the first candidate creates the Lease; another takes it only once it stayed unchanged
  for its duration on the taker's own clock — a renewal restarts that count;
- the taker then takes the database lease over at once, with the next epoch, and the
  former holder's transactions and renewals fail (fencing);
- a candidate that loses the write race (409) does not lead; a clean release lets the
  next candidate lead at once; the leader's own two renewers (cycle loop and thread)
  never make it lose the race to itself;
- bad election settings are refused at start.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone

import pytest

from fakes.kubernetes import FakeKubernetes
from sidecar.engine.fence import FencedStore
from sidecar.engine.leader import KubeLease, LostLeadership, lease_for
from sidecar.errors import ConfigError
from sidecar.kube import KubeError
from sidecar.kube.lease import LeaseLock, _micro_time
from sidecar.settings import settings_from
from sidecar.store import Store
from sidecar.store.models import Setting

TTL = 30.0
KEY = ("jenkins", "jenkins-sidecar-engine")
# metav1.MicroTime as the API server parses it: RFC 3339 with exactly six fraction digits.
MICRO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|\+00:00)")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kube():
    with FakeKubernetes() as fake:
        yield fake


def candidate(store: Store, kube: FakeKubernetes, holder: str, clock: Clock) -> KubeLease:
    lock = LeaseLock(namespace=KEY[0], name=KEY[1], holder=holder, ttl=TTL, host=kube.url,
                     clock=clock)
    lease = lease_for(store, holder, TTL, lock)
    assert isinstance(lease, KubeLease)
    return lease


def spec(kube: FakeKubernetes) -> dict:
    return kube.leases[KEY]["spec"]


def test_the_lease_elects_and_the_database_fences(store, database_url, kube):
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share PostgreSQL; SQLite allows one engine per file")
    clock = Clock()
    first, second = candidate(store, kube, "r1", clock), candidate(store, kube, "r2", clock)
    assert first.acquire() and first.epoch == 1
    created = spec(kube)
    assert (created["holderIdentity"], created["leaseDurationSeconds"],
            created["leaseTransitions"]) == ("r1", 30, 0)
    assert MICRO_TIME.fullmatch(created["renewTime"]) and MICRO_TIME.fullmatch(
        created["acquireTime"])

    assert not second.acquire()  # first sight of this version starts the taker's count
    clock.now += 20
    first.renew()  # a renewal writes a new version: the count starts again
    clock.now += 20
    assert not second.acquire()
    assert spec(kube)["holderIdentity"] == "r1"

    fenced = FencedStore(store, first)
    with fenced.session() as session:
        session.add(Setting(project="p", name="kept", value="1"))
    clock.now += TTL  # the leader went silent for a whole duration
    assert second.acquire() and second.epoch == 2  # the database lease had not expired
    assert (spec(kube)["holderIdentity"], spec(kube)["leaseTransitions"]) == ("r2", 1)
    with pytest.raises(LostLeadership), fenced.session() as session:
        session.add(Setting(project="p", name="lost", value="1"))
    with pytest.raises(LostLeadership):
        first.renew()
    with store.session() as session:
        assert [s.name for s in session.query(Setting)] == ["kept"]

    second.renew()
    second.release()  # a clean stop: the next leads at once
    assert spec(kube)["holderIdentity"] == ""
    third = candidate(store, kube, "r3", clock)
    assert third.acquire() and third.epoch == 3
    assert spec(kube)["leaseTransitions"] == 2


def test_a_candidate_that_loses_the_write_race_does_not_lead(store, kube):
    clock = Clock()
    kube.put_lease(*KEY, {"holderIdentity": "gone", "leaseDurationSeconds": 30,
                          "leaseTransitions": 4})
    taker = candidate(store, kube, "r1", clock)
    assert not taker.acquire()
    clock.now += TTL

    def rival_writes_first():
        kube.before_write = None
        kube.put_lease(*KEY, {"holderIdentity": "rival", "leaseDurationSeconds": 30,
                              "leaseTransitions": 5})
    kube.before_write = rival_writes_first
    assert not taker.acquire()  # the API server answered 409 Conflict
    assert spec(kube)["holderIdentity"] == "rival"
    assert kube.request_counts[f"PUT /apis/coordination.k8s.io/v1/namespaces/{KEY[0]}"
                               f"/leases/{KEY[1]}"] == 1


def test_renewals_from_the_loop_and_the_renewer_thread_never_lose_the_lead(kube):
    lock = LeaseLock(namespace=KEY[0], name=KEY[1], holder="r1", ttl=TTL, host=kube.url)
    assert lock.acquire()
    outcomes = []

    def renew_many():
        outcomes.extend(lock.renew() for _ in range(40))
    threads = [threading.Thread(target=renew_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [True] * 80
    assert spec(kube)["holderIdentity"] == "r1"


def test_the_kubernetes_api_refusing_is_an_error_not_a_lead(store, kube):
    kube.failure = 403
    lease = candidate(store, kube, "r1", Clock())
    with pytest.raises(KubeError, match="403"):
        lease.acquire()
    assert lease.epoch is None


def test_a_whole_second_is_written_as_micro_time():
    from kubernetes.client import ApiClient, V1LeaseSpec
    whole = datetime(2026, 12, 3, 13, 0, 0, tzinfo=timezone.utc)
    written = ApiClient().sanitize_for_serialization(V1LeaseSpec(renew_time=_micro_time(whole)))
    assert MICRO_TIME.fullmatch(written["renewTime"])


@pytest.mark.parametrize("values, message", [
    ({"SIDECAR_LEADER_ELECTION": "zookeeper"}, "must be database or kubernetes"),
    ({"SIDECAR_LEADER_ELECTION": "kubernetes", "SIDECAR_KUBERNETES_API": "off"},
     "needs the Kubernetes API"),
    ({"SIDECAR_LEADER_ELECTION": "kubernetes", "SIDECAR_LEADER_LEASE": "Jenkins/engine"},
     "must be namespace/name"),
    ({"SIDECAR_LEADER_ELECTION": "kubernetes", "SIDECAR_LEADER_LEASE": "engine"},
     "must be namespace/name"),
])
def test_bad_election_settings_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        settings_from(values)
