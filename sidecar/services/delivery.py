"""Deliver a recorded approval decision to Jenkins' input step.

Both the API (right after a decision, so the run goes on at once) and the engine (retrying
what failed) deliver; the ``deliveredAt`` mark in the decision makes a second delivery a
no-op, and Jenkins answers a decided input with 404, which also counts as delivered.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from sidecar.jenkins import JenkinsClient, JenkinsError, JenkinsNotFound, JenkinsUnavailable
from sidecar.services import approvals
from sidecar.store import Store
from sidecar.store.models import Approval, Execution, utcnow

log = logging.getLogger(__name__)

DECIDED = ("Approved", "Rejected", "TimedOut")


def deliver(store: Store, jenkins: JenkinsClient, approval_id: int) -> bool:
    """Send a recorded decision to Jenkins once; True when Jenkins has it (or needs it no more)."""
    with store.session() as session:
        approval = approvals.get(session, approval_id)
        decision = dict(approval.decision or {})
        if approval.state not in DECIDED or decision.get("deliveredAt"):
            return True
        execution = session.get(Execution, approval.execution_id)
        execution_id, job, build = execution.id, execution.jenkins_job, execution.jenkins_build
        input_id = approval.jenkins_input_id or approval.input_id
    error, done, refused = None, False, 0
    try:
        if decision.get("approve"):
            jenkins.proceed_input(job, build, input_id, decision.get("parameters") or {})
        else:
            jenkins.abort_input(job, build, input_id)
        done = True
    except JenkinsNotFound:
        done, error = True, "the input was no longer pending in Jenkins"
    except JenkinsError as exc:
        error, refused = str(exc), 0 if isinstance(exc, JenkinsUnavailable) else 1
        log.warning("could not deliver the decision on approval %s: %s", approval_id, exc)
    decision.update(deliveryAttempts=int(decision.get("deliveryAttempts") or 0) + 1,
                    deliveryRefusals=int(decision.get("deliveryRefusals") or 0) + refused,
                    deliveryError=error, deliveredAt=utcnow().isoformat() if done else None)
    with store.session() as session:
        session.execute(update(Approval).where(Approval.id == approval_id)
                        .values(decision=decision).execution_options(synchronize_session=False))
        if done:  # the run moves on in Jenkins: ask the engine to look (sidecar.engine.follow)
            session.execute(update(Execution).where(Execution.id == execution_id)
                            .values(pushes=Execution.pushes + 1)
                            .execution_options(synchronize_session=False))
    return done
