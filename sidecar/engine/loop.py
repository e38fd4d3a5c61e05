"""The engine loop: admit under quota, start in Jenkins, follow to the end — one cycle at a time.

`Engine.cycle()` is the unit the tests drive directly; the engine process
(`sidecar.engine.process`) runs it every ``sync_interval`` seconds while it leads.
Everything it decides is in the database before it acts, so a restarted process, or
another replica's engine, carries on where the last one stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sidecar.config.templates import TemplateSet
from sidecar.engine.admission import admit
from sidecar.engine.approval_loop import ApprovalWorker
from sidecar.engine.follow import Follower
from sidecar.engine.isolation import Retries
from sidecar.engine.nodes import record_nodes
from sidecar.engine.notify_loop import NotificationWorker
from sidecar.engine.podsecurity import PodSecurityGate
from sidecar.engine.starter import Starter
from sidecar.engine.warmth import NodeRoom
from sidecar.jenkins import JenkinsClient, JenkinsError
from sidecar.kube import KubeError, PodLocator
from sidecar.metrics import record
from sidecar.notify import WebhookSender
from sidecar.outbound import Client
from sidecar.services import nodecaches, retention
from sidecar.store import Store
from sidecar.store.models import utcnow

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
                 retention_interval: float = 0.0, reconcile: float = 0.0,
                 retries: Retries | None = None, clock: Callable[[], datetime] = utcnow,
                 outbound: Client | None = None, cache_root: str = ""):
        """reconcile: seconds between two looks at a run nothing announced a change of
        (`sidecar.engine.follow`); 0 looks at every run every cycle.
        retries: how an execution that fails unexpectedly is retried, then failed.
        clock: what following takes for now (simulations run many cycles at once).
        outbound: the guarded client notifications are sent through.
        cache_root: the operator's root every project's cacheDir must be in."""
        self._store, self._jenkins, self._interval = store, jenkins, interval
        self._pods, self._pod_lost_grace = pods, timedelta(seconds=pod_lost_grace)
        self._cycles = 0
        self._retention_interval, self._swept_at = retention_interval, float("-inf")
        self._retries = retries = retries or Retries(backoff=interval)
        gate = PodSecurityGate(pods, pods.namespace) if pods else None
        self._starter = Starter(store=store, jenkins=jenkins, templates=templates,
                                queue_wait=queue_wait, callback_url=callback_url,
                                pod_security=gate, workers=start_workers, retries=retries,
                                cache_root=cache_root)
        self._follower = Follower(store=store, jenkins=jenkins, reconcile=reconcile,
                                  interval=interval, retries=retries, clock=clock)
        self._approvals = ApprovalWorker(store=store, jenkins=jenkins, notifier=notifier,
                                         public_url=public_url, notify_backoff=notify_backoff)
        self._notifications = NotificationWorker(store=store, client=outbound,
                                                 public_url=public_url, backoff=notify_backoff)

    def cycle(self) -> CycleReport:
        """Admit, start and follow once."""
        began = time.perf_counter()
        report = self._cycle()
        record.sync_cycle(time.perf_counter() - began)
        return report

    def _cycle(self) -> CycleReport:
        report = CycleReport()
        # Node room is read at most once per cycle, and only if a hold or the scored
        # window of a start needs it.
        room = NodeRoom(self._pods) if self._pods else None
        with self._store.session() as session:
            admitted = set(admit(session, room=room, retries=self._retries))
        report.started = self._starter.start_claimed(admitted, room)
        report.followed = self._follower.cycle()
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
