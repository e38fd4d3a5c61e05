"""Strict scalars: text the format wants as text is never a YAML 1.1 boolean, number or date.

YAML 1.1, which PyYAML and Rancher's Go parser both speak, reads the unquoted ``NO`` as
false, ``1.10`` as the number 1.1 and ``0755`` as the octal number 493; an env key
``NO`` would reach the pod as ``name: false``. The loader keeps the source text of such
plain scalars (`Located.typed`, `Located.typed_keys`); here they become errors that say
how YAML read them and how to write what was meant. Where the format wants a number or
a boolean, the schema accepts only that, so ``timeout: '30'`` stays an error too.
"""

from __future__ import annotations

import datetime
from typing import Any

import yaml

from sidecar.config.loader import ConfigPath, Located, format_path
from sidecar.errors import Problem


def key_problems(located: Located) -> list[Problem]:
    """Every mapping key YAML read as something else than text: keys are always names here."""
    return [Problem(f"the key {text} is read by YAML 1.1 as {_reading(text)}, not as text; "
                    f"write {quoted(text)} in quotes",
                    located.keys.get(path) or located.pos(path[:-1]),
                    format_path(path[:-1] + (text,)))
            for path, text in sorted(located.typed_keys.items(), key=lambda item: str(item[0]))]


def string_hint(located: Located, path: ConfigPath) -> str | None:
    """The message for a value at path that was meant as text, or None when it was not typed."""
    text = located.typed.get(tuple(path))
    if not text:
        return None
    return (f"expected a string, got {text}, which YAML 1.1 reads as {_reading(text)}; "
            f"write {quoted(text)} in quotes")


def wants_string(schema: Any) -> bool:
    """True when a schema (or one of its alternatives) accepts a string."""
    if not isinstance(schema, dict):
        return False
    kinds = schema.get("type", [])
    if "string" in (kinds if isinstance(kinds, list) else [kinds]):
        return True
    return any(wants_string(sub) for key in ("anyOf", "oneOf") for sub in schema.get(key, []))


def unquote_hint(value: Any, types: list[str]) -> str:
    """'; write 30 without quotes' when a quoted value would be the number or boolean wanted."""
    if not isinstance(value, str) or "string" in types:
        return ""
    try:
        read = yaml.safe_load(value)
    except yaml.YAMLError:
        return ""
    kinds = {"boolean": (bool,), "integer": (int,), "number": (int, float)}
    if any(isinstance(read, kinds.get(t, ())) for t in types) and \
            (isinstance(read, bool) == ("boolean" in types)):
        return f"; write {value} without quotes"
    return ""


def quoted(text: str) -> str:
    """text as a single-quoted YAML scalar."""
    return "'" + text.replace("'", "''") + "'"


def _reading(text: str) -> str:
    value = yaml.safe_load(text)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"
    return "nothing (null)" if value is None else repr(value)
