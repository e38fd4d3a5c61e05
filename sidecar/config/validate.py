"""Turn a located YAML document into a validated `Pipeline`, reporting every problem at once."""

from __future__ import annotations

import difflib
import posixpath
import re
from typing import Any

import jsonschema

from sidecar.config import model, rancher, scalars
from sidecar.config.build import build_pipeline
from sidecar.config.loader import ConfigPath, Located, format_path
from sidecar.config.model import helm_key_path
from sidecar.config.quantity import parse_quantity
from sidecar.config.schema import STEP_TYPES, pipeline_schema
from sidecar.errors import ConfigError, Problem

# Names the renderer gives its own Jenkins stages; user stages must not take them.
RESERVED_STAGE = re.compile(r"^(step-\d+-\d+|agent-\d+|Clone-\d+|node-\d+)$")
RESERVED_CONTAINER = re.compile(r"^(jnlp|step-.*)$")

_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "object": "a mapping", "array": "a list",
               "null": "nothing"}


def schema_problems(located: Located, schema: dict) -> list[Problem]:
    """Every structural problem of a located document against a JSON Schema."""
    validator = jsonschema.Draft202012Validator(schema)
    problems = scalars.key_problems(located)
    for error in validator.iter_errors(located.data):
        if not _under_typed_key(located.data, error.absolute_path):
            problems.extend(_explain(error, located))
    return problems


def _under_typed_key(data: Any, path) -> bool:
    """True when path passes through a mapping key that is not text (reported by its own)."""
    for part in path:
        if isinstance(data, dict) and not isinstance(part, str):
            return True
        data = data[part] if isinstance(data, (dict, list)) else None
    return False


def _explain(error: jsonschema.ValidationError, located: Located) -> list[Problem]:
    path: ConfigPath = tuple(error.absolute_path)
    schema, instance = error.schema, error.instance
    expected = schema.get("x-expected") if isinstance(schema, dict) else None

    def at(message: str, where: ConfigPath = path, key: bool = False) -> Problem:
        return Problem(message, located.pos(where, key=key), format_path(where))

    hint = None if isinstance(instance, str) or not scalars.wants_string(schema) \
        else scalars.string_hint(located, path)
    if hint:
        return [at(hint)]
    if error.validator in ("anyOf", "oneOf"):
        # Errors inside the alternative whose shape matched say more than "none matched".
        deeper = [sub for sub in error.context if sub.relative_path]
        if deeper:
            return [problem for sub in deeper for problem in _explain(sub, located)]
    if list(error.schema_path)[-2:] == ["propertyNames", "pattern"]:
        return [at(f"invalid name {instance!r}: expected letters, digits and '_', "
                   "not starting with a digit", path + (instance,), key=True)]
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        # Keys YAML read as booleans or numbers are reported by scalars.key_problems.
        return [at(_unknown_key(extra, known), path + (extra,), key=True)
                for extra in instance if extra not in known and isinstance(extra, str)]
    if error.validator == "required":
        return [at(f"missing required key {error.message.split(' is a required')[0]}")]
    if expected:
        return [at(f"expected {expected}, got {_show(instance)}")]
    if error.validator == "type":
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        words = " or ".join(_TYPE_WORDS[t] for t in types)
        hint = scalars.unquote_hint(instance, types)
        return [at(f"expected {words}, got {_show(instance)}{hint}")]
    if error.validator == "enum":
        return [at(_not_in(instance, [str(v) for v in schema["enum"]]))]
    if error.validator == "minItems":
        return [at(f"expected at least {schema['minItems']} item(s)")]
    if error.validator == "minLength":
        return [at("must not be empty")]
    if error.validator in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        return [at(f"expected a number {bounds}, got {_show(instance)}")]
    if error.validator == "pattern":
        return [at(f"{_show(instance)} does not match the pattern {schema['pattern']}")]
    return [at(error.message)]


def _unknown_key(key: Any, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(known)}"
    return f"unknown key {_show(key)}; {hint}"


def _not_in(value: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"expected one of {', '.join(allowed)}; got {_show(value)}{hint}"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def validate_pipeline(located: Located) -> model.Pipeline:
    """Validate a loaded config and build the Pipeline model; raise ConfigError listing all."""
    data = located.data
    if not isinstance(data, dict):
        got = "an empty file" if data is None else _show(data)
        raise ConfigError(Problem(f"expected a mapping with a 'stages' list, got {got}",
                                  located.pos(())))
    problems = schema_problems(located, pipeline_schema())
    if not problems:
        problems = _semantic_problems(located)
    if problems:
        raise ConfigError(problems)
    return build_pipeline(data)


def _semantic_problems(located: Located) -> list[Problem]:
    """Rules across fields that the schema cannot state clearly."""
    data, problems = located.data, []

    def report(message: str, path: ConfigPath, key: bool = False) -> None:
        problems.append(Problem(message, located.pos(path, key=key), format_path(path)))

    stage_names: dict[str, int] = {}
    for s, stage in enumerate(data["stages"]):
        name = stage["name"]
        if name in stage_names:
            report(f"duplicate stage name {name!r} (first used by stages[{stage_names[name]}]); "
                   "Jenkins needs unique stage names", ("stages", s, "name"))
        stage_names.setdefault(name, s)
        if RESERVED_STAGE.match(name):
            report(f"stage name {name!r} is reserved for the sidecar's own stages",
                   ("stages", s, "name"))
        _check_cache(stage.get("cache"), ("stages", s, "cache"), report)
        for i, step in enumerate(stage["steps"]):
            _check_step(step, ("stages", s, "steps", i), len(stage["steps"]), s, report)
    _check_unique(data.get("services", []), "name", "service name", ("services",), report)
    for index, service in enumerate(data.get("services", [])):
        _check_resources(service, ("services", index), report)
        if RESERVED_CONTAINER.match(service["name"]):
            report(f"service name {service['name']!r} is reserved for the sidecar's containers",
                   ("services", index, "name"))
    _check_parameters(data.get("parameters", []), ("parameters",), report)
    return problems


def _check_step(step: dict, path: ConfigPath, stage_size: int, stage_index: int, report) -> None:
    kinds = [kind for kind in STEP_TYPES if kind in step]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        report(f"a step needs exactly one of {', '.join(STEP_TYPES)}; found {found}", path)
        return
    kind, options = kinds[0], step[kinds[0]]
    if kind in ("approvalConfig", "sourceCodeConfig") and stage_size != 1:
        report(f"{kind} must be the only step of its stage", path + (kind,), key=True)
    if kind == "sourceCodeConfig" and stage_index != 0:
        report("sourceCodeConfig must be in the first stage", path + (kind,), key=True)
    if kind == "applyYamlConfig" and ("path" in options) == ("content" in options):
        report("applyYamlConfig needs exactly one of 'path' or 'content'", path + (kind,), key=True)
    if kind == "applyAppConfig":
        rancher.check_app(options, path + (kind,), report)
        field = "answers" if "answers" in options else "set"
        paths = {helm_key_path(key): key for key in options.get(field, {})}
        for parts, key in sorted(paths.items()):
            for depth in range(1, len(parts)):
                if parts[:depth] in paths:
                    report(f"'{paths[parts[:depth]]}' is set both as a value and as the "
                           f"parent of '{key}'", path + (kind, field, key), key=True)
    if kind == "approvalConfig":
        _check_parameters(options.get("parameters", []), path + (kind, "parameters"), report)
        for index, submitter in enumerate(options["submitters"]):
            if "," in submitter:
                report("a submitter name cannot contain ','; list each one separately",
                       path + (kind, "submitters", index))
    _check_cache(step.get("cache"), path + ("cache",), report)
    _check_resources(step, path, report)
    targets = [{"name": e.get("targetKey") or e["sourceKey"]} for e in step.get("envFrom", [])]
    _check_unique(targets, "name", "environment variable", path + ("envFrom",), report)


def _check_resources(owner: dict, path: ConfigPath, report) -> None:
    for resource in ("cpu", "memory"):
        request, limit = owner.get(f"{resource}Request"), owner.get(f"{resource}Limit")
        if request is not None and limit is not None and \
                parse_quantity(request) > parse_quantity(limit):
            report(f"{resource}Request {request} is more than {resource}Limit {limit}",
                   path + (f"{resource}Request",))


def _check_cache(cache: dict | None, path: ConfigPath, report) -> None:
    for index, item in enumerate((cache or {}).get("paths", [])):
        if not item.startswith("/") or posixpath.normpath(item) != item or item == "/":
            report(f"cache path {item!r} must be an absolute, normalised path below '/'",
                   path + ("paths", index))


def _check_parameters(parameters: list[dict], path: ConfigPath, report) -> None:
    _check_unique(parameters, "name", "parameter name", path, report)
    for index, parameter in enumerate(parameters):
        if parameter["name"].startswith("SIDECAR_"):
            report("parameter names starting with SIDECAR_ are reserved for the sidecar",
                   path + (index, "name"))
        kind = parameter.get("type", "string")
        choices = [str(c) for c in parameter.get("choices", [])]
        if kind == "choice" and not choices:
            report("a choice parameter needs 'choices'", path + (index,))
        if kind != "choice" and choices:
            report(f"'choices' only applies to type choice, not {kind}", path + (index, "choices"))
        if kind == "boolean" and not isinstance(parameter.get("default", False), bool):
            report("a boolean parameter's default must be true or false", path + (index, "default"))
        if kind == "choice" and "default" in parameter and str(parameter["default"]) not in choices:
            report(f"default {parameter['default']!r} is not one of the choices",
                   path + (index, "default"))
        for key in ("description", "default"):
            if _has_control(parameter.get(key)):
                report("control characters cannot be stored in Jenkins job XML",
                       path + (index, key))


def _check_unique(items: list[dict], key: str, what: str, path: ConfigPath, report) -> None:
    seen: set = set()
    for index, item in enumerate(items):
        if item.get(key) in seen:
            report(f"duplicate {what} {item.get(key)!r}", path + (index,))
        seen.add(item.get(key))


def _has_control(value: Any) -> bool:
    return isinstance(value, str) and any(ord(c) < 32 and c not in "\t\n\r" for c in value)
