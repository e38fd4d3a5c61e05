"""The JSON Schema of the pipeline config format (DESIGN §3).

One schema serves three purposes: validation (every structural error at once, with
positions), the ``jenkins-sidecar schema`` command for editors, and documentation.
Rules that a schema states badly (exactly one step type, unique names) live in
``validate.py``. ``x-expected`` is our own annotation: the human wording used in error
messages for alternatives that plain JSON Schema would report as "not valid under any
of the given schemas".
"""

from __future__ import annotations

from typing import Any

from sidecar.config.rancher import CATALOG_TEMPLATE, TEMPLATE_NAME

EVENTS = ["push", "pull_request", "tag", "manual", "image", "cron"]
NOTIFY_CONDITIONS = ["Success", "Failed", "Changed", "Fixed", "Regression", "Aborted", "Pending"]
MAX_NOTIFY_MESSAGE = 4096
"""Characters of a notification message template."""

STEP_TYPES = [
    "sourceCodeConfig",
    "runScriptConfig",
    "publishImageConfig",
    "publishCatalogConfig",
    "applyYamlConfig",
    "applyAppConfig",
    "approvalConfig",
]

# Kubernetes resource.Quantity, as in apimachinery's quantity regular expression.
QUANTITY = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

_STRING = {"type": "string"}
_NON_EMPTY = {"type": "string", "minLength": 1}
_MINUTES = {"type": "integer", "minimum": 1, "maximum": 10080, "description": "minutes"}
_QUANTITY = {"type": ["string", "number"], "pattern": QUANTITY,
             "x-expected": "a Kubernetes quantity such as 500m, 2 or 1Gi"}
_SCALAR = {"type": ["string", "number", "boolean"]}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": False, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def _string_or_list(item: dict) -> dict:
    return {"anyOf": [item, {"type": "array", "items": item}]}


def _constraint(item: dict, what: str) -> dict:
    listed = _string_or_list(item)
    return {
        "anyOf": [item, {"type": "array", "items": item},
                  _obj({"include": listed, "exclude": listed})],
        "x-expected": f"{what}, a list of them, or a mapping with include/exclude lists",
    }


_RESOURCES = {
    "cpuRequest": _QUANTITY, "cpuLimit": _QUANTITY,
    "memoryRequest": _QUANTITY, "memoryLimit": _QUANTITY,
}
# Env keys and values are text: an unquoted NO, 1.10 or 0755 is an error (config/scalars.py).
_ENV = {"type": "object", "propertyNames": {"pattern": ENV_NAME},
        "additionalProperties": _STRING,
        "description": "container environment; Kubernetes expands $(VAR) references"}
_ENV_FROM = {"type": "array", "items": _obj(
    {"sourceName": _NON_EMPTY, "sourceKey": _NON_EMPTY,
     "targetKey": {"type": "string", "pattern": ENV_NAME}},
    ("sourceName", "sourceKey"))}
_CACHE = _obj({"enabled": {"type": "boolean"},
               "paths": {"type": "array", "items": _NON_EMPTY}})
_WHEN = _obj({
    "branch": _constraint(_NON_EMPTY, "a branch glob"),
    "event": _constraint({"enum": EVENTS}, "an event"),
})
_PARAMETER = _obj({
    "name": {"type": "string", "pattern": ENV_NAME},
    "type": {"enum": ["string", "boolean", "choice"]},
    "default": _SCALAR,
    "description": _STRING,
    "choices": {"type": "array", "items": _SCALAR, "minItems": 1},
}, ("name",))

STEP_CONFIGS: dict[str, dict] = {
    "sourceCodeConfig": _obj({}),
    "runScriptConfig": _obj({"image": _NON_EMPTY, "shellScript": _STRING},
                            ("image", "shellScript")),
    "publishImageConfig": _obj({
        "dockerfilePath": _NON_EMPTY, "buildContext": _NON_EMPTY, "tag": _NON_EMPTY,
        "registry": _STRING, "pushRemote": {"type": "boolean"},
        "credentialSecret": {"type": "string", "pattern": DNS_LABEL,
                             "description": "Secret of type kubernetes.io/dockerconfigjson"},
        "buildArgs": _ENV,
    }, ("tag",)),
    "publishCatalogConfig": _obj({
        "path": _NON_EMPTY,
        "catalogTemplate": {"type": "string", "pattern": TEMPLATE_NAME,
                            "x-expected": "a template name such as wordpress"},
        "version": _NON_EMPTY, "gitUrl": _NON_EMPTY, "gitBranch": _NON_EMPTY,
        "gitAuthor": _NON_EMPTY, "gitEmail": _NON_EMPTY,
        "credentialSecret": {"type": "string", "pattern": DNS_LABEL,
                             "description": "Secret with USERNAME and PASSWORD (HTTPS) or "
                                            "DEPLOY_KEY (SSH); Rancher configs use envFrom"},
    }, ("path", "catalogTemplate", "version", "gitUrl", "gitBranch", "gitAuthor", "gitEmail")),
    "applyYamlConfig": _obj({"path": _NON_EMPTY, "content": _NON_EMPTY, "namespace": _STRING}),
    # The sidecar's fields (chart, releaseName, namespace, set, repo) or Rancher's
    # (catalogTemplate, name, targetNamespace, answers); validate.py wants one of each pair.
    "applyAppConfig": _obj({
        "chart": _NON_EMPTY, "releaseName": _NON_EMPTY, "namespace": _NON_EMPTY,
        "version": _STRING, "repo": _STRING,
        "values": _string_or_list(_NON_EMPTY),
        "set": {"type": "object", "additionalProperties": _SCALAR},
        "rollbackOnFailure": {"type": "boolean"}, "wait": {"type": "boolean"},
        "catalogTemplate": {"type": "string", "pattern": CATALOG_TEMPLATE,
                            "x-expected": "<catalog>-<template> or "
                                          "cattle-global-data:<catalog>-<template>"},
        "name": _NON_EMPTY, "targetNamespace": _NON_EMPTY,
        "answers": {"type": "object", "additionalProperties": _STRING,
                    "description": "Rancher answers: --set style keys, typed as helm --set "
                                   "types them, passed as a values document"},
    }),
    "approvalConfig": _obj({
        "id": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"},
        "message": _NON_EMPTY, "ok": _NON_EMPTY,
        "submitters": {"type": "array", "items": _NON_EMPTY, "minItems": 1},
        "timeout": _MINUTES,
        "parameters": {"type": "array", "items": _PARAMETER},
    }, ("message", "submitters")),
}

STEP = _obj({
    **STEP_CONFIGS,
    "env": _ENV, "envFrom": _ENV_FROM, "cache": _CACHE, "when": _WHEN,
    "timeout": _MINUTES, "privileged": {"type": "boolean"}, **_RESOURCES,
    "runAsUser": {"type": "integer", "minimum": 0, "maximum": 2147483647,
                  "description": "uid the step's container runs as; its caches are chowned to it"},
})

STAGE = _obj({
    "name": _NON_EMPTY,
    "steps": {"type": "array", "items": STEP, "minItems": 1},
    "when": _WHEN,
    "cache": _CACHE,
}, ("name", "steps"))

SERVICE = _obj({
    "name": {"type": "string", "pattern": DNS_LABEL},
    "image": _NON_EMPTY,
    "env": _ENV,
    "command": {"type": "array", "items": _STRING},
    "args": {"type": "array", "items": _STRING},
    **_RESOURCES,
}, ("name", "image"))

PIPELINE = _obj({
    "stages": {"type": "array", "items": STAGE, "minItems": 1},
    "services": {"type": "array", "items": SERVICE},
    "parameters": {"type": "array", "items": _PARAMETER},
    "timeout": _MINUTES,
    "branch": _constraint(_NON_EMPTY, "a branch glob"),
    "notification": _obj({
        "recipients": {"type": "array", "items": _obj(
            {"recipient": _NON_EMPTY, "notifier": _NON_EMPTY}, ("recipient", "notifier"))},
        "message": {"type": "string", "maxLength": MAX_NOTIFY_MESSAGE,
                    "description": "a Jinja2 template of the execution's fields"},
        "condition": _constraint({"enum": NOTIFY_CONDITIONS},
                                 "one of " + ", ".join(NOTIFY_CONDITIONS)),
    }),
    "cache": _obj({"protectedBranches": {
        "type": "array", "items": _NON_EMPTY,
        "description": "narrows the project's protectedBranches setting (a branch must match "
                       "both); it can never widen it: the commit being built does not decide "
                       "its own trust"}}),
    "discarder": _obj({"daysToKeep": {"type": "integer", "minimum": 1},
                       "numToKeep": {"type": "integer", "minimum": 1}}),
}, ("stages",))


def pipeline_schema() -> dict:
    """The published JSON Schema document for pipeline configs."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:jenkins-sidecar:pipeline-config",
        "title": "jenkins-sidecar pipeline config",
        **PIPELINE,
    }
