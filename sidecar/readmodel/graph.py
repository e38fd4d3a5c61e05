"""Nodes and steps of a run: config stages, their parallel branches, one step each.

Jenkins runs a config stage as ``stage('Build') { parallel { stage('step-0-1') … } }``:
the stage is a STAGE node, each config step a PARALLEL branch node named
``step-<stage>-<step>``, and the branch's work (``sh``, ``input`` or ``checkout``) is its
one step. Node and step ids are numbered from the run's shape alone (3, 4, … in walk
order, like flow node ids), so they are known before Jenkins reports anything and never
change during the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sidecar import config, render
from sidecar.config.inputs import RenderContext
from sidecar.errors import SidecarError
from sidecar.readmodel import names, states
from sidecar.readmodel.runs import parameter_definition
from sidecar.render.steps import step_name
from sidecar.store.models import Approval, Execution, StepState, utcnow

NODE_CLASS = "io.jenkins.blueocean.rest.impl.pipeline.PipelineNodeImpl"
EDGE_CLASS = "io.jenkins.blueocean.rest.impl.pipeline.PipelineNodeImpl$EdgeImpl"
STEP_CLASS = "io.jenkins.blueocean.rest.impl.pipeline.PipelineStepImpl"
INPUT_CLASS = "io.jenkins.blueocean.rest.impl.pipeline.InputStepImpl"
LOG_ACTION = "org.jenkinsci.plugins.workflow.support.actions.LogActionImpl"
PAUSE_ACTION = "org.jenkinsci.plugins.workflow.support.actions.PauseAction"
DISPLAY_NAMES = {"approvalConfig": "Wait for interactive input",
                 "sourceCodeConfig": "Check out from version control"}
FIRST_ID = 3


@dataclass(frozen=True)
class Branch:
    """One config step: its branch node id, its step id and its state row."""

    node_id: str
    step_id: str
    row: StepState


@dataclass(frozen=True)
class StageNode:
    """One config stage and its branches."""

    node_id: str
    name: str
    branches: tuple[Branch, ...]


@dataclass(frozen=True)
class StepInfo:
    """What a config step runs, from the run's config: its kind and a description."""

    kind: str = "runScriptConfig"
    description: str | None = None


def layout(execution: Execution) -> list[StageNode]:
    """The run's stages and branches with their ids."""
    by_stage: dict[int, list[StepState]] = {}
    for row in execution.steps:
        by_stage.setdefault(row.stage_index, []).append(row)
    next_id, stages = FIRST_ID, []
    for index in sorted(by_stage):
        rows = sorted(by_stage[index], key=lambda r: r.step_index)
        stage_id, next_id = str(next_id), next_id + 1
        branches = []
        for row in rows:
            branches.append(Branch(str(next_id), str(next_id + 1), row))
            next_id += 2
        stages.append(StageNode(stage_id, rows[0].stage_name, tuple(branches)))
    return stages


def node_documents(execution: Execution, stages: list[StageNode]) -> list[dict[str, Any]]:
    """Every node of the run, as a DAG walk: stage, its branches, the next stage, …"""
    documents, now = [], utcnow()
    base = names.run_href(execution.pipeline_id, execution.run) + "nodes/"
    for position, stage in enumerate(stages):
        following = stages[position + 1] if position + 1 < len(stages) else None
        previous = stages[position - 1].node_id if position else None
        documents.append(_stage_node(base, stage, previous, now))
        for branch in stage.branches:
            edges = [_edge(following.node_id, "STAGE")] if following else []
            state, result = states.step_state(branch.row.state)
            key = (branch.row.stage_index, branch.row.step_index)
            documents.append(_node(base, branch.node_id, step_name(key), "PARALLEL", state,
                                   result, branch.row.started_at, branch.row.ended_at, now,
                                   edges, stage.node_id))
    return documents


def step_document(href: str, branch: Branch, info: StepInfo,
                  approval: Approval | None) -> dict[str, Any]:
    """A PipelineStepImpl at href (the step's own URL, under a node or the run)."""
    state, result = states.step_state(branch.row.state)
    paused = state == "PAUSED"
    actions = [{"_class": LOG_ACTION, "_links": {"self": names.link(href + "log/")},
                "urlName": "log"}]
    if paused:
        actions.append({"_class": PAUSE_ACTION, "_links": {"self": None}, "urlName": None})
    start, end = branch.row.started_at, branch.row.ended_at
    return {
        "_class": STEP_CLASS, "_links": names.links(href, "actions"), "actions": actions,
        "displayDescription": info.description,
        "displayName": DISPLAY_NAMES.get(info.kind, "Shell Script"),
        "durationInMillis": _duration(state, start, end, utcnow()), "id": branch.step_id,
        "input": input_document(href, approval) if paused and approval else None,
        "result": result, "startTime": names.date(start) if state else None,
        "state": state, "type": "STEP",
    }


def input_document(href: str, approval: Approval) -> dict[str, Any]:
    """The InputStepImpl of a pending approval."""
    return {"_class": INPUT_CLASS, "_links": {"self": names.link(href + "input/")},
            "id": approval.input_id, "message": approval.message, "ok": approval.ok_text or
            "Proceed", "parameters": [parameter_definition(p) for p in approval.parameters or ()],
            "submitter": ",".join(approval.submitters or ()) or None}


def _stage_node(base: str, stage: StageNode, previous: str | None,
                now: datetime) -> dict[str, Any]:
    rows = [branch.row for branch in stage.branches]
    state, result = states.stage_state([states.step_state(row.state) for row in rows])
    starts = [row.started_at for row in rows if row.started_at]
    ends = [row.ended_at for row in rows if row.ended_at]
    end = max(ends) if ends and len(ends) == len(rows) else None
    edges = [_edge(branch.node_id, "PARALLEL") for branch in stage.branches]
    return _node(base, stage.node_id, stage.name, "STAGE", state, result,
                 min(starts) if starts else None, end, now, edges, previous)


def _node(base: str, node_id: str, name: str, kind: str, state: str | None,
          result: str | None, start: datetime | None, end: datetime | None, now: datetime,
          edges: list[dict], parent: str | None) -> dict[str, Any]:
    href = f"{base}{node_id}/"
    return {
        "_class": NODE_CLASS, "_links": names.links(href, "actions", "steps"), "actions": [],
        "displayDescription": None, "displayName": name,
        "durationInMillis": _duration(state, start, end, now), "id": node_id, "input": None,
        "result": result, "startTime": names.date(start) if state else None, "state": state,
        "type": kind, "causeOfBlockage": None, "edges": edges, "firstParent": parent,
        "restartable": False,
    }


def _duration(state: str | None, start: datetime | None, end: datetime | None,
              now: datetime) -> int | None:
    if state is None:
        return None
    if start is None:
        return 0
    return names.millis(start, end or now)


def _edge(node_id: str, kind: str) -> dict[str, str]:
    return {"_class": EDGE_CLASS, "id": node_id, "type": kind}


def step_infos(execution: Execution) -> dict[tuple[int, int], StepInfo]:
    """What each config step of the run does, read from its config snapshot."""
    return _infos(execution.config_snapshot, bool(execution.pipeline.repository_url))


@lru_cache(maxsize=256)
def _infos(text: str, has_repository: bool) -> dict[tuple[int, int], StepInfo]:
    # Only whether a repository is known changes the stages (a Clone stage goes first).
    try:
        model = render.prepare(config.parse_pipeline(text, "config"), RenderContext(
            git_url="https://repository.invalid/" if has_repository else ""))
    except SidecarError:  # an unreadable snapshot still shows its steps, as shell steps
        return {}
    return {(s, i): StepInfo(step.kind, _description(step))
            for s, stage in enumerate(model.stages) for i, step in enumerate(stage.steps)}


def _description(step) -> str | None:
    options = step.options
    if step.kind == "runScriptConfig":
        return options.get("shellScript")
    if step.kind == "approvalConfig":
        return options.get("message")
    return None
