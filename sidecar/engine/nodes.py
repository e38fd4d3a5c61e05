"""Where agent pods run: the execution history behind node affinity, and lost pods.

One pod listing per cycle (all agent pods of the namespace, by label) serves every
running execution. The first node seen for an execution is recorded (ScheduledInfo),
so the pipeline's next render prefers it. A pod of the run's current agent scope that
was listed and has been gone for longer than the grace period, while Jenkins still
reports the build running, fails its execution: otherwise it would hold the project's
quota forever. A pod waiting for a node (an autoscaler adding one) is there, not lost;
one that failed (evicted, deleted by its node) is gone. An approval ends the agent
scope: the pod is deleted while the run waits, and the next scope's pod is new, so the
run is judged again only once that pod has been listed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar.kube import AgentPod
from sidecar.render.naming import label_value
from sidecar.services import executions
from sidecar.store.models import Execution, utcnow

PRESENT = ("Pending", "Running", "Unknown")
"""Pod phases of a pod that is there: waiting for a node or its containers, running, or
on a node that stopped reporting (the node controller decides about those)."""


def record_nodes(session: Session, pods: list[AgentPod], *, grace: timedelta,
                 now: datetime | None = None) -> list[Execution]:
    """Record nodes of running executions; returns the ones failed for a lost pod."""
    now = now or utcnow()
    active = session.scalars(select(Execution).where(
        Execution.state.in_(("Building", "Pending")), Execution.jenkins_build.is_not(None))).all()
    by_label = {label_value(execution.id): execution for execution in active}
    seen = set()
    for pod in pods:
        execution = by_label.get(pod.execution_label)
        if execution is None:
            continue
        if pod.node_name:
            executions.record_node(session, execution, pod.node_name, "kubernetes")
        if pod.phase in PRESENT:
            seen.add(execution.id)
            execution.pod_missing_since = None
            execution.agent_pod_seen = execution.state == "Building"
    return [execution for execution in active
            if execution.id not in seen and _lost(execution, grace, now)]


def _lost(execution: Execution, grace: timedelta, now: datetime) -> bool:
    if execution.state != "Building":  # an approval: no pod expected, a new one after it
        execution.pod_missing_since, execution.agent_pod_seen = None, False
        return False
    if not execution.agent_pod_seen:  # only a pod seen in this scope can be lost
        return False
    if execution.pod_missing_since is None:
        execution.pod_missing_since = now
        return False
    since = execution.pod_missing_since
    if since.tzinfo is None:  # SQLite returns naive datetimes
        since = since.replace(tzinfo=now.tzinfo)
    if now - since < grace:
        return False
    executions.finish(execution, "Failed", "the agent pod disappeared")
    return True
