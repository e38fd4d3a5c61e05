"""The notification part of each engine cycle: send what the outbox holds, once.

A sender claims due rows in one short transaction — ``SELECT … FOR UPDATE SKIP LOCKED``
on PostgreSQL, so two senders never take the same row, and a conditional update on
both databases — by moving their next attempt a lease into the future. It then sends
outside any transaction (a small thread pool, each call bounded in time) and records
each result in another: Sent, or the error and the next attempt after an exponential
backoff, or Failed once the attempts are spent. A sender that dies mid-way leaves its
rows to be taken again when the lease ends.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import select, update

from sidecar.metrics import record
from sidecar.notify import NotifyError
from sidecar.notify.channels import Channel, Message, Sender
from sidecar.outbound import Client
from sidecar.notify.message import render
from sidecar.services import notifiers
from sidecar.store import Store
from sidecar.store.models import Execution, NotificationDelivery, Notifier, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
FAILURE_CONDITIONS = ("Failed", "Regression", "Aborted")


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    attempts: int
    delivery_id: str
    notifier: str
    channel: Channel | None
    condition: str
    recipients: tuple[str, ...]
    fields: dict
    template: str


class NotificationWorker:
    """Sends due notifications from the outbox."""

    def __init__(self, *, store: Store, client: Client | None = None, public_url: str = "",
                 backoff: float = 30.0, lease: float = 300.0, batch: int = 50,
                 workers: int = 4):
        self._store, self._sender = store, Sender(client or Client())
        self._public_url = public_url.rstrip("/")
        self._backoff, self._lease = timedelta(seconds=backoff), timedelta(seconds=lease)
        self._batch, self._workers = batch, workers

    def cycle(self) -> int:
        """Claim, send and record the due deliveries; how many were sent."""
        claimed = self._claim()
        if not claimed:
            return 0
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            results = list(pool.map(self._send, claimed))
        self._record(claimed, results)
        return sum(1 for error, _ in results if error is None)

    def _claim(self) -> list[_Claimed]:
        now = utcnow()
        with self._store.session() as session:
            rows = session.execute(
                select(NotificationDelivery, Execution.project).join(Execution)
                .where(NotificationDelivery.state == "Queued",
                       NotificationDelivery.next_attempt_at <= now)
                .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
                .limit(self._batch)
                .with_for_update(skip_locked=True, of=NotificationDelivery)).all()
            claimed = []
            for row, project in rows:
                taken = session.execute(
                    update(NotificationDelivery)
                    .where(NotificationDelivery.id == row.id,
                           NotificationDelivery.state == "Queued",
                           NotificationDelivery.next_attempt_at == row.next_attempt_at)
                    .values(next_attempt_at=now + self._lease)
                    .execution_options(synchronize_session=False)).rowcount
                if taken:
                    notifier = session.get(Notifier, (project, row.notifier))
                    claimed.append(self._prepared(row, notifier))
        return claimed

    def _prepared(self, row: NotificationDelivery, notifier: Notifier | None) -> _Claimed:
        found = dict(row.fields)
        found["url"] = (f"{self._public_url}/api/v1/executions/{quote(row.execution_id)}"
                        if self._public_url else "")
        channel = notifiers.channel_of(notifier) if notifier is not None else None
        return _Claimed(row.id, row.attempts, row.delivery_id, row.notifier, channel,
                        row.condition, tuple(row.recipients), found, row.template)

    def _send(self, claimed: _Claimed) -> tuple[str | None, str]:
        """(delivery error or None, template error or '')."""
        text, template_error = render(claimed.template, claimed.fields)
        if claimed.channel is None:
            return f"the notifier {claimed.notifier!r} no longer exists", template_error
        payload = {"event": "notification", "deliveryId": claimed.delivery_id,
                   "notifier": claimed.notifier, "condition": claimed.condition,
                   "message": text, "recipients": list(claimed.recipients),
                   "execution": claimed.fields}
        title = f"{claimed.fields.get('pipeline')} #{claimed.fields.get('run')}: " \
                f"{claimed.condition}"
        message = Message(claimed.delivery_id, title, text, claimed.recipients, payload,
                          failure=claimed.condition in FAILURE_CONDITIONS)
        try:
            self._sender.send(claimed.channel, message)
            return None, template_error
        except NotifyError as exc:
            log.warning("notification %s to %s failed: %s", claimed.delivery_id,
                        claimed.notifier, exc)
            return str(exc), template_error

    def _record(self, claimed: list[_Claimed], results: list[tuple[str | None, str]]) -> None:
        now = utcnow()
        with self._store.session() as session:
            for item, (error, template_error) in zip(claimed, results):
                attempts = item.attempts + 1
                values = {"attempts": attempts, "last_error": error or "",
                          "template_error": template_error}
                if error is None:
                    values.update(state="Sent", sent_at=now)
                elif attempts >= MAX_ATTEMPTS or item.channel is None:
                    values.update(state="Failed")
                else:
                    values.update(next_attempt_at=now + min(
                        self._backoff * 2 ** (attempts - 1), MAX_BACKOFF))
                session.execute(update(NotificationDelivery)
                                .where(NotificationDelivery.id == item.row_id).values(**values)
                                .execution_options(synchronize_session=False))
                record.notification_attempt(session, str(values.get("state", "Retrying")).lower())
