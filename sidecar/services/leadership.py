"""Who runs the engine, as the API reports it: the lease and this replica's heartbeat."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sidecar.store.models import EngineHeartbeat, LeaderLease, utcnow

LEASE = "engine"


def engine_status(session: Session, instance: str, stale_after: float) -> tuple[dict, bool]:
    """(the engine block of /readyz, whether this replica's engine beat recently).

    instance: this replica's name in the lease; empty when no engine runs beside this
    process (then only the lease is shown and nothing can be stale).
    """
    lease = session.get(LeaderLease, LEASE)
    beat = session.get(EngineHeartbeat, instance) if instance else None
    # The lease is timed by PostgreSQL's clock there (`sidecar.engine.leader`).
    now = session.scalar(select(func.clock_timestamp())) \
        if session.get_bind().dialect.name == "postgresql" else utcnow()
    fresh = not instance or (beat is not None and
                             now - beat.beat_at <= timedelta(seconds=stale_after))
    block = {
        "leader": lease.holder if lease is not None and lease.expires_at > now else None,
        "epoch": lease.epoch if lease is not None else None,
        "heartbeatAt": _iso(lease.renewed_at) if lease is not None else None,
        "instance": instance or None,
        "instanceHeartbeatAt": _iso(beat.beat_at) if beat is not None else None,
        "instanceLeading": bool(beat.leading) if beat is not None else None,
    }
    return block, fresh


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")
