"""Approvals: the list, one approval with its parameters, and the decision.

The decision goes through ``services.approvals.decide`` like the API's, so the submitter
rule, the one-decision rule and the audit fields are the service's; then one delivery to
Jenkins is tried at once and the engine retries it if Jenkins cannot take it now.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from sidecar.errors import ConfigError
from sidecar.services import approvals, delivery, executions
from sidecar.services.access import Forbidden
from sidecar.services.pipelines import Conflict
from sidecar.ui import views
from sidecar.ui.base import bp, principal, require_visible, require_write, sidecar

MAX_COMMENT = 4000


@bp.get("/approvals")
def approvals_list():
    """Approvals of the visible projects, newest first; ?state= filters (default Pending)."""
    state = request.args.get("state", "Pending")
    if state not in (*approvals.STATES, ""):
        state = "Pending"
    with sidecar().store.session() as session:
        found = views.approvals_page(session, principal(), state)
        return render_template("ui/approvals.html", rows=found, state=state,
                               states=approvals.STATES)


@bp.get("/approvals/<int:approval_id>")
def approval(approval_id: int):
    """One approval: message, parameters, who may decide, the decision form or the decision."""
    with sidecar().store.session() as session:
        return _page(session, approval_id)


@bp.post("/approvals/<int:approval_id>/decision")
def decide(approval_id: int):
    """Approve or reject with a comment; the service refuses non-submitters (403)."""
    require_write()
    approve = request.form.get("decision") == "approve"
    comment = request.form.get("comment", "")[:MAX_COMMENT]
    try:
        with sidecar().store.session() as session:
            found = _visible(session, approval_id)
            values = views.parameter_values(found.parameters or [], request.form) \
                if approve else {}
            approvals.decide(session, approval_id, principal(), approve=approve,
                             parameters=values, comment=comment, via="ui")
    except (Forbidden, Conflict, ConfigError) as exc:
        status = 403 if isinstance(exc, Forbidden) else 409 if isinstance(exc, Conflict) else 400
        with sidecar().store.session() as session:
            return _page(session, approval_id, error=exc, form=request.form), status
    if sidecar().jenkins is not None:
        delivery.deliver(sidecar().store, sidecar().jenkins, approval_id)
    return redirect(url_for("ui.approval", approval_id=approval_id), code=303)


def _visible(session, approval_id: int):
    found = approvals.get(session, approval_id)
    execution = executions.get(session, found.execution_id)
    require_visible(execution.project, f"approval {approval_id}")
    return found


def _page(session, approval_id: int, *, error: Exception | None = None, form=None):
    found = _visible(session, approval_id)
    execution = executions.get(session, found.execution_id)
    may_decide = principal().can_write and \
        (not found.submitters or principal().is_one_of(found.submitters))
    problems = {p.config_path.removeprefix("parameters."): p.message
                for p in error.problems} if isinstance(error, ConfigError) else {}
    return render_template("ui/approval.html", approval=found, execution=execution,
                           may_decide=may_decide, error=error, problems=problems,
                           form=form or {}, info=approvals.view(session, found))
