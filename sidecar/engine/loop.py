"""The engine loop: admit under quota, start in Jenkins, follow to the end — one cycle at a time.

`Engine.cycle()` is the unit the tests drive directly; `serve` runs it in a background
thread every ``sync_interval`` seconds. Everything it decides is in the database before
it acts, so a restarted process carries on where the last one stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from sidecar.config.templates import TemplateSet
from sidecar.engine.admission import ACTIVE, admit
from sidecar.engine.approval_loop import ApprovalWorker
from sidecar.engine.nodes import record_nodes
from sidecar.engine.notify_loop import NotificationWorker
from sidecar.engine.podsecurity import PodSecurityGate
from sidecar.engine.starter import Starter
from sidecar.engine.sync import sync_execution
from sidecar.engine.warmth import NodeRoom
from sidecar.jenkins import JenkinsClient, JenkinsError, JenkinsUnavailable
from sidecar.kube import KubeError, PodLocator
from sidecar.notify import WebhookSender
from sidecar.notify.guard import Client
from sidecar.services import executions, nodecaches, retention
from sidecar.store import Store
from sidecar.store.models import Execution, utcnow

log = logging.getLogger(__name__)
NODE_CHECK_CYCLES = 100  # the node list changes slowly; every ~5 minutes at 3 s per cycle


@dataclass
class CycleReport:
    """What one cycle did."""

    started: int = 0
    followed: int = 0


class Engine:
    """Drives executions through Jenkins."""

    def __init__(self, *, store: Store, jenkins: JenkinsClient, templates: TemplateSet,
                 interval: float = 3.0, queue_wait: float = 60.0, start_workers: int = 8,
                 pods: PodLocator | None = None, pod_lost_grace: float = 120.0,
                 callback_url: str = "", notifier: WebhookSender | None = None,
                 public_url: str = "", notify_backoff: float = 5.0,
                 retention_interval: float = 0.0, outbound: Client | None = None):
        self._store, self._jenkins, self._interval = store, jenkins, interval
        self._start_workers = start_workers
        self._pods, self._pod_lost_grace = pods, timedelta(seconds=pod_lost_grace)
        self._cycles = 0
        self._retention_interval, self._swept_at = retention_interval, float("-inf")
        gate = PodSecurityGate(pods, pods.namespace) if pods else None
        self._starter = Starter(store=store, jenkins=jenkins, templates=templates,
                                queue_wait=queue_wait, callback_url=callback_url,
                                pod_security=gate)
        self._approvals = ApprovalWorker(store=store, jenkins=jenkins, notifier=notifier,
                                         public_url=public_url, notify_backoff=notify_backoff)
        self._notifications = NotificationWorker(store=store, client=outbound,
                                                 public_url=public_url, backoff=notify_backoff)

    def cycle(self) -> CycleReport:
        """Admit, start and follow once."""
        report = CycleReport()
        with self._store.session() as session:
            # Node room is read at most once per cycle, and only if a hold could follow.
            admitted = set(admit(session, room=NodeRoom(self._pods) if self._pods else None))
            unstarted = session.scalars(select(Execution.id).where(
                Execution.state == "Building", Execution.jenkins_queue_id.is_(None))
                .order_by(Execution.started_at, Execution.run)).all()
        # Recovering starts go first, before any new start can rewrite a job's script.
        for execution_id in [i for i in unstarted if i not in admitted]:
            report.started += self._start(execution_id, recovering=True)
        fresh = [i for i in unstarted if i in admitted]
        if fresh:
            # Starts wait for Jenkins' queue; different pipelines need not wait in line.
            with ThreadPoolExecutor(max_workers=self._start_workers) as pool:
                report.started += sum(pool.map(
                    lambda i: self._start(i, recovering=False), fresh))
        with self._store.session() as session:
            followed = session.scalars(select(Execution.id).where(
                Execution.state.in_(ACTIVE), Execution.jenkins_queue_id.is_not(None))).all()
        for execution_id in followed:
            with self._store.session() as session:
                sync_execution(session, executions.get(session, execution_id), self._jenkins)
            report.followed += 1
        self._approvals.cycle()  # after sync: new approvals are notified in the same cycle
        self._notifications.cycle()
        self._sweep()
        if self._pods is not None:
            self._watch_pods()
            self._watch_nodes()
        return report

    def _sweep(self) -> None:
        """Every retention_interval seconds: discard what the retention policies say."""
        if not self._retention_interval or \
                time.monotonic() - self._swept_at < self._retention_interval:
            return
        self._swept_at = time.monotonic()
        retention.sweep(self._store, utcnow())

    def _watch_nodes(self) -> None:
        """Every NODE_CHECK_CYCLES cycles: caches of nodes that left the cluster are gone."""
        self._cycles += 1
        if self._cycles % NODE_CHECK_CYCLES != 1:
            return
        try:
            names = self._pods.node_names()
        except KubeError as exc:  # e.g. RBAC without `nodes: list`; caches stay as reported
            log.info("cannot list nodes: %s", exc)
            return
        with self._store.session() as session:
            gone = nodecaches.mark_departed(session, names)
        if gone:
            log.info("%d node caches are gone with their nodes", gone)

    def _watch_pods(self) -> None:
        try:
            pods = self._pods.agent_pods()
        except KubeError as exc:
            log.warning("cannot list agent pods: %s", exc)
            return
        with self._store.session() as session:
            lost = [(e.jenkins_job, e.jenkins_build)
                    for e in record_nodes(session, pods, grace=self._pod_lost_grace)]
        for job, build in lost:
            try:
                self._jenkins.stop(job, build)
            except JenkinsError as exc:
                log.warning("could not stop %s #%s after its pod was lost: %s", job, build, exc)

    def _start(self, execution_id: str, *, recovering: bool) -> int:
        try:
            self._starter.start(execution_id, recovering=recovering)
            return 1
        except JenkinsUnavailable as exc:
            log.warning("Jenkins unavailable; %s starts later: %s", execution_id, exc)
        except JenkinsError as exc:
            with self._store.session() as session:
                executions.finish(executions.get(session, execution_id), "Failed",
                                  f"Jenkins refused the run: {exc}")
        return 0

    def run(self, stop: threading.Event) -> None:
        """Cycle until stop is set; a failing cycle is logged and retried."""
        while not stop.is_set():
            try:
                self.cycle()
            except Exception:  # keep the loop alive; the next cycle retries from the database
                log.exception("engine cycle failed")
            stop.wait(self._interval)
