"""The engine process (`jenkins-sidecar engine`): stand by, lead, cycle, stop on a lost lead.

One per replica; `serve` starts it beside the API workers and restarts it when it exits.
Everything is created here, in the process that uses it (no state crosses a fork). A
standby only polls the lease and beats its heartbeat: it sends Jenkins nothing. The
leader renews the lease every cycle and from a small renewer thread, so a cycle longer
than the TTL (a slow Jenkins) keeps the lead — unless the cycle loop itself stalls.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sidecar import outbound
from sidecar.config.templates import load_templates
from sidecar.engine.fence import FencedJenkins, FencedStore
from sidecar.engine.leader import Lease, LostLeadership, lease_for
from sidecar.engine.loop import Engine
from sidecar.jenkins import client_from, status
from sidecar.kube import KubeError, PodLocator
from sidecar.kube.lease import LeaseLock
from sidecar.metrics import record
from sidecar.notify import WebhookSender
from sidecar.settings import ServiceSettings
from sidecar.store import Store

log = logging.getLogger(__name__)
EXIT_LOST = 3
"""Exit status after losing the lead; the supervisor starts a fresh standby."""
STALL_TTLS = 10
"""The renewer gives the lease up when the cycle loop made no progress for this many TTLs."""


def build_engine(settings: ServiceSettings, store, jenkins) -> Engine:
    """The engine with every part it has always had: sync, retries, approvals, notifications."""
    policy = outbound.policy_from(settings.outbound_allow)
    client = outbound.Client(policy)
    notifier = None
    if settings.approval_webhook_url:
        notifier = WebhookSender(url=settings.approval_webhook_url,
                                 secret=settings.approval_webhook_secret, client=client)
    templates = load_templates(settings.jenkinsfile_templates_dir or None,
                               settings.podtemplates_dir or None)
    return Engine(store=store, jenkins=jenkins, templates=templates,
                  interval=settings.sync_interval, pods=_pod_locator(settings),
                  reconcile=settings.sync_reconcile, callback_url=settings.callback_url,
                  pod_lost_grace=settings.pod_lost_grace, notifier=notifier,
                  public_url=settings.public_url,
                  retention_interval=settings.retention_interval, outbound=client,
                  cache_root=settings.cache_root)


def run(settings: ServiceSettings, holder: str, stop: threading.Event) -> int:
    """Stand by until this process leads, then cycle until stop is set or the lead is lost."""
    # A leader frozen between its fence (the lease row read FOR SHARE) and its commit
    # would keep every standby waiting on that row for ever, so the server ends a session
    # idle in a transaction this long: past the lease, and past any one Jenkins request
    # a sync makes inside its transaction.
    idle = 2 * max(settings.leader_ttl, settings.jenkins_timeout)
    store = Store(settings.database_url, idle_transaction_timeout=idle)
    lease = lease_for(store, holder, settings.leader_ttl, election_lock(settings, holder))
    jenkins = client_from(settings)
    try:
        if not _stand_by(lease, settings, stop):
            return 0
        log.info("engine %s leads (epoch %d); Jenkins: %s", holder, lease.epoch,
                 status(jenkins))
        engine = build_engine(settings, FencedStore(store, lease), FencedJenkins(jenkins, lease))
        return _lead(engine, lease, settings, stop)
    finally:
        jenkins.close()
        store.dispose()


def _stand_by(lease: Lease, settings: ServiceSettings, stop: threading.Event) -> bool:
    """Poll the lease until it is ours (True) or stop is set (False)."""
    poll = min(settings.leader_ttl / 3, settings.sync_interval)
    announced = False
    while not stop.is_set():
        try:
            if lease.acquire():
                return True
            if not announced:
                log.info("engine %s stands by: another replica leads", lease.holder)
                announced = True
            lease.beat(leading=False)
        except KubeError as exc:  # the Kubernetes API may be away or refuse; keep trying
            log.warning("engine %s cannot reach the Kubernetes Lease: %s", lease.holder, exc)
        except Exception:  # the database may be away for a while; keep trying
            log.exception("engine %s cannot reach the lease", lease.holder)
        stop.wait(poll)
    return False


def _lead(engine: Engine, lease: Lease, settings: ServiceSettings,
          stop: threading.Event) -> int:
    progress = _Progress()
    renewer = threading.Thread(target=_renew, args=(lease, settings.leader_ttl, stop, progress),
                               name="sidecar-lease", daemon=True)
    renewer.start()
    record.engine_leader(True)
    try:
        while not stop.is_set():
            progress.mark()
            try:
                lease.renew()
                lease.beat(leading=True)
                engine.cycle()
            except Exception:  # keep the loop alive; the next cycle retries from the database
                log.exception("engine cycle failed")  # (LostLeadership is no Exception)
            stop.wait(settings.sync_interval)
    except LostLeadership as exc:
        log.error("%s; this engine stops and writes nothing more", exc)
        return EXIT_LOST
    finally:
        progress.done = True
        record.engine_leader(False)
    lease.release()
    log.info("engine %s stopped and released the lead", lease.holder)
    return 0


@dataclass
class _Progress:
    at: float = 0.0
    done: bool = False

    def mark(self) -> None:
        self.at = time.monotonic()


def _renew(lease: Lease, ttl: float, stop: threading.Event, progress: _Progress) -> None:
    """Renew every third of the TTL while the cycle loop moves; a stalled loop lets go."""
    while not stop.wait(ttl / 3) and not progress.done:
        if time.monotonic() - progress.at > STALL_TTLS * ttl:
            log.error("engine %s made no progress for %d s: letting the lease expire",
                      lease.holder, STALL_TTLS * ttl)
            return
        try:
            lease.renew()
        except LostLeadership:
            return  # the cycle loop finds out at its next fence and stops
        except Exception:
            log.warning("engine %s could not renew its lease", lease.holder, exc_info=True)


def election_lock(settings: ServiceSettings, holder: str) -> LeaseLock | None:
    """The Kubernetes Lease that elects the leader, when the settings say so."""
    if settings.leader_election != "kubernetes":
        return None
    namespace, name = settings.leader_lease.split("/", 1)
    return LeaseLock(namespace=namespace, name=name, holder=holder, ttl=settings.leader_ttl,
                     host=settings.kubernetes_api or None,
                     token=settings.kubernetes_token or None)


def _pod_locator(settings: ServiceSettings) -> PodLocator | None:
    if settings.kubernetes_api == "off":
        return None
    try:
        return PodLocator(namespace=settings.agent_namespace,
                          host=settings.kubernetes_api or None,
                          token=settings.kubernetes_token or None)
    except KubeError as exc:
        log.warning("node history off: %s", exc)
        return None
