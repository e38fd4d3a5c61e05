"""The families that describe the database, read when Prometheus scrapes.

Counts of rows by state are the database's to tell: every worker and every replica
answers the same, with no process keeping a gauge in step with writes it did not make.
Each scrape costs four small queries (two GROUP BYs on indexed columns, two MIN/COUNTs).
Summing them across replicas counts each row once per replica: chart them with ``max``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from sidecar.store import Store, StoreError
from sidecar.store.models import (EXECUTION_STATES, Approval, Execution, NotificationDelivery,
                                  utcnow)

log = logging.getLogger(__name__)
FOLLOWED = ("Building", "Pending")
OUTBOX_STATES = ("Queued", "Sent", "Failed")


class DatabaseState(Collector):
    """Executions by state, approvals pending and their oldest age, sync lag, the outbox."""

    def __init__(self, store: Store):
        self._store = store

    def collect(self):
        """Read the database; nothing (and a warning) when it cannot be read."""
        try:
            with self._store.session() as session:
                now = utcnow()
                executions = dict(session.execute(select(
                    Execution.state, func.count()).group_by(Execution.state)).all())
                pending, oldest = session.execute(select(
                    func.count(), func.min(Approval.created_at))
                    .where(Approval.state == "Pending")).one()
                stalest = session.scalar(select(
                    func.min(func.coalesce(Execution.detailed_at, Execution.started_at)))
                    .where(Execution.state.in_(FOLLOWED),
                           Execution.jenkins_queue_id.is_not(None)))
                outbox = dict(session.execute(select(
                    NotificationDelivery.state, func.count())
                    .group_by(NotificationDelivery.state)).all())
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("metrics: cannot read the database: %s", exc)
            return
        yield _by_label("sidecar_executions", "Executions by state (from the database)",
                        "state", EXECUTION_STATES, executions)
        yield GaugeMetricFamily("sidecar_approvals_pending", "Approvals waiting for a decision",
                                value=pending or 0)
        yield GaugeMetricFamily("sidecar_approval_oldest_pending_seconds",
                                "How long the oldest pending approval has waited",
                                value=_age(oldest, now))
        yield GaugeMetricFamily("sidecar_sync_lag_seconds",
                                "How long ago the least recently read running build was "
                                "read from Jenkins", value=_age(stalest, now))
        yield _by_label("sidecar_notification_outbox",
                        "Notification deliveries in the outbox, by state", "state",
                        OUTBOX_STATES, outbox)


def _by_label(name: str, doc: str, label: str, known: tuple[str, ...],
              counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for value in (*known, *sorted(set(counts) - set(known))):
        family.add_metric([value], counts.get(value, 0))
    return family


def _age(since, now: datetime) -> float:
    if since is None:
        return 0.0
    if isinstance(since, str):  # SQLite hands an aggregate of a datetime back as text
        since = datetime.fromisoformat(since)
    if since.tzinfo is None:
        since = since.replace(tzinfo=now.tzinfo)
    return max((now - since).total_seconds(), 0.0)
