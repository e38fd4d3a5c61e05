"""One engine leads; a former leader can neither write nor call Jenkins (DESIGN §11).

We test this aspect on each database, driving the leases directly (expiry is forced in
the database, so nothing here waits for a clock):

- PostgreSQL: a second holder gets the lease only once it expired, with the next epoch;
  the former holder's transactions then fail with LostLeadership and leave nothing
  behind, its renewals fail, and its Jenkins writes are refused before they are sent;
- PostgreSQL: a leader frozen after its fence, before its commit, keeps the lease row
  locked; the server ends its session, so a standby still takes over;
- SQLite: one engine per database file; a second waits until the first lets go;
- /readyz fails while this replica's engine is silent and names the leader once it beats.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy import select, text

from sidecar.app import create_app
from sidecar.engine.fence import FencedJenkins, FencedStore
from sidecar.engine.leader import FileLease, LostLeadership, PostgresLease, lease_for
from sidecar.store import Store
from sidecar.store.models import Setting

TTL = 30.0


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    store.migrate()
    yield store
    store.dispose()


class RecordingJenkins:
    def __init__(self):
        self.calls = []

    def trigger(self, name, parameters):
        self.calls.append(("trigger", name))
        return 1

    def run_state(self, name, number):
        self.calls.append(("run_state", name))


def _expire(store: Store) -> None:
    with store.session() as session:
        session.execute(text("UPDATE leader_lease SET expires_at = renewed_at - "
                             "(expires_at - renewed_at)"))


def test_a_former_leader_writes_nothing_and_calls_no_jenkins(store, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the fenced lease is PostgreSQL's; SQLite has the file lock")
    first, second = (lease_for(store, name, TTL) for name in ("r1", "r2"))
    assert isinstance(first, PostgresLease)
    assert first.acquire() and first.epoch == 1
    assert not second.acquire()
    jenkins = RecordingJenkins()
    fenced_store, fenced_jenkins = FencedStore(store, first), FencedJenkins(jenkins, first)
    with fenced_store.session() as session:  # the leader writes
        session.add(Setting(project="p", name="kept", value="1"))
    fenced_jenkins.trigger("job", {})
    _expire(store)
    assert second.acquire() and second.epoch == 2
    with pytest.raises(LostLeadership), fenced_store.session() as session:
        session.add(Setting(project="p", name="lost", value="1"))
    with pytest.raises(LostLeadership):
        first.renew()
    with pytest.raises(LostLeadership):
        fenced_jenkins.trigger("job", {})
    fenced_jenkins.run_state("job", 1)  # reads are not fenced
    assert jenkins.calls == [("trigger", "job"), ("run_state", "job")]
    with store.session() as session:
        assert session.scalars(select(Setting.name)).all() == ["kept"]
    second.renew()
    second.release()  # a clean stop: the next takes over at once
    third = lease_for(store, "r3", TTL)
    assert third.acquire() and third.epoch >= 3


def test_a_leader_frozen_inside_its_fence_does_not_block_a_standby(store, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the fenced lease is PostgreSQL's; SQLite has the file lock")
    frozen_store = Store(database_url, idle_transaction_timeout=1.0)
    try:
        first, second = lease_for(frozen_store, "r1", TTL), lease_for(store, "r2", TTL)
        assert first.acquire()
        _expire(store)  # the pause outlasts the lease…
        frozen = frozen_store.engine.connect()
        frozen.begin()
        frozen.execute(text("SELECT 1 FROM leader_lease FOR SHARE"))  # …after its fence
        taken = []
        taker = threading.Thread(target=lambda: taken.append(second.acquire()), daemon=True)
        taker.start()
        taker.join(60)  # a bound, not a wait: the server frees the row after 1 s
        assert taken == [True] and second.epoch == 2
        with pytest.raises(DBAPIError):  # the woken leader's session is gone
            frozen.execute(text("SELECT 1"))
        frozen.close()
    finally:
        frozen_store.dispose()


def test_one_engine_per_sqlite_file(store, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the file lock is SQLite's")
    first, second = (lease_for(store, name, TTL) for name in ("r1", "r2"))
    assert isinstance(first, FileLease)
    assert first.acquire() and not second.acquire()
    first.renew()
    first.release()
    assert second.acquire() and second.epoch == 2
    second.release()


def test_readiness_follows_this_replicas_engine(database_url):
    app = create_app({"TESTING": True, "database_url": database_url, "instance_id": "r1",
                      "jenkins_url": "http://127.0.0.1:9", "jenkins_token": "t" * 20,
                      "jenkins_timeout": 0.5})
    store = app.extensions["sidecar"].store
    try:
        client = app.test_client()
        silent = client.get("/readyz")
        assert silent.status_code == 503 and "no heartbeat" in silent.json["engine"]["problem"]
        lease = lease_for(store, "r1", TTL)
        assert lease.acquire()
        lease.beat(leading=True)
        ready = client.get("/readyz")
        assert ready.status_code == 200
        engine = ready.json["engine"]
        assert (engine["leader"], engine["epoch"], engine["instanceLeading"]) == ("r1", 1, True)
        assert engine["heartbeatAt"].endswith("Z")
        lease.release()
    finally:
        store.dispose()
