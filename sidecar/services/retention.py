"""Retention: the pipeline's ``discarder`` (or the project's default) applied to the store.

Jenkins discards its own builds by the job's ``BuildDiscarderProperty`` (rendered into
config.xml); this applies the same policy to the sidecar's executions and everything that
hangs off them (step states, archived logs, approvals, node history, and any table added
later with a foreign key to ``executions.id``, found from the models' metadata).

The policy of a pipeline is read from its newest execution's config snapshot — the config
as it was last built — falling back to the pipeline's inline config, then to the project's
``numToKeep``/``daysToKeep`` settings. Only finished executions are ever removed. Deletion
goes in small batches, each its own short transaction, so API readers and the engine are
never blocked for long; a reader that loses the race gets the 404 of a discarded run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from sidecar import config
from sidecar.errors import SidecarError
from sidecar.services.projects import project_settings
from sidecar.store import Store
from sidecar.store.models import END_STATES, Base, Execution, Pipeline, WebhookDelivery

log = logging.getLogger(__name__)

BATCH = 200
"""Executions removed per transaction: short enough that nobody waits on the lock."""
VACUUM_AFTER = 1000
"""On PostgreSQL, a sweep that removed this many executions vacuums their tables."""


@dataclass(frozen=True)
class Policy:
    """How many finished runs to keep, and for how long; 0 means no limit."""

    num_to_keep: int = 0
    days_to_keep: int = 0

    @property
    def keeps_all(self) -> bool:
        """True when nothing is ever discarded."""
        return not self.num_to_keep and not self.days_to_keep


@dataclass
class SweepReport:
    """What one sweep removed."""

    executions: int = 0
    deliveries: int = 0


def policy_of(session: Session, pipeline: Pipeline) -> Policy:
    """The pipeline's discarder as last built, else its inline config's, else the project's."""
    newest = session.scalar(select(Execution.config_snapshot)
                            .where(Execution.pipeline_id == pipeline.id,
                                   Execution.config_snapshot != "")
                            .order_by(Execution.run.desc()).limit(1))
    for source in (newest, pipeline.inline_config):
        discarder = _discarder(source) if source else None
        if discarder is not None:
            return Policy(discarder.num_to_keep or 0, discarder.days_to_keep or 0)
    settings = project_settings(session, pipeline.project)
    return Policy(settings.num_to_keep, settings.days_to_keep)


def _discarder(text: str):
    try:
        return config.parse_pipeline(text, "config").discarder
    except SidecarError:  # an invalid config never ran; the next source decides
        return None


def doomed(session: Session, pipeline_id: str, policy: Policy, now: datetime,
           limit: int = BATCH) -> list[str]:
    """Ids of up to ``limit`` finished executions of a pipeline that the policy discards."""
    if policy.keeps_all:
        return []
    finished = select(Execution.id).where(Execution.pipeline_id == pipeline_id,
                                          Execution.state.in_(END_STATES))
    found: dict[str, None] = {}  # ordered and without repeats
    if policy.num_to_keep:
        # Beyond the newest N finished runs; running ones never count against the N.
        found.update(dict.fromkeys(session.scalars(
            finished.order_by(Execution.run.desc()).offset(policy.num_to_keep).limit(limit))))
    if policy.days_to_keep and len(found) < limit:
        cutoff = now - timedelta(days=policy.days_to_keep)
        found.update(dict.fromkeys(session.scalars(
            finished.where(Execution.ended_at < cutoff).order_by(Execution.run).limit(limit))))
    return list(found)[:limit]


def discard(session: Session, execution_ids: list[str]) -> int:
    """Delete executions and every row that refers to them."""
    if not execution_ids:
        return 0
    for table in _dependants():
        column = next(c for c in table.columns
                      if any(fk.column is Execution.__table__.c.id for fk in c.foreign_keys))
        session.execute(delete(table).where(column.in_(execution_ids)))
    session.execute(delete(Execution).where(Execution.id.in_(execution_ids)))
    return len(execution_ids)


def _dependants():
    # Children before parents: reversed dependency order of every table that points at
    # executions.id.
    return [t for t in reversed(Base.metadata.sorted_tables)
            if any(fk.column is Execution.__table__.c.id
                   for c in t.columns for fk in c.foreign_keys)]


def _reclaim(store: Store) -> None:
    # PostgreSQL's autovacuum wakes once a minute and waits for a fifth of a table to be
    # dead; after a large sweep the space is made reusable now. Plain VACUUM takes no lock
    # that readers or writers wait for; SQLite reuses freed pages by itself.
    if store.engine.dialect.name != "postgresql":
        return
    tables = ", ".join(t.name for t in [*_dependants(), Execution.__table__])
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM (ANALYZE) {tables}"))


def sweep(store: Store, now: datetime, *, delivery_days: int = 30,
          batch: int = BATCH) -> SweepReport:
    """Apply every pipeline's policy, a batch per transaction; prune old webhook deliveries."""
    report = SweepReport()
    with store.session() as session:
        pipelines = session.scalars(select(Pipeline)).all()
        policies = {p.id: policy_of(session, p) for p in pipelines}
    for pipeline_id, policy in policies.items():
        while True:
            with store.session() as session:
                removed = discard(session, doomed(session, pipeline_id, policy, now, batch))
            report.executions += removed
            if removed < batch:
                break
    if report.executions >= VACUUM_AFTER:
        _reclaim(store)
    with store.session() as session:
        # A redelivery comes within minutes or hours; a month of ids is plenty to dedupe.
        report.deliveries = session.execute(delete(WebhookDelivery).where(
            WebhookDelivery.received_at < now - timedelta(days=delivery_days))).rowcount
    if report.executions or report.deliveries:
        log.info("retention removed %d executions and %d webhook deliveries",
                 report.executions, report.deliveries)
    return report
