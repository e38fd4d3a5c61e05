"""The Blue Ocean documents' exact shapes, as data: keys, types, formats, enumerations.

Taken from reference/blueocean-api.md (§1.3–1.10) and the recorded responses in
shared/blueocean-recorded (where a recording is older than the reference's newest
capture, the newer key set is used and the recording must be a subset of it; see
test_blueocean_conformance.test_shapes_accept_the_recorded_documents).

``check(doc, SHAPE)`` returns a list of problems: a missing or extra key, a wrong type,
a date not in ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``, a value outside its enumeration, a link
href not ending in '/'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$")
STATES = {"QUEUED", "RUNNING", "PAUSED", "SKIPPED", "NOT_BUILT", "FINISHED"}
RESULTS = {"SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "UNKNOWN", "ABORTED"}
LINK_CLASS = "io.jenkins.blueocean.rest.hal.Link"


@dataclass(frozen=True)
class Opt:
    """The spec, or null."""

    spec: Any


@dataclass(frozen=True)
class OneOf:
    """One of a set of literal values."""

    values: frozenset


@dataclass(frozen=True)
class ListOf:
    """A list whose every item has the spec."""

    spec: Any


@dataclass(frozen=True)
class Links:
    """A _links object with exactly these links (optional ones may be absent)."""

    names: frozenset
    optional: frozenset = frozenset()


@dataclass(frozen=True)
class Shape:
    """An object with exactly these keys (optional ones may be absent)."""

    fields: dict
    optional: frozenset = frozenset()
    legacy: frozenset = frozenset()
    """Keys only older recordings lack: the sidecar must send them (strict checks)."""


class Date:
    """A Blue Ocean date string."""


def const(value: str) -> OneOf:
    """Exactly this value."""
    return OneOf(frozenset({value}))


def links(*names: str, optional: tuple[str, ...] = ()) -> Links:
    """A _links spec."""
    return Links(frozenset(names), frozenset(optional))


LINK = Shape({"_class": const(LINK_CLASS), "href": str})
CAUSE = Shape({"_class": const(
    "io.jenkins.blueocean.service.embedded.rest.AbstractRunImpl$BlueCauseImpl"),
    "shortDescription": str, "userId": Opt(str), "userName": Opt(str)})
PARAMETER_VALUE = Shape({"_class": str, "name": str, "value": (str, bool)},
                        optional=frozenset({"value"}))
PARAMETER = Shape({"_class": str, "defaultParameterValue": PARAMETER_VALUE,
                   "description": Opt(str), "name": str, "type": str,
                   "choices": ListOf(str)}, optional=frozenset({"choices"}))
# BlueRun's @Navigable getters (all a queued run has), then PipelineRunImpl's.
QUEUED_RUN_LINKS = ("parent", "self", "changeSet", "artifacts", "actions", "tests",
                    "blueTestSummary", "log")
RUN_LINKS = QUEUED_RUN_LINKS + ("nodes", "steps")
# UserImpl (blueocean-rest-impl): a change set's author.
USER = Shape({
    "_class": const("io.jenkins.blueocean.service.embedded.rest.UserImpl"),
    "_links": links("self", "favorites"), "avatar": Opt(str), "email": Opt(str),
    "fullName": Opt(str), "id": str, "permission": Opt(dict)})
# ChangeSetResource (blueocean-rest-impl; BlueChangeSetEntry's exported getters).
CHANGESET = Shape({
    "_class": const("io.jenkins.blueocean.service.embedded.rest.ChangeSetResource"),
    "_links": links("self"), "affectedPaths": ListOf(str), "author": USER,
    "checkoutCount": int, "commitId": Opt(str), "issues": list, "msg": str,
    "timestamp": Opt(Date), "url": Opt(str)}, optional=frozenset({"issues"}),
    legacy=frozenset({"checkoutCount"}))
# PipelineRunImpl: jenkins-client testdata/PipelineRuns.json (reference §1.6).
RUN = Shape({
    "_class": const("io.jenkins.blueocean.rest.impl.pipeline.PipelineRunImpl"),
    "_links": links(*RUN_LINKS, optional=("prevRun", "nextRun")), "actions": list,
    "artifactsZipFile": Opt(str), "causeOfBlockage": Opt(str), "causes": ListOf(CAUSE),
    "description": Opt(str), "durationInMillis": int, "enQueueTime": Opt(Date),
    "endTime": Opt(Date), "estimatedDurationInMillis": int, "id": str, "name": Opt(str),
    "organization": const("jenkins"), "pipeline": str, "replayable": bool,
    "result": OneOf(frozenset(RESULTS)), "runSummary": Opt(str), "startTime": Opt(Date),
    "state": OneOf(frozenset(STATES)), "type": const("WorkflowRun"),
    "changeSet": ListOf(CHANGESET),
    "branch": Opt(dict), "commitId": Opt(str), "commitUrl": Opt(str), "pullRequest": Opt(dict),
    "testSummary": dict}, optional=frozenset({"testSummary"}))
# QueuedBlueRun (reference §1.6, constructed from QueuedBlueRun.java).
QUEUED_RUN = Shape({
    "_class": const("io.jenkins.blueocean.service.embedded.rest.QueuedBlueRun"),
    "_links": links(*QUEUED_RUN_LINKS), "actions": list,
    "artifactsZipFile": Opt(str), "causeOfBlockage": Opt(str), "causes": ListOf(CAUSE),
    "changeSet": ListOf(CHANGESET), "description": Opt(str), "durationInMillis": Opt(int),
    "enQueueTime": Opt(Date), "endTime": Opt(Date), "estimatedDurationInMillis": Opt(int),
    "id": str, "name": Opt(str), "organization": const("jenkins"), "pipeline": str,
    "queueId": str, "replayable": bool, "result": OneOf(frozenset(RESULTS)),
    "runSummary": Opt(str), "startTime": Opt(Date), "state": OneOf(frozenset(STATES)),
    "type": const("QueuedItem")})
# QueueItemImpl: recorded replay-readme.json and queue-item-readme.json; cause and
# causeOfBlockage are BlueQueueItem's newer getters.
QUEUE_ITEM = Shape({
    "_class": const("io.jenkins.blueocean.service.embedded.rest.QueueItemImpl"),
    "_links": links("self", "parent"), "cause": ListOf(CAUSE), "causeOfBlockage": Opt(str),
    "expectedBuildNumber": int, "id": str, "organization": const("jenkins"), "pipeline": str,
    "queuedTime": Date}, legacy=frozenset({"organization", "cause", "causeOfBlockage"}))
# PipelineImpl: jenkins-client blueocean_test.go (reference §1.3).
PIPELINE = Shape({
    "_class": const("io.jenkins.blueocean.rest.impl.pipeline.PipelineImpl"),
    # scm: only multibranch pipelines have an SCM resource; a plain one's link is dead.
    "_links": links("self", "actions", "runs", "trends", "queue",
                    optional=("activities", "scm")),
    "actions": list, "disabled": bool, "displayName": str, "estimatedDurationInMillis": int,
    "fullDisplayName": str, "fullName": str, "latestRun": Opt((RUN, QUEUED_RUN)), "name": str,
    "organization": const("jenkins"), "parameters": ListOf(PARAMETER),
    "permissions": Shape({"create": bool, "configure": bool, "read": bool, "start": bool,
                          "stop": bool}, legacy=frozenset({"configure"})),
    "weatherScore": int})
EDGE = Shape({"_class": const("io.jenkins.blueocean.rest.impl.pipeline.PipelineNodeImpl$EdgeImpl"),
              "id": str, "type": OneOf(frozenset({"STAGE", "PARALLEL"}))},
             legacy=frozenset({"type"}))
# PipelineNodeImpl (reference §1.4; recorded nodes-poststagefail.json).
NODE = Shape({
    "_class": const("io.jenkins.blueocean.rest.impl.pipeline.PipelineNodeImpl"),
    "_links": links("self", "actions", "steps"), "actions": list,
    "displayDescription": Opt(str), "displayName": str, "durationInMillis": Opt(int),
    "id": str, "input": Opt(dict), "result": Opt(OneOf(frozenset(RESULTS))),
    "startTime": Opt(Date), "state": Opt(OneOf(frozenset(STATES))),
    "type": OneOf(frozenset({"STAGE", "PARALLEL"})), "causeOfBlockage": Opt(str),
    "edges": ListOf(EDGE), "firstParent": Opt(str), "restartable": bool},
    legacy=frozenset({"displayDescription", "type", "firstParent", "restartable"}))
ACTION = Shape({"_class": str, "_links": Shape({"self": Opt(LINK)}), "urlName": Opt(str)})
INPUT = Shape({
    "_class": const("io.jenkins.blueocean.rest.impl.pipeline.InputStepImpl"),
    "_links": links("self"), "id": str, "message": str, "ok": str,
    "parameters": ListOf(PARAMETER), "submitter": Opt(str)})
# PipelineStepImpl (reference §1.5; recorded steps-*.json and step-input.json).
STEP = Shape({
    "_class": const("io.jenkins.blueocean.rest.impl.pipeline.PipelineStepImpl"),
    "_links": links("self", "actions"), "actions": ListOf(ACTION),
    "displayDescription": Opt(str), "displayName": str, "durationInMillis": Opt(int),
    "id": str, "input": Opt(INPUT), "result": Opt(OneOf(frozenset(RESULTS))),
    "startTime": Opt(Date), "state": Opt(OneOf(frozenset(STATES))), "type": const("STEP")},
    legacy=frozenset({"displayDescription", "type", "input"}))
EXTENSION_CLASS = Shape({
    "_class": const("io.jenkins.blueocean.service.embedded.rest.ExtensionClassImpl"),
    "_links": links("self"), "classes": ListOf(str)})
# The map's class was an anonymous $1 until 2017 (the README's recording), then
# BlueExtensionClassMapImpl.
CLASSES = Shape({
    "_class": OneOf(frozenset({
        "io.jenkins.blueocean.service.embedded.rest.ExtensionClassContainerImpl$1",
        "io.jenkins.blueocean.service.embedded.rest.ExtensionClassContainerImpl"
        "$BlueExtensionClassMapImpl"})),
    "_links": links("self"), "map": dict})
ACTIONS = ListOf(ACTION)
TEST_SUMMARY = Shape({
    "_class": const("io.jenkins.blueocean.rest.model.BlueTestSummary"),
    "_links": links("self"), **{key: int for key in (
        "existingFailed", "failed", "fixed", "passed", "regressions", "skipped", "total")}})
# BlueJUnitTrend (blueocean-rest-impl) and StageDurationTrend (blueocean-pipeline-api-impl).
TREND = Shape({
    "_class": OneOf(frozenset({
        "io.jenkins.blueocean.service.embedded.rest.junit.BlueJUnitTrend",
        "io.jenkins.blueocean.rest.impl.pipeline.StageDurationTrend"})),
    "_links": links("self", "rows"), "columns": dict, "displayName": str, "id": str})
TREND_ROWS = {
    "junit": Shape({
        "_class": const("io.jenkins.blueocean.service.embedded.rest.junit.BlueJUnitTrend"
                        "$BlueJUnitTrendRow"), "id": str,
        **{key: int for key in ("total", "passed", "fixed", "failed", "existingFailed",
                                "regressions", "skipped")}}),
    "stageDuration": Shape({
        "_class": const("io.jenkins.blueocean.rest.impl.pipeline.StageDurationTrend"
                        "$StageDurationTrendRow"), "id": str, "nodes": dict})}
ERROR = Shape({"message": str, "code": int, "errors": list, "requestId": Opt(str)},
              optional=frozenset({"requestId"}))

def check(doc: Any, spec: Any, path: str = "$", *, strict: bool = True) -> list[str]:
    """Problems of doc against spec; strict: the sidecar's keys that are always sent."""
    if isinstance(spec, Opt):
        return [] if doc is None else check(doc, spec.spec, path, strict=strict)
    if isinstance(spec, tuple) and all(isinstance(s, Shape) for s in spec):
        errors = [check(doc, s, path, strict=strict) for s in spec]
        return [] if any(not e for e in errors) else min(errors, key=len)
    if isinstance(spec, Shape):
        return _shape(doc, spec, path, strict)
    if isinstance(spec, Links):
        return _links(doc, spec, path, strict)
    if isinstance(spec, ListOf):
        if not isinstance(doc, list):
            return [f"{path}: expected a list, got {type(doc).__name__}"]
        return [e for i, item in enumerate(doc) for e in check(item, spec.spec, f"{path}[{i}]",
                                                               strict=strict)]
    if isinstance(spec, OneOf):
        return [] if doc in spec.values else [f"{path}: {doc!r} not in {sorted(spec.values)}"]
    if spec is Date:
        return [] if isinstance(doc, str) and DATE.match(doc) else [f"{path}: bad date {doc!r}"]
    types = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(doc, bool) and bool not in types:  # a bool is an int in Python
        return [f"{path}: expected {spec}, got bool"]
    return [] if isinstance(doc, types) else [f"{path}: expected {spec}, got {doc!r}"]


def _shape(doc: Any, spec: Shape, path: str, strict: bool) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{path}: expected an object, got {doc!r}"]
    required = set(spec.fields) - spec.optional - (set() if strict else spec.legacy)
    problems = [f"{path}: missing key {k}" for k in sorted(required - set(doc))]
    problems += [f"{path}: unexpected key {k}" for k in sorted(set(doc) - set(spec.fields))]
    for key, value in doc.items():
        if key in spec.fields:
            problems += check(value, spec.fields[key], f"{path}.{key}", strict=strict)
    return problems


def _links(doc: Any, spec: Links, path: str, strict: bool) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{path}: expected links, got {doc!r}"]
    # Older recordings lack some links; the sidecar must send them all.
    missing = sorted(spec.names - set(doc)) if strict else []
    problems = [f"{path}: missing link {k}" for k in missing]
    problems += [f"{path}: unexpected link {k}" for k in sorted(
        set(doc) - spec.names - spec.optional)]
    for name, value in doc.items():
        problems += check(value, LINK, f"{path}.{name}")
        if isinstance(value, dict) and not str(value.get("href", "")).endswith("/"):
            problems.append(f"{path}.{name}: href {value.get('href')!r} does not end in '/'")
    return problems
