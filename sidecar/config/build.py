"""Build the immutable `Pipeline` model from a config that passed validation.

Defaults are applied here, once, so the renderer never guesses a missing key.
"""

from __future__ import annotations

from typing import Any

from sidecar.config import model, rancher
from sidecar.config.schema import STEP_TYPES


def build_pipeline(data: dict) -> model.Pipeline:
    """The Pipeline model of a config that passed validation."""
    return model.Pipeline(
        stages=tuple(_build_stage(stage) for stage in data["stages"]),
        services=tuple(_build_service(service) for service in data.get("services", [])),
        parameters=tuple(_build_parameter(p) for p in data.get("parameters", [])),
        timeout=data.get("timeout", 60),
        branch=_constraint(data.get("branch")),
        notification=_build_notification(data.get("notification")),
        discarder=_build_discarder(data.get("discarder")),
        protected_branches=_optional_tuple(data.get("cache", {}).get("protectedBranches")),
    )


def _build_stage(stage: dict) -> model.Stage:
    return model.Stage(
        name=stage["name"],
        steps=tuple(_build_step(step) for step in stage["steps"]),
        when=_build_when(stage.get("when")),
        cache=_build_cache(stage.get("cache")),
    )


def _build_step(step: dict) -> model.Step:
    kind = next(kind for kind in STEP_TYPES if kind in step)
    options = {**_step_defaults(kind), **(step[kind] or {})}
    if kind == "applyAppConfig":
        options = rancher.app_options(options)
    if kind == "approvalConfig":
        options["parameters"] = tuple(_build_parameter(p) for p in options["parameters"])
    return model.Step(
        kind=kind,
        options=options,
        env=_env(step.get("env")),
        env_from=tuple(model.SecretEnv(e["sourceName"], e["sourceKey"],
                                       e.get("targetKey") or e["sourceKey"])
                       for e in step.get("envFrom", [])),
        cache=_build_cache(step.get("cache")),
        when=_build_when(step.get("when")),
        timeout=step.get("timeout"),
        privileged=step.get("privileged", False),
        resources=_build_resources(step),
        run_as_user=step.get("runAsUser"),
    )


def _step_defaults(kind: str) -> dict:
    return {
        "publishImageConfig": {"dockerfilePath": "./Dockerfile", "buildContext": ".",
                               "registry": "", "pushRemote": True},
        "applyYamlConfig": {"namespace": ""},
        "applyAppConfig": {"namespace": "", "version": "", "repo": "", "values": [],
                           "set": {}, "answers": {}, "rollbackOnFailure": False, "wait": True},
        "approvalConfig": {"ok": "Proceed", "timeout": 60, "parameters": []},
    }.get(kind, {})


def _build_service(service: dict) -> model.Service:
    return model.Service(
        name=service["name"], image=service["image"], env=_env(service.get("env")),
        command=tuple(service.get("command", ())), args=tuple(service.get("args", ())),
        resources=_build_resources(service),
    )


def _build_parameter(parameter: dict) -> model.Parameter:
    kind = parameter.get("type", "string")
    default = parameter.get("default", False if kind == "boolean" else "")
    choices = tuple(_scalar(c) for c in parameter.get("choices", ()))
    if kind == "choice" and "default" not in parameter:
        default = choices[0]
    return model.Parameter(
        name=parameter["name"], type=kind,
        default=default if kind == "boolean" else _scalar(default),
        description=parameter.get("description", ""), choices=choices,
    )


def _build_notification(data: dict | None) -> model.Notification | None:
    if data is None:
        return None
    condition = _constraint(data.get("condition"))
    return model.Notification(
        recipients=tuple((r["recipient"], r["notifier"]) for r in data.get("recipients", [])),
        message=data.get("message", ""),
        condition=condition.include if condition else (),
    )


def _build_discarder(data: dict | None) -> model.Discarder | None:
    if data is None:
        return None
    return model.Discarder(data.get("daysToKeep"), data.get("numToKeep"))


def _build_when(data: dict | None) -> model.When | None:
    if data is None:
        return None
    return model.When(branch=_constraint(data.get("branch")), event=_constraint(data.get("event")))


def _build_cache(data: dict | None) -> model.Cache | None:
    if data is None:
        return None
    return model.Cache(enabled=data.get("enabled", True), paths=tuple(data.get("paths", ())))


def _build_resources(data: dict) -> model.Resources:
    def quantity(key: str) -> str | None:
        return None if data.get(key) is None else _scalar(data[key])
    return model.Resources(quantity("cpuRequest"), quantity("cpuLimit"),
                           quantity("memoryRequest"), quantity("memoryLimit"))


def _constraint(data: Any) -> model.Constraint | None:
    if data is None:
        return None
    if isinstance(data, dict):
        return model.Constraint(_strings(data.get("include")), _strings(data.get("exclude")))
    return model.Constraint(_strings(data))


def _strings(data: Any) -> tuple[str, ...]:
    if data is None:
        return ()
    return tuple(data) if isinstance(data, list) else (data,)


def _optional_tuple(data: list | None) -> tuple | None:
    return None if data is None else tuple(data)


def _env(data: dict | None) -> tuple[tuple[str, str], ...]:
    return tuple((name, _scalar(value)) for name, value in (data or {}).items())


def _scalar(value: Any) -> str:
    """YAML scalars as the text a container sees: true/false, not Python's True/False."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
