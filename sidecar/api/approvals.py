"""Native API for approvals: list, read, decide (DESIGN §8).

A decision is stored first, then sent to Jenkins at once when the sidecar has a Jenkins;
if Jenkins cannot take it now, the engine loop keeps delivering it (``delivered`` in the
answer says which happened).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sidecar.api.auth import current_principal
from sidecar.api.context import caller_session, json_body, sidecar
from sidecar.errors import ConfigError, Problem
from sidecar.services import approvals, bounded, delivery

bp = Blueprint("approvals", __name__, url_prefix="/api/v1")
_DECISION_FIELDS = {"approve", "parameters", "comment"}


@bp.get("/approvals")
def list_approvals():
    """Approvals, newest first (?state=, ?pipeline=, ?limit=). :raise 400: bad filter"""
    state, limit = request.args.get("state"), request.args.get("limit", "100")
    problems = []
    if state and state not in approvals.STATES:
        problems.append(Problem(f"state must be one of {', '.join(approvals.STATES)}"))
    if not bounded.digits(limit) or not 0 < int(limit) <= 1000:
        problems.append(Problem("limit must be a number from 1 to 1000"))
    if problems:
        raise ConfigError(problems)
    with caller_session() as session:
        found = approvals.listing(session, state=state, limit=int(limit),
                                  pipeline_id=request.args.get("pipeline"))
        return jsonify([approvals.view(session, a, _public_url()) for a in found])


@bp.get("/approvals/<int:approval_id>")
def get_approval(approval_id: int):
    """One approval with its decision. :raise 404:"""
    with caller_session() as session:
        return jsonify(approvals.view(session, approvals.get(session, approval_id),
                                      _public_url()))


@bp.post("/approvals/<int:approval_id>/decision")
def decide(approval_id: int):
    """{approve, parameters?, comment?}. :raise 400, 403: not a submitter; 404; 409: decided"""
    body = json_body()
    problems = [Problem(f"unknown field '{k}'") for k in sorted(set(body) - _DECISION_FIELDS)]
    if not isinstance(body.get("approve"), bool):
        problems.append(Problem("approve must be true or false"))
    if not isinstance(body.get("parameters", {}), dict):
        problems.append(Problem("parameters must be an object"))
    if not isinstance(body.get("comment", ""), str):
        problems.append(Problem("comment must be a string"))
    if problems:
        raise ConfigError(problems)
    with caller_session() as session:
        approvals.decide(session, approval_id, current_principal(), approve=body["approve"],
                         parameters=body.get("parameters", {}),
                         comment=body.get("comment", ""))
    deliver_now(approval_id)
    with caller_session() as session:
        return jsonify(approvals.view(session, approvals.get(session, approval_id),
                                      _public_url()))


def deliver_now(approval_id: int) -> None:
    """One delivery attempt right after a decision; the engine loop retries a failure."""
    jenkins = sidecar().jenkins
    if jenkins is not None:
        delivery.deliver(sidecar().store, jenkins, approval_id)


def _public_url() -> str:
    return sidecar().settings.public_url or request.host_url.rstrip("/")
