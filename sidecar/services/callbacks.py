"""Callbacks from builds, each authenticated by its own execution's token.

A token is made when an execution starts, handed to its Jenkins build as a password
parameter, and only its SHA-256 is stored; it is checked in constant time. A token
opens nothing but reports about its own execution.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.orm import Session

from sidecar.errors import SidecarError
from sidecar.services import executions
from sidecar.store.models import END_STATES, Execution


class Unauthorized(SidecarError):
    """The callback's token does not belong to the execution."""


def new_token(execution: Execution) -> str:
    """A fresh token for the execution; the store keeps only its hash."""
    token = secrets.token_urlsafe(32)
    execution.callback_token_hash = _digest(token)
    return token


def report_node(session: Session, execution_id: str, token: str, node_name: str) -> bool:
    """Record the node an execution's pod runs on; False if it was known already."""
    execution = _authorized(session, execution_id, token)
    if execution.state in END_STATES:
        return False
    return executions.record_node(session, execution, node_name, "callback")


def _authorized(session: Session, execution_id: str, token: str) -> Execution:
    execution = session.get(Execution, execution_id)
    expected = execution.callback_token_hash if execution is not None else ""
    # Compare even for unknown executions, so timing does not tell which ids exist.
    if not hmac.compare_digest(_digest(token), expected or _digest("")) or not expected:
        raise Unauthorized("invalid callback token")
    return executions.get(session, execution_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
