"""What the fake Jenkins knows: jobs, queue items and builds, and their JSON as Jenkins sends it.

The JSON shapes follow reference/blueocean-api.md (classic queue API, Pipeline Stage View
``wfapi``), with field names and classes taken from the plugins' ``*Ext`` classes. Tests
drive builds explicitly through ``FakeBuild``; nothing here runs on its own.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

FINAL = frozenset({"SUCCESS", "FAILED", "ABORTED", "UNSTABLE", "NOT_EXECUTED", "SKIPPED"})
STRING_PARAMETER = "StringParameterDefinition"
WORKFLOW_RUN = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
PLACEHOLDER = ("org.jenkinsci.plugins.workflow.support.steps."
               "ExecutorStepExecution$PlaceholderTask$PlaceholderExecutable")
# hudson.model.Result names of the wfapi end statuses (api/json shows Result, wfapi StatusExt).
RESULTS = {"SUCCESS": "SUCCESS", "FAILED": "FAILURE", "ABORTED": "ABORTED",
           "UNSTABLE": "UNSTABLE", "NOT_EXECUTED": "NOT_BUILT", "SKIPPED": "NOT_BUILT"}


class Clock:
    """Milliseconds that only move when the fake says so: every event ticks one second."""

    def __init__(self, start: int = 1_700_000_000_000):
        self.now = start

    def tick(self, ms: int = 1000) -> int:
        self.now += ms
        return self.now


def href(path: str) -> dict[str, str]:
    return {"href": path}


@dataclass
class FakeJob:
    """A pipeline job: its current config.xml and the next build number."""

    name: str
    config_xml: str
    next_build_number: int = 1

    @property
    def script(self) -> str:
        """The ``<script>`` of the current config.xml (the Jenkinsfile)."""
        node = _parse_xml(self.config_xml).find("./definition/script")
        return "" if node is None else node.text or ""

    @property
    def parameter_defaults(self) -> dict[str, str] | None:
        """Parameter names with defaults, or None when the job is not parameterized."""
        root = _parse_xml(self.config_xml)
        definitions = root.find(".//hudson.model.ParametersDefinitionProperty/parameterDefinitions")
        if definitions is None:
            return None
        return {d.findtext("name", ""): d.findtext("defaultValue", "") for d in definitions}

    def to_json(self, base: str, *, in_queue: bool) -> dict[str, Any]:
        return {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
                "name": self.name, "fullName": self.name, "displayName": self.name,
                "url": f"{base}{job_path(self.name)}/", "buildable": True, "color": "notbuilt",
                "inQueue": in_queue, "nextBuildNumber": self.next_build_number,
                "concurrentBuild": True, "disabled": False}


@dataclass
class FakeQueueItem:
    """A queue item; it leaves the queue when the test starts it (or at once with auto_start)."""

    id: int
    job: str
    parameters: dict[str, str]
    in_queue_since: int
    cancelled: bool = False
    build_number: int | None = None

    @property
    def waiting(self) -> bool:
        return not self.cancelled and self.build_number is None

    def to_json(self, base: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "actions": [
                {"_class": "hudson.model.ParametersAction",
                 "parameters": [{"_class": "hudson.model.StringParameterValue", "name": k,
                                 "value": v} for k, v in self.parameters.items()]},
                {"_class": "hudson.model.CauseAction",
                 "causes": [{"_class": "hudson.model.Cause$UserIdCause",
                             "shortDescription": "Started by user admin", "userId": "admin",
                             "userName": "admin"}]}],
            "blocked": False, "id": self.id, "inQueueSince": self.in_queue_since,
            "params": "".join(f"\n{k}={v}" for k, v in self.parameters.items()),
            "stuck": False,
            "task": {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
                     "name": self.job, "url": f"{base}{job_path(self.job)}/", "color": "notbuilt"},
            "url": f"queue/item/{self.id}/"}
        if self.waiting:
            doc.update({"_class": "hudson.model.Queue$BuildableItem", "buildable": True,
                        "why": "Waiting for next available executor", "pending": False,
                        "buildableStartMilliseconds": self.in_queue_since})
        else:
            executable = None if self.build_number is None else {
                "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                "number": self.build_number,
                "url": f"{base}{job_path(self.job)}/{self.build_number}/"}
            doc.update({"_class": "hudson.model.Queue$LeftItem", "buildable": False, "why": None,
                        "cancelled": self.cancelled, "executable": executable})
        return doc


@dataclass
class FakeNode:
    """A labelled step of a stage besides its main one, such as a report ``sh``."""

    id: str
    label: str
    log: bytes = b""


@dataclass
class FakeStage:
    """A stage (flow node ``id``) whose main step (``log_node_id``) holds the log.

    ``before`` and ``after`` are labelled steps that ran before and after the main one
    (the rendered Jenkinsfile's step reports), listed with it in ``stageFlowNodes``.
    """

    id: str
    log_node_id: str
    name: str
    start: int
    status: str = "IN_PROGRESS"
    end: int | None = None
    error: str | None = None
    log: bytearray = field(default_factory=bytearray)
    before: list[FakeNode] = field(default_factory=list)
    after: list[FakeNode] = field(default_factory=list)


@dataclass
class FakeInput:
    """A pending ``input`` step."""

    id: str
    message: str
    ok: str
    parameters: dict[str, str]
    stage: FakeStage | None
    submitter: str | None = None
    """``input(submitter: …)``: users or groups, comma-separated; None: anyone may answer."""


@dataclass(frozen=True)
class InputAnswer:
    """What reached the fake for an input: ``proceed`` (with parameters) or ``abort``."""

    input_id: str
    action: str
    parameters: dict[str, Any]


class FakeBuild:
    """A running build; the test moves it on explicitly."""

    def __init__(self, *, job: str, number: int, script: str, parameters: dict[str, str],
                 queue_id: int, clock: Clock, lock: threading.RLock):
        self.job, self.number, self.queue_id = job, number, queue_id
        self.script = script
        """The job's ``<script>`` when this build left the queue."""
        self.parameters = parameters
        self.answers: list[InputAnswer] = []
        self.stop_requested = False
        self.broken = False
        """A build whose flow graph cannot be loaded: its wfapi answers 500, as Jenkins does."""
        self.result: str | None = None
        self.stages: dict[str, FakeStage] = {}
        self.inputs: dict[str, FakeInput] = {}
        self._clock, self._lock = clock, lock
        self._next_node = 3  # Jenkins numbers flow nodes from 2 (the FlowStartNode)
        self.start = clock.tick()
        self.end: int | None = None

    def __repr__(self) -> str:
        return f"FakeBuild({self.job!r}, {self.number}, status={self.status!r})"

    @property
    def status(self) -> str:
        """The wfapi status of the run."""
        if self.result is not None:
            return self.result
        return "PAUSED_PENDING_INPUT" if self.inputs else "IN_PROGRESS"

    def start_stage(self, name: str, *, report: str | None = None) -> FakeStage:
        """Enter a stage: a stage node and one step node that will carry the log.

        report: the label of a step that runs first in the stage (a start report).
        """
        with self._lock:
            self._check_running()
            stage = FakeStage(id=self._node(), log_node_id="", name=name,
                              start=self._clock.tick())
            if report is not None:
                stage.before.append(FakeNode(self._node(), report))
            stage.log_node_id = self._node()
            self.stages[name] = stage
            return stage

    def report(self, stage_name: str, label: str, log: str = "") -> None:
        """A labelled step ran after the main one in a running stage (an end report)."""
        with self._lock:
            stage = self._stage(stage_name)
            stage.after.append(FakeNode(self._node(), label, log.encode("utf-8")))

    def finish_stage(self, name: str, status: str = "SUCCESS", *, error: str | None = None) -> None:
        """End a stage with a wfapi status; FAILED gets a default error message."""
        if status not in FINAL:
            raise ValueError(f"{status!r} is not a final wfapi status: {sorted(FINAL)}")
        with self._lock:
            stage = self._stage(name)
            stage.status, stage.end = status, self._clock.tick()
            stage.error = error or ("script returned exit code 1" if status == "FAILED" else None)

    @property
    def holds_agent(self) -> bool:
        """In an agent scope: a stage runs and no input holds the run (approvals have none)."""
        return self.result is None and not self.inputs and \
            any(stage.end is None for stage in self.stages.values())

    def append_log(self, stage_name: str, text: str) -> None:
        """Add text to the log of the stage's step."""
        with self._lock:
            self._stage(stage_name).log += text.encode("utf-8")

    def pause_for_input(self, id: str, message: str, *, ok: str = "Proceed",
                        parameters: dict[str, str] | None = None,
                        submitter: str | None = None) -> None:
        """Wait in the running stage for an answer; ``parameters`` are string inputs.

        submitter: as the build's script says for this input unless given.
        """
        with self._lock:
            self._check_running()
            running = [s for s in self.stages.values() if s.end is None]
            self.inputs[id] = FakeInput(id, message, ok, dict(parameters or {}),
                                        running[-1] if running else None,
                                        submitter or _script_submitter(self.script, id))

    def may_answer(self, input_id: str, user: str) -> bool:
        """Jenkins' submitter rule: a listed user (case-insensitively), or no list at all.

        (Jenkins also matches the user's groups; the fake's users have none.)
        """
        pending = self.inputs.get(input_id)
        if pending is None or pending.submitter is None:
            return True
        return user.lower() in {name.strip().lower() for name in pending.submitter.split(",")}

    def finish(self, status: str = "SUCCESS") -> None:
        """End the build; running stages end with it and pending inputs go away."""
        if status not in FINAL:
            raise ValueError(f"{status!r} is not a final wfapi status: {sorted(FINAL)}")
        with self._lock:
            if self.result is not None:
                return
            now = self._clock.tick()
            for stage in self.stages.values():
                if stage.end is None:
                    stage.status, stage.end = status, now
            self.inputs.clear()
            self.result, self.end = status, now

    def answer(self, input_id: str, action: str, parameters: dict[str, Any]) -> bool:
        """Record an answer to a pending input; False when there is no such input."""
        with self._lock:
            pending = self.inputs.pop(input_id, None)
            if pending is None:
                return False
            self.answers.append(InputAnswer(input_id, action, parameters))
            if action == "abort":
                self.finish("ABORTED")
            return True

    def stop(self) -> None:
        """What ``POST .../stop`` does: the build ends ABORTED."""
        with self._lock:
            self.stop_requested = True
            self.finish("ABORTED")

    def node_log(self, node_id: str) -> tuple[bytes, bool] | None:
        """The log of a step node and whether it is complete; None for nodes without a log."""
        with self._lock:
            for stage in self.stages.values():
                if stage.log_node_id == node_id:
                    return bytes(stage.log), stage.end is not None or self.result is not None
                for node in (*stage.before, *stage.after):
                    if node.id == node_id:
                        return node.log, True
            return None

    def summary_json(self, base: str = "") -> dict[str, Any]:
        """The build as a job's ``builds`` list shows it (Run's exported fields)."""
        return {**self.executable_json(base, WORKFLOW_RUN),
                "building": self.result is None, "queueId": self.queue_id,
                "result": RESULTS.get(self.result) if self.result else None,
                "duration": 0 if self.end is None else self.end - self.start,
                "estimatedDuration": -1, "id": str(self.number),
                "actions": [{"_class": "hudson.model.ParametersAction", "parameters": [
                    {"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                    for k, v in self.parameters.items()]}]}

    def executable_json(self, base: str, kind: str) -> dict[str, Any]:
        """What an executor shows as its ``currentExecutable``: the run or an agent's placeholder.

        Both export the run's absolute ``url`` and ``number`` (``Run.getAbsoluteUrl``,
        ``PlaceholderExecutable.getAbsoluteUrl``).
        """
        return {"_class": kind, "displayName": f"#{self.number}",
                "fullDisplayName": f"{self.job} #{self.number}", "number": self.number,
                "timestamp": self.start, "url": f"{base}{build_path(self.job, self.number)}/"}

    def describe_json(self) -> dict[str, Any]:
        """``wfapi/describe``: RunExt with StageNodeExt stages and their stageFlowNodes."""
        with self._lock:
            now, prefix = self._clock.now, build_path(self.job, self.number)
            links = {"self": href(f"{prefix}/wfapi/describe")}
            if self.inputs:
                links["pendingInputActions"] = href(f"{prefix}/wfapi/pendingInputActions")
                links["nextPendingInputAction"] = href(f"{prefix}/wfapi/nextPendingInputAction")
            end = self.end if self.end is not None else now
            return {"_links": links, "id": str(self.number), "name": f"#{self.number}",
                    "status": self.status, "startTimeMillis": self.start, "endTimeMillis": end,
                    "durationMillis": end - self.start, "queueDurationMillis": 0,
                    "pauseDurationMillis": 0,
                    "stages": [self._stage_json(s, prefix, now) for s in self.stages.values()]}

    def pending_inputs_json(self) -> list[dict[str, Any]]:
        """``wfapi/pendingInputActions``: PendingInputActionsExt items."""
        with self._lock:
            prefix = build_path(self.job, self.number)
            return [{"id": i.id, "proceedText": i.ok, "message": i.message,
                     "inputs": [{"type": STRING_PARAMETER, "name": name,
                                 "definition": {"defaultVal": default}}
                                for name, default in i.parameters.items()],
                     "proceedUrl": f"{prefix}/wfapi/inputSubmit?inputId={i.id}",
                     "abortUrl": f"{prefix}/input/{quote(i.id, safe='')}/abort",
                     "redirectApprovalUrl": f"{prefix}/input/"} for i in self.inputs.values()]

    def _stage_json(self, stage: FakeStage, prefix: str, now: int) -> dict[str, Any]:
        status = stage.status
        if stage.end is None and any(i.stage is stage for i in self.inputs.values()):
            status = "PAUSED_PENDING_INPUT"
        duration = (stage.end if stage.end is not None else now) - stage.start
        node = f"{prefix}/execution/node"

        def atom(node_id: str, name: str, state: str, parent: str) -> dict[str, Any]:
            # AtomFlowNodeExt: the display name is the step's label when it has one.
            return {"_links": {"self": href(f"{node}/{node_id}/wfapi/describe"),
                               "log": href(f"{node}/{node_id}/wfapi/log")},
                    "id": node_id, "name": name, "execNode": "", "status": state,
                    "parameterDescription": stage.name, "startTimeMillis": stage.start,
                    "durationMillis": duration, "pauseDurationMillis": 0,
                    "parentNodes": [parent]}
        step = atom(stage.log_node_id, "Shell Script", status,
                    stage.before[-1].id if stage.before else stage.id)
        nodes = [atom(n.id, n.label, "SUCCESS", stage.id) for n in stage.before] + [step] + \
            [atom(n.id, n.label, "SUCCESS", stage.log_node_id) for n in stage.after]
        doc = {"_links": {"self": href(f"{node}/{stage.id}/wfapi/describe")},
               "id": stage.id, "name": stage.name, "execNode": "", "status": status,
               "startTimeMillis": stage.start, "durationMillis": duration,
               "pauseDurationMillis": 0, "stageFlowNodes": nodes}
        if stage.error:
            doc["error"] = step["error"] = {"message": stage.error,
                                            "type": "hudson.AbortException"}
        return doc

    def _node(self) -> str:
        node, self._next_node = self._next_node, self._next_node + 1
        return str(node)

    def _stage(self, name: str) -> FakeStage:
        try:
            return self.stages[name]
        except KeyError:
            raise KeyError(f"no stage {name!r} in {self!r}; started: {list(self.stages)}") from None

    def _check_running(self) -> None:
        if self.result is not None:
            raise RuntimeError(f"{self!r} has finished")


def job_path(name: str) -> str:
    return "/job/" + quote(name, safe="")


def build_path(job: str, number: int) -> str:
    return f"{job_path(job)}/{number}"


def _parse_xml(text: str) -> ET.Element:
    # Jenkins writes <?xml version='1.1'?>, which expat refuses; the declaration adds nothing.
    if text.lstrip().startswith("<?xml"):
        text = text[text.index("?>") + 2:]
    return ET.fromstring(text)


_INPUT_CALL = re.compile(r"input\(id: '((?:[^'\\]|\\.)*)'.*?submitter: '((?:[^'\\]|\\.)*)'",
                         re.DOTALL)


def _script_submitter(script: str, input_id: str) -> str | None:
    """The ``submitter`` of ``input(id: …)`` in a script; Jenkins capitalises input ids."""
    for found in _INPUT_CALL.finditer(script):
        name, submitter = (re.sub(r"\\(.)", r"\1", group) for group in found.groups())
        if name[:1].upper() + name[1:] == input_id:
            return submitter or None
    return None
