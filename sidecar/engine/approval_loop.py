"""The approval work of each engine cycle: deliver decisions, enforce timeouts, notify.

Every HTTP call here (to Jenkins or to the process centre) happens outside a database
transaction: what to do is read in one short session, the call is made, the result is
written in another. Notifications go out in a small thread pool with a short timeout,
so a slow receiver delays no execution's sync; each approval gets a bounded number of
attempts with exponential backoff (``notify_attempts``, ``notified_at``).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select, update

from sidecar.engine.admission import ACTIVE
from sidecar.jenkins import JenkinsClient
from sidecar.metrics import record
from sidecar.notify import NotifyError, WebhookSender
from sidecar.render.naming import job_name
from sidecar.services import approvals
from sidecar.services.delivery import DECIDED, deliver
from sidecar.store import Store
from sidecar.store.models import END_STATES, Approval, Execution, utcnow

log = logging.getLogger(__name__)

MAX_NOTIFY_ATTEMPTS = 8
MAX_REFUSALS = 20
"""Refusals other than outages; an outage is retried for as long as the run waits."""


class ApprovalWorker:
    """Runs the approval part of an engine cycle."""

    def __init__(self, *, store: Store, jenkins: JenkinsClient,
                 notifier: WebhookSender | None = None, public_url: str = "",
                 notify_backoff: float = 5.0, delivery_grace: float = 60.0,
                 workers: int = 4):
        self._store, self._jenkins, self._notifier = store, jenkins, notifier
        self._public_url = public_url.rstrip("/")
        self._backoff = timedelta(seconds=notify_backoff)
        self._grace = timedelta(seconds=delivery_grace)
        self._workers = workers

    def cycle(self) -> None:
        """Close orphans, time out, deliver, notify."""
        self._close_orphans()
        for approval_id in self._time_out():
            deliver(self._store, self._jenkins, approval_id)
        for approval_id in self._undelivered():
            deliver(self._store, self._jenkins, approval_id)
        if self._notifier is not None:
            self._notify()

    def _close_orphans(self) -> None:
        # A run that ended outside sync's view (stopped, its build or pod lost).
        with self._store.session() as session:
            for approval in session.scalars(select(Approval).join(Execution).where(
                    Approval.state == "Pending", Execution.state.in_(END_STATES))):
                approval.state, approval.decided_at = "Cancelled", utcnow()
                record.approval_ended(approval, "Cancelled", approval.decided_at)
                approval.decision = {"approve": False, "parameters": {}, "via": "sidecar",
                                     "comment": "the run ended before a decision",
                                     "deliveredAt": utcnow().isoformat(),
                                     "deliveryAttempts": 0, "deliveryError": None}

    def _time_out(self) -> list[int]:
        with self._store.session() as session:
            due = {a.id: a for a in self._waiting(session) if approvals.expired(a)}
            timed_out = []
            for approval_id, approval in due.items():
                decision = {"approve": False, "parameters": {}, "via": "timeout",
                            "comment": "the approval timed out", "deliveredAt": None,
                            "deliveryAttempts": 0, "deliveryError": None}
                changed = session.execute(
                    update(Approval).where(Approval.id == approval_id,
                                           Approval.state == "Pending")
                    .values(state="TimedOut", decided_at=utcnow(), decision=decision)
                    .execution_options(synchronize_session=False)).rowcount
                if changed:
                    timed_out.append(approval_id)
                    record.approval_ended(approval, "TimedOut", utcnow())
        return timed_out

    def _undelivered(self) -> list[int]:
        # A decision the API is delivering right now has no attempt yet and is young: skip
        # it, so the same answer is not sent twice at once.
        now = utcnow()
        with self._store.session() as session:
            found = session.scalars(select(Approval).join(Execution).where(
                Approval.state.in_(DECIDED), Execution.state.in_(ACTIVE))).all()
            return [a.id for a in found if not (a.decision or {}).get("deliveredAt") and
                    int((a.decision or {}).get("deliveryRefusals") or 0) < MAX_REFUSALS
                    and ((a.decision or {}).get("deliveryAttempts") or a.state == "TimedOut" or
                         _older(a.decided_at, now, self._grace))]

    def _notify(self) -> None:
        now = utcnow()
        with self._store.session() as session:
            due = [(a.id, a.notify_attempts, approvals.view(session, a, self._public_url))
                   for a in self._waiting(session)
                   if a.notified_at is None and a.notify_attempts < MAX_NOTIFY_ATTEMPTS
                   and _older(a.created_at, now, self._backoff * (2 ** a.notify_attempts - 1))]
        if not due:
            return
        for view in (v for _, _, v in due):
            view["links"]["blueOcean"] = self._blue_ocean_link(view)
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            results = list(pool.map(self._send, [view for _, _, view in due]))
        with self._store.session() as session:
            for (approval_id, attempts, _), sent in zip(due, results):
                session.execute(update(Approval).where(Approval.id == approval_id).values(
                    notify_attempts=attempts + 1, notified_at=utcnow() if sent else None)
                    .execution_options(synchronize_session=False))

    def _send(self, view: dict) -> bool:
        try:
            self._notifier.send("approval.pending", f"approval-{view['id']}", view)
            return True
        except NotifyError as exc:
            log.warning("could not notify about approval %s: %s", view["id"], exc)
            return False

    def _blue_ocean_link(self, view: dict) -> str:
        pipeline = quote(job_name(view["pipelineId"]), safe="")
        return (f"{self._public_url}/blue/rest/organizations/jenkins/pipelines/{pipeline}"
                f"/runs/{view['run']}/steps/step-{view['stage']}-{view['step']}/")

    @staticmethod
    def _waiting(session) -> list[Approval]:
        return list(session.scalars(select(Approval).join(Execution).where(
            Approval.state == "Pending", Execution.state.in_(ACTIVE))))


def _older(moment: datetime | None, now: datetime, age: timedelta) -> bool:
    if moment is None:
        return True
    if moment.tzinfo is None:  # SQLite returns naive datetimes
        moment = moment.replace(tzinfo=now.tzinfo)
    return now - moment >= age
