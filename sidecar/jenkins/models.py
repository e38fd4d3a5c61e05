"""What the Jenkins client returns: small frozen dataclasses parsed from Jenkins' JSON.

The parsers accept the shapes documented in reference/blueocean-api.md (classic queue API,
Pipeline Stage View ``wfapi``) and tolerate missing optional fields; a document that is not
the expected shape at all raises ``ValueError``, which the client turns into a
``JenkinsRequestError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

# wfapi StatusExt. SKIPPED is in the plugin's enum too (declarative ``when``), although
# older documentation lists only the first seven.
STATUSES = frozenset({"NOT_EXECUTED", "ABORTED", "SUCCESS", "IN_PROGRESS",
                      "PAUSED_PENDING_INPUT", "FAILED", "UNSTABLE", "SKIPPED"})
RUNNING = frozenset({"IN_PROGRESS", "PAUSED_PENDING_INPUT"})
# A run's URL is its job's URL plus the number; folders nest as job/<folder>/job/<name>.
_BUILD_URL = re.compile(r"(?:^|/)(?P<job>job/[^/]+(?:/job/[^/]+)*)/(?P<number>\d+)/?$")
_JOB_SEGMENT = re.compile(r"job/([^/]+)")


@dataclass(frozen=True)
class QueueState:
    """A queue item: still waiting (``why``), cancelled, or left with a build number."""

    cancelled: bool
    build_number: int | None
    why: str | None


@dataclass(frozen=True)
class FlowNode:
    """A flow node with a log: its id and display name (a step's ``label``, if it has one)."""

    id: str
    name: str


@dataclass(frozen=True)
class StageState:
    """One stage of a run as wfapi reports it."""

    id: str
    name: str
    status: str
    start_time_millis: int
    duration_millis: int
    error: str | None = None
    log_nodes: tuple[FlowNode, ...] = ()
    """Flow nodes in the stage that carry a log (wfapi ``stageFlowNodes``, at most 100)."""

    @property
    def log_node_ids(self) -> tuple[str, ...]:
        """The ids of the nodes with a log, in the stage's order."""
        return tuple(node.id for node in self.log_nodes)


@dataclass(frozen=True)
class RunState:
    """A build of a pipeline job: overall wfapi status, timing and stages."""

    status: str
    start_time_millis: int
    duration_millis: int
    stages: tuple[StageState, ...]

    @property
    def finished(self) -> bool:
        """True once the status can no longer change."""
        return self.status not in RUNNING


@dataclass(frozen=True)
class LogChunk:
    """A piece of a progressive log and where to continue reading."""

    text: str
    next_start: int
    more: bool


@dataclass(frozen=True)
class InputField:
    """A parameter an input step asks for."""

    name: str
    type: str
    description: str | None = None
    default: Any = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputRequest:
    """An input step waiting for an answer."""

    id: str
    message: str
    proceed_text: str | None
    inputs: tuple[InputField, ...]
    proceed_url: str
    abort_url: str


def queue_state(doc: dict[str, Any]) -> QueueState:
    """From ``/queue/item/N/api/json``; only a LeftItem has ``cancelled`` and ``executable``."""
    executable = _mapping(doc).get("executable") or {}
    number = executable.get("number") if isinstance(executable, dict) else None
    return QueueState(cancelled=bool(doc.get("cancelled", False)),
                      build_number=int(number) if number is not None else None,
                      why=doc.get("why"))


def run_state(doc: dict[str, Any]) -> RunState:
    """From ``/job/X/N/wfapi/describe`` (RunExt)."""
    stages = tuple(_stage(stage) for stage in _mapping(doc).get("stages") or ())
    return RunState(status=_status(doc), start_time_millis=int(doc.get("startTimeMillis", 0)),
                    duration_millis=int(doc.get("durationMillis", 0)), stages=stages)


def running_builds(doc: dict[str, Any]) -> frozenset[tuple[str, int]]:
    """From ``/computer/api/json?tree=computer[executors[…],oneOffExecutors[…]]``."""
    found = set()
    for computer in _mapping(doc).get("computer") or ():
        for kind in ("executors", "oneOffExecutors"):
            for executor in _mapping(computer).get(kind) or ():
                executable = _mapping(executor).get("currentExecutable")
                build = _build_of(executable) if executable else None
                if build is not None:
                    found.add(build)
    return frozenset(found)


def _build_of(executable: dict[str, Any]) -> tuple[str, int] | None:
    """(job full name, number) from an executable's absolute URL ``…/job/a/job/b/7/``."""
    match = _BUILD_URL.search(urlsplit(str(_mapping(executable).get("url") or "")).path)
    if match is None:
        return None  # not a build of a job (or a url we cannot read): nothing to follow
    name = "/".join(unquote(part) for part in _JOB_SEGMENT.findall(match.group("job")))
    return name, int(match.group("number"))


def input_requests(doc: list[Any]) -> list[InputRequest]:
    """From ``/job/X/N/wfapi/pendingInputActions`` (a list of PendingInputActionsExt)."""
    if not isinstance(doc, list):
        raise ValueError("expected a JSON array of pending inputs")
    return [InputRequest(id=str(item["id"]), message=str(item.get("message") or ""),
                         proceed_text=item.get("proceedText"),
                         inputs=tuple(_field(field) for field in item.get("inputs") or ()),
                         proceed_url=str(item.get("proceedUrl") or ""),
                         abort_url=str(item.get("abortUrl") or ""))
            for item in map(_mapping, doc)]


def _stage(doc: dict[str, Any]) -> StageState:
    error = _mapping(doc).get("error") or {}
    logs = tuple(FlowNode(str(node["id"]), str(node.get("name") or ""))
                 for node in doc.get("stageFlowNodes") or ()
                 if "log" in (node.get("_links") or {}))
    return StageState(id=str(doc["id"]), name=str(doc.get("name", "")), status=_status(doc),
                      start_time_millis=int(doc.get("startTimeMillis", 0)),
                      duration_millis=int(doc.get("durationMillis", 0)),
                      error=error.get("message") if isinstance(error, dict) else None,
                      log_nodes=logs)


def _field(doc: dict[str, Any]) -> InputField:
    definition = _mapping(doc).get("definition") or {}
    return InputField(name=str(doc["name"]), type=str(doc.get("type", "")),
                      description=doc.get("description"), default=definition.get("defaultVal"),
                      choices=tuple(definition.get("choices") or ()))


def _status(doc: dict[str, Any]) -> str:
    status = doc.get("status")
    if not isinstance(status, str):
        raise ValueError("wfapi document without a status")
    return status


def _mapping(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object")
    return doc


def parameter_value(doc: dict[str, Any], name: str) -> Any:
    """The value of build parameter name in a queue item's or build's ``actions``."""
    for action in doc.get("actions") or ():
        for parameter in (action or {}).get("parameters") or ():
            if parameter.get("name") == name:
                return parameter.get("value")
    return None
