"""Exactly one active engine among replicas (DESIGN §11).

PostgreSQL: a lease row with a fencing epoch. Acquiring takes an expired lease and adds
one to its epoch; the leader renews it every cycle. Every transaction the engine commits
first proves, in that transaction, that the lease still names this holder and epoch and
has not expired (`FencedStore`); a lease row read ``FOR SHARE`` also keeps a taker
waiting until that commit is done. So an engine that was paused past its TTL (GC, SIGSTOP,
a frozen VM) and wakes after another took over writes nothing: it raises `LostLeadership`
and stops. Times are the database's (``clock_timestamp()``), never a replica's clock.

SQLite: one engine per database file, by an OS lock on a file beside it; a second
engine waits for it. The lease row is still written, so /readyz shows who leads.

Kubernetes (``SIDECAR_LEADER_ELECTION=kubernetes``): a `coordination.k8s.io` Lease
decides who leads (`sidecar.kube.lease`, visible to ``kubectl get lease``); the database
lease above still fences every write. Its holder takes the database lease over without
waiting for it to expire — the Lease already proved the former holder silent for a TTL —
and a former holder that was paused meanwhile fails its next fence.
"""

from __future__ import annotations

import fcntl
import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from sidecar.kube.lease import LeaseLock
from sidecar.store import Store
from sidecar.store.models import EngineHeartbeat, LeaderLease, utcnow

log = logging.getLogger(__name__)
LEASE = "engine"


class LostLeadership(BaseException):
    """This engine no longer leads: it must stop at once and write nothing more.

    A BaseException, so the engine's per-execution ``except Exception`` (one bad execution
    never stalls the others) cannot swallow it.
    """


class Lease:
    """What every kind of leadership offers the engine process."""

    def __init__(self, store: Store, holder: str, ttl: float):
        self._store, self.holder, self.ttl = store, holder, ttl
        self.epoch: int | None = None
        self._lost = False

    def acquire(self, take_over: bool = False) -> bool:
        """Try once to become the leader; True when this engine leads now.

        take_over: another election already chose this engine, so take an unexpired
        database lease too (its holder's next fence fails).
        """
        raise NotImplementedError

    def renew(self) -> None:
        """Extend the lease; raises LostLeadership when another holds it or it expired."""
        raise NotImplementedError

    def fence(self, session: Session) -> None:
        """Inside a transaction about to commit: raise LostLeadership unless still leading."""
        raise NotImplementedError

    def release(self) -> None:
        """Give the lease up (a clean stop): a standby takes over at once."""
        raise NotImplementedError

    def check(self) -> None:
        """Prove leadership in a transaction of its own (before each write to Jenkins)."""
        with self._store.session() as session:
            self.fence(session)

    def lost(self, why: str) -> LostLeadership:
        """Remember that leadership is gone; every later fence fails at once."""
        self._lost = True
        return LostLeadership(f"{self.holder} lost the lead (epoch {self.epoch}): {why}")

    def beat(self, leading: bool) -> None:
        """Record that this replica's engine is alive (/readyz reads it)."""
        with self._store.session() as session:
            session.merge(EngineHeartbeat(holder=self.holder, leading=leading, beat_at=utcnow()))


class PostgresLease(Lease):
    """A lease row with a fencing epoch, timed by the database's clock."""

    def acquire(self, take_over: bool = False) -> bool:
        """Take the lease if it is free or expired (or take_over); the epoch grows by one."""
        with self._store.session() as session:
            epoch = session.execute(text(
                "INSERT INTO leader_lease (name, holder, epoch, expires_at, renewed_at) "
                "VALUES (:name, :holder, 1, clock_timestamp() + make_interval(secs => :ttl), "
                "clock_timestamp()) "
                "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
                "epoch = leader_lease.epoch + 1, expires_at = EXCLUDED.expires_at, "
                "renewed_at = EXCLUDED.renewed_at "
                "WHERE :take_over OR leader_lease.expires_at < clock_timestamp() "
                "RETURNING epoch"),
                {"name": LEASE, "holder": self.holder, "ttl": self.ttl,
                 "take_over": take_over}).scalar()
        if epoch is None:
            return False
        self.epoch = epoch
        return True

    def renew(self) -> None:
        """Push the expiry TTL seconds ahead, if the lease is still ours and alive."""
        if self._lost:
            raise self.lost("it was lost earlier")
        with self._store.session() as session:
            renewed = session.execute(text(
                "UPDATE leader_lease SET expires_at = clock_timestamp() + "
                "make_interval(secs => :ttl), renewed_at = clock_timestamp() "
                "WHERE name = :name AND holder = :holder AND epoch = :epoch "
                "AND expires_at > clock_timestamp()"),
                {"name": LEASE, "holder": self.holder, "epoch": self.epoch,
                 "ttl": self.ttl}).rowcount
        if not renewed:
            raise self.lost("the lease expired or another replica holds it")

    def fence(self, session: Session) -> None:
        """The lease row, read FOR SHARE: ours, same epoch, not expired — or stop."""
        if self._lost:
            raise self.lost("it was lost earlier")
        held = session.execute(text(
            "SELECT 1 FROM leader_lease WHERE name = :name AND holder = :holder "
            "AND epoch = :epoch AND expires_at > clock_timestamp() FOR SHARE"),
            {"name": LEASE, "holder": self.holder, "epoch": self.epoch}).first()
        if held is None:
            raise self.lost("the lease expired or another replica holds it")

    def release(self) -> None:
        """Expire the lease now, if it is still ours."""
        if self._lost or self.epoch is None:
            return
        with self._store.session() as session:
            session.execute(text(
                "UPDATE leader_lease SET expires_at = clock_timestamp() "
                "WHERE name = :name AND holder = :holder AND epoch = :epoch"),
                {"name": LEASE, "holder": self.holder, "epoch": self.epoch})


class FileLease(Lease):
    """SQLite: an exclusive OS lock on ``<database>.engine.lock``, held while the process lives."""

    def __init__(self, store: Store, holder: str, ttl: float, path: Path | None):
        super().__init__(store, holder, ttl)
        self._path, self._handle = path, None

    def acquire(self, take_over: bool = False) -> bool:
        """Take the file lock without waiting; record the lease row for /readyz."""
        if self._path is not None:
            handle = open(self._path, "a+b")  # noqa: SIM115 - held for the process's life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._handle = handle
        with self._store.session() as session:
            lease = session.get(LeaderLease, LEASE)
            self.epoch = (lease.epoch + 1) if lease else 1
            session.merge(LeaderLease(name=LEASE, holder=self.holder, epoch=self.epoch,
                                      expires_at=self._expiry(), renewed_at=utcnow()))
        return True

    def renew(self) -> None:
        """The OS lock cannot be lost while the process lives: only the row is refreshed."""
        if self._lost:
            raise self.lost("it was lost earlier")
        with self._store.session() as session:
            lease = session.get(LeaderLease, LEASE)
            if lease is None or lease.epoch != self.epoch:  # someone reset the database
                raise self.lost("the lease row changed")
            lease.expires_at, lease.renewed_at = self._expiry(), utcnow()

    def fence(self, session: Session) -> None:
        """Nothing to check in the database: the file lock is ours until we exit."""
        if self._lost:
            raise self.lost("it was lost earlier")

    def release(self) -> None:
        """Mark the row expired and drop the file lock."""
        if self.epoch is not None and not self._lost:
            with self._store.session() as session:
                lease = session.get(LeaderLease, LEASE)
                if lease is not None and lease.epoch == self.epoch:
                    lease.expires_at = utcnow()
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the lock
            self._handle = None

    def _expiry(self):
        return utcnow() + timedelta(seconds=self.ttl)


class KubeLease(Lease):
    """A Kubernetes Lease elects the leader; the database's lease fences its writes."""

    def __init__(self, fencing: Lease, lock: LeaseLock):
        super().__init__(fencing._store, fencing.holder, fencing.ttl)
        self._fencing, self._lock = fencing, lock

    def acquire(self, take_over: bool = False) -> bool:
        """Hold the Kubernetes Lease, then take the database lease over."""
        if not self._lock.acquire() or not self._fencing.acquire(take_over=True):
            return False
        self.epoch = self._fencing.epoch
        return True

    def renew(self) -> None:
        """Renew both; losing either one loses the lead."""
        if self._lost:
            raise self.lost("it was lost earlier")
        self._fencing.renew()
        if not self._lock.renew():
            raise self.lost("the Kubernetes Lease names another holder")

    def fence(self, session: Session) -> None:
        """The database lease's proof, in the committing transaction."""
        if self._lost:
            raise self.lost("it was lost earlier")
        self._fencing.fence(session)

    def release(self) -> None:
        """Give both up, the database lease first (no write can follow)."""
        if self._lost:
            return
        self._fencing.release()
        self._lock.release()


def lease_for(store: Store, holder: str, ttl: float, lock: LeaseLock | None = None) -> Lease:
    """The leadership that fits the database: a fenced lease row, or a file lock.

    lock: a Kubernetes Lease that elects instead, the database's lease still fencing.
    """
    if store.engine.dialect.name == "postgresql":
        fencing: Lease = PostgresLease(store, holder, ttl)
    else:
        fencing = FileLease(store, holder, ttl, store.lock_path("engine"))
    return KubeLease(fencing, lock) if lock is not None else fencing
