"""Pipeline, run, queued-run and queue-item documents.

A run's id is the sidecar's run number (``Execution.run``): it is known the moment the
run is triggered, before Jenkins has a build, so a client that stored the id of a
queued run finds the same run again (Blue Ocean's expected build number). Runs of a
pipeline are numbered 1, 2, … without gaps, so ``prevRun``/``nextRun`` need no query.
"""

from __future__ import annotations

from typing import Any, Iterable

from sidecar.readmodel import changes, names, states
from sidecar.store.models import Execution, Pipeline

PIPELINE_CLASS = "io.jenkins.blueocean.rest.impl.pipeline.PipelineImpl"
RUN_CLASS = "io.jenkins.blueocean.rest.impl.pipeline.PipelineRunImpl"
QUEUED_RUN_CLASS = "io.jenkins.blueocean.service.embedded.rest.QueuedBlueRun"
QUEUE_ITEM_CLASS = "io.jenkins.blueocean.service.embedded.rest.QueueItemImpl"
CAUSE_CLASS = "io.jenkins.blueocean.service.embedded.rest.AbstractRunImpl$BlueCauseImpl"
# The @Navigable getters of BlueRun, then PipelineRunImpl's; a queued run has BlueRun's only.
QUEUED_RUN_LINKS = ("changeSet", "artifacts", "actions", "tests", "blueTestSummary", "log")
RUN_LINKS = QUEUED_RUN_LINKS + ("nodes", "steps")
# BluePipeline's, but scm: a plain pipeline has no SCM resource (Blue Ocean's link is dead).
PIPELINE_LINKS = ("actions", "runs", "trends", "queue")
BLOCKAGE = "Waiting for next available executor"
SUMMARIES = {"SUCCESS": "stable", "FAILURE": "broken since this build", "ABORTED": "aborted"}
CAUSES = {"webhook": "Started by an SCM change", "cron": "Started by timer",
          "image": "Started by an image push"}
PARAMETER_CLASSES = {"string": ("StringParameterDefinition", "StringParameterValue"),
                     "boolean": ("BooleanParameterDefinition", "BooleanParameterValue"),
                     "choice": ("ChoiceParameterDefinition", "StringParameterValue"),
                     "text": ("TextParameterDefinition", "TextParameterValue"),
                     "password": ("PasswordParameterDefinition", "PasswordParameterValue")}


def pipeline_document(pipeline: Pipeline, latest: Execution | None, *, can_write: bool,
                      parameters: Iterable[Any] = ()) -> dict[str, Any]:
    """A PipelineImpl; latest is its newest run (or None)."""
    name = names.bo_name(pipeline.id)
    base = names.pipeline_href(pipeline.id)
    return {
        "_class": PIPELINE_CLASS,
        "_links": names.links(base, *PIPELINE_LINKS),
        "actions": [], "disabled": bool(pipeline.disabled), "displayName": name,
        "estimatedDurationInMillis": -1, "fullDisplayName": name, "fullName": name,
        "latestRun": run_document(latest, pipeline.next_run - 1) if latest else None,
        "name": name, "organization": names.ORGANIZATION,
        "parameters": [parameter_definition(p) for p in parameters],
        "permissions": {"create": can_write, "configure": can_write, "read": True,
                        "start": can_write, "stop": can_write},
        "weatherScore": 100,
    }


def run_document(execution: Execution, last_run: int) -> dict[str, Any]:
    """A PipelineRunImpl, or a QueuedBlueRun while the run waits for Jenkins."""
    if states.is_queued(execution):
        return queued_run_document(execution)
    state, result = states.run_state(execution)
    base = names.run_href(execution.pipeline_id, execution.run)
    extra = {}
    if execution.run > 1:
        extra["prevRun"] = names.run_href(execution.pipeline_id, execution.run - 1)
    if execution.run < last_run:
        extra["nextRun"] = names.run_href(execution.pipeline_id, execution.run + 1)
    ended = state == "FINISHED"
    return {
        "_class": RUN_CLASS,
        "_links": names.links(base, *RUN_LINKS,
                              parent=names.pipeline_href(execution.pipeline_id), **extra),
        **_common(execution),
        "durationInMillis": names.millis(execution.started_at, execution.ended_at) or 0,
        "enQueueTime": names.date(execution.created_at),
        "endTime": names.date(execution.ended_at) if ended else None,
        "estimatedDurationInMillis": -1,
        "replayable": True, "result": result, "runSummary": SUMMARIES.get(result) if ended
        else None, "startTime": names.date(execution.started_at), "state": state,
        "type": "WorkflowRun", "branch": None, "commitId": execution.commit or None,
        "commitUrl": None, "pullRequest": None,
    }


def queued_run_document(execution: Execution) -> dict[str, Any]:
    """A QueuedBlueRun: what starting a run answers, and a run not yet in Jenkins."""
    base = names.run_href(execution.pipeline_id, execution.run)
    return {
        "_class": QUEUED_RUN_CLASS,
        "_links": names.links(base, *QUEUED_RUN_LINKS,
                              parent=names.pipeline_href(execution.pipeline_id)),
        **_common(execution),
        "causeOfBlockage": BLOCKAGE,
        "durationInMillis": None, "enQueueTime": names.date(execution.created_at),
        "endTime": None, "estimatedDurationInMillis": None, "queueId": str(execution.run),
        "replayable": False, "result": "UNKNOWN", "runSummary": None, "startTime": None,
        "state": "QUEUED", "type": "QueuedItem",
    }


def queue_item_document(execution: Execution) -> dict[str, Any]:
    """A QueueItemImpl: a run waiting for Jenkins, in the pipeline's queue."""
    base = names.pipeline_href(execution.pipeline_id)
    return {
        "_class": QUEUE_ITEM_CLASS,
        "_links": {"parent": names.link(base),
                   "self": names.link(f"{base}queue/{execution.run}/")},
        "cause": [_cause(execution)], "causeOfBlockage": BLOCKAGE,
        "expectedBuildNumber": execution.run, "id": str(execution.run),
        "organization": names.ORGANIZATION, "pipeline": names.bo_name(execution.pipeline_id),
        "queuedTime": names.date(execution.created_at),
    }


def parameter_definition(parameter: Any) -> dict[str, Any]:
    """A Jenkins ParameterDefinition export from a config parameter (object or mapping)."""
    get = parameter.get if isinstance(parameter, dict) else \
        (lambda key, default=None: getattr(parameter, key, default))
    kind = str(get("type", "string") or "string")
    definition, value_class = PARAMETER_CLASSES.get(kind, PARAMETER_CLASSES["string"])
    name, choices = str(get("name", "")), [str(c) for c in get("choices", ()) or ()]
    default = get("default", "")
    value: dict[str, Any] = {"_class": f"hudson.model.{value_class}", "name": name}
    if kind == "boolean":
        value["value"] = default in (True, "true")
    elif kind == "choice":
        value["value"] = str(default) if default not in (None, "") else \
            (choices[0] if choices else "")
    elif kind != "password":
        value["value"] = "" if default is None else str(default)
    doc = {"_class": f"hudson.model.{definition}", "defaultParameterValue": value,
           "description": get("description") or None, "name": name, "type": definition}
    if kind == "choice":
        doc["choices"] = choices
    return doc


def _common(execution: Execution) -> dict[str, Any]:
    return {"actions": [], "artifactsZipFile": None, "causeOfBlockage": None,
            "causes": [_cause(execution)], "changeSet": changes.change_set(execution),
            "description": None,
            "id": str(execution.run), "name": None, "organization": names.ORGANIZATION,
            "pipeline": names.bo_name(execution.pipeline_id)}


def _cause(execution: Execution) -> dict[str, Any]:
    user = execution.triggered_by or None
    if execution.trigger_type in ("user", "rerun") and user is None:
        user = "anonymous"
    if execution.trigger_type == "rerun" and execution.replay_of:
        text = f"Replayed #{execution.replay_of.rsplit('-', 1)[-1]}"
    elif execution.trigger_type in CAUSES:
        text, user = CAUSES[execution.trigger_type], None
    else:
        text = f"Started by user {user}"
    return {"_class": CAUSE_CLASS, "shortDescription": text, "userId": user, "userName": user}
