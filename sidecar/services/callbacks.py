"""Callbacks from builds, each authenticated by its own execution's token.

A token is made when an execution starts, handed to its Jenkins build as a password
parameter, and only its SHA-256 is stored; it is checked in constant time. A token
opens nothing but reports about its own execution.

A step report (start or end) changes no state: it asks the engine to look at the run in
Jenkins at its next cycle (``Execution.pushes``), and an end keeps it looking until
Jenkins shows that end (``StepState.end_reported``). Jenkins stays the only source of
states, so a build cannot report itself into a state it is not in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import update
from sqlalchemy.orm import Session

from sidecar.errors import SidecarError
from sidecar.services import executions
from sidecar.services.pipelines import NotFound
from sidecar.store.models import END_STATES, Execution, StepState

STEP_EVENTS = ("start", "end")
INDEX_LIMIT = 2**31  # beyond any column's range


class Unauthorized(SidecarError):
    """The callback's token does not belong to the execution."""


def new_token(execution: Execution) -> str:
    """A fresh token for the execution; the store keeps only its hash."""
    token = secrets.token_urlsafe(32)
    execution.callback_token_hash = _digest(token)
    return token


def report_node(session: Session, execution_id: str, token: str, node_name: str,
                cache_slot: int | None = None) -> bool:
    """Record the node an execution's pod runs on, and the cache slot it claimed there.

    False if both were known already (the node may come first from reading the pod).
    """
    execution = authorized(session, execution_id, token)
    if execution.state in END_STATES:
        return False
    recorded = executions.record_node(session, execution, node_name, "callback")
    if cache_slot is not None and execution.cache_slot is None:
        execution.cache_slot = cache_slot
        recorded = True
    return recorded


def report_step(session: Session, execution_id: str, token: str, key: tuple[int, int],
                event: str) -> bool:
    """A step of the build started or ended; False once the execution has ended.

    :raise NotFound: the execution has no such step.
    """
    execution = authorized(session, execution_id, token)
    in_range = all(0 <= index < INDEX_LIMIT for index in key)
    if event not in STEP_EVENTS or not in_range or \
            session.get(StepState, (execution.id, *key)) is None:
        raise NotFound(f"execution {execution_id} has no step {key[0]}-{key[1]} "
                       f"or no event {event!r}")
    if execution.state in END_STATES:
        return False
    # Plain UPDATEs: the engine may be writing the same rows; neither may undo the other.
    session.execute(update(Execution).where(Execution.id == execution.id)
                    .values(pushes=Execution.pushes + 1)
                    .execution_options(synchronize_session=False))
    if event == "end":
        session.execute(update(StepState).where(
            StepState.execution_id == execution.id, StepState.stage_index == key[0],
            StepState.step_index == key[1]).values(end_reported=True)
            .execution_options(synchronize_session=False))
    return True


def authorized(session: Session, execution_id: str, token: str) -> Execution:
    """The execution whose token this is. :raise Unauthorized: any other token or id"""
    execution = session.get(Execution, execution_id)
    expected = execution.callback_token_hash if execution is not None else ""
    # Compare even for unknown executions, so timing does not tell which ids exist.
    if not hmac.compare_digest(_digest(token), expected or _digest("")) or not expected:
        raise Unauthorized("invalid callback token")
    return executions.get(session, execution_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
