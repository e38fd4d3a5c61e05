"""Blue Ocean input submission: POST to a step of a run (reference/blueocean-api.md §1.7).

``{"id": <input id>, "parameters": [{"name": .., "value": ..}]}`` proceeds,
``{"id": .., "abort": true}`` rejects; success is 200 with an empty body, every refusal
a 400 with the Blue Ocean error body and Jenkins' message. As in Jenkins, the input id
selects the approval within the run; the node and step segments only have to be ids of
the run's steps (``step-<stage>-<step>``, a recorded Jenkins node id, or a flow node
number, which only Jenkins could check). A caller who is not a listed submitter gets
Jenkins' answer, 400 "You need to be … to submit this." (a read-only token: 403).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, request

from sidecar.api.approvals import deliver_now
from sidecar.api.auth import current_principal
from sidecar.api.context import caller_session
from sidecar.api.errors import envelope
from sidecar.errors import ConfigError
from sidecar.services import approvals, bounded
from sidecar.services.access import Forbidden
from sidecar.services.pipelines import Conflict, NotFound

bp = Blueprint("blueocean_input", __name__,
               url_prefix="/blue/rest/organizations/jenkins/pipelines/<pipeline>/runs/<run>")
JOB = re.compile(r"^sidecar\.([a-z0-9-]+)\.([a-z0-9-]+)$")
STEP_NAME = re.compile(r"^step-(\d+)-(\d+)$")


class _Refused(Exception):
    """A Blue Ocean 400 with a message."""


class _Missing(Exception):
    """No such run, node or step: 404."""


@bp.post("/nodes/<node>/steps/<step>/", strict_slashes=False)
def submit_node_step(pipeline: str, run: str, node: str, step: str):
    """Proceed or abort the run's input named by the body's id."""
    return _submit(pipeline, run, (node, step))


@bp.post("/steps/<step>/", strict_slashes=False)
def submit_step(pipeline: str, run: str, step: str):
    """Proceed or abort the run's input named by the body's id (run-level step URL)."""
    return _submit(pipeline, run, (step,))


def _submit(pipeline: str, run: str, segments: tuple[str, ...]):
    match = JOB.match(pipeline)
    number = int(run) if bounded.digits(run) and len(run) < 10 else None
    if match is None or number is None:
        return envelope(404, f"Pipeline {pipeline} run {run} not found")
    pipeline_id = f"{match[1]}:{match[2]}"
    try:
        body = _body()
        with caller_session() as session:
            approval = _approval(session, pipeline_id, number, segments, body["id"])
            approval_id, submitters = approval.id, list(approval.submitters)
            try:
                approvals.decide(session, approval_id, current_principal(), via="blueocean",
                                 approve=not body["abort"], parameters=body["parameters"],
                                 comment="")
            except Forbidden:
                raise _Refused(f"You need to be {','.join(submitters)} to submit this.") from None
    except _Refused as refusal:
        return envelope(400, str(refusal))
    except _Missing as missing:
        return envelope(404, str(missing))
    except NotFound as exc:  # the run has no such input
        return envelope(400, str(exc))
    except Conflict:
        return envelope(400, "This input has been already given")
    except ConfigError as exc:
        return envelope(400, "; ".join(p.message for p in exc.problems))
    deliver_now(approval_id)
    response = Response(status=200)  # Jenkins' HttpResponses.ok(): no body, no type
    del response.headers["Content-Type"]
    return response


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _Refused("the request body must be a JSON object")
    if not isinstance(body.get("id"), str) or not body["id"]:
        raise _Refused("id is required")
    abort = body.get("abort") is True
    given = body.get("parameters")
    if given is None and not abort:
        raise _Refused("parameters is required")
    if abort:  # Jenkins aborts without looking at parameters
        return {"id": body["id"], "abort": True, "parameters": {}}
    if not isinstance(given, list):
        raise _Refused("parameters must be an array")
    values = {}
    for item in given:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _Refused("name is required parameter element")
        values[item["name"]] = item.get("value")
    return {"id": body["id"], "abort": abort, "parameters": values}


def _approval(session, pipeline_id: str, run: int, segments: tuple[str, ...], input_id: str):
    try:
        execution = approvals.execution_of_run(session, pipeline_id, run)
    except NotFound as exc:
        raise _Missing(str(exc)) from None
    known = {s.jenkins_node_id for s in execution.steps if s.jenkins_node_id}
    known |= {f"step-{s.stage_index}-{s.step_index}" for s in execution.steps}
    for segment in segments:
        if segment not in known and not bounded.digits(segment):
            raise _Missing(f"run {run} of {pipeline_id} has no node or step {segment}")
    return approvals.for_input(session, execution, input_id)
