"""Untrusted text read strictly: JSON bodies and integers from URLs.

Python's ``json`` takes what a database or a Jenkins job cannot (``\\u0000``, lone
surrogates such as ``"\\ud800"``, ``NaN``, ``1e999``), and its recursion limit turns deep
nesting into a RecursionError, and a few MiB of tiny values into hundreds of MiB of
objects; ``int()`` takes ``"١٢"`` and ``" 1_2 "``. Everything
here refuses such input with a ConfigError (a 400 at the API) before any of it reaches
a service. The checks cost nothing on ordinary bodies: each scans the raw text in C
first and only looks closer when something suspicious is there.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sidecar.errors import ConfigError, Problem

MAX_DEPTH = 64
MAX_VALUES = 200_000
"""Arrays and objects together may hold at most this many values: parsed, a small JSON
value takes 50–100 times its size in memory, so 5 MiB of ``[{},{},…]`` would take
hundreds of MiB. The bound is counted on the raw text (commas and brackets, strings
included, so it errs towards refusing), before parsing."""
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_CONTROL_ESCAPE = re.compile(r"\\(?:[bfnrt]|u00[01]|u007[fF]|u00[89])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def loads(data: bytes | str) -> Any:
    """Parse a JSON document strictly. :raise ConfigError: with what was wrong."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise _bad("the body is not UTF-8 text") from None
    if text.count(",") + text.count("[") + text.count("{") > MAX_VALUES:
        raise _bad(f"JSON with more than {MAX_VALUES} values")
    keys_hook = _checked_keys if "\\" in text and _CONTROL_ESCAPE.search(text) else None
    try:
        value = json.loads(text, parse_constant=_no_constant, object_pairs_hook=keys_hook,
                           parse_float=_finite)
    except RecursionError:
        raise _bad(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except _Refused as exc:
        raise _bad(str(exc)) from None
    except ValueError as exc:
        raise _bad(f"the body is not valid JSON: {exc}") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(text):
        raise _bad(f"JSON nested deeper than {MAX_DEPTH} levels")
    if "\\u0000" in text and _NUL.search(text):
        raise _bad("JSON strings must not contain NUL (\\u0000)")
    if ("\\ud" in text or "\\uD" in text) and not _encodable(value):
        raise _bad("JSON strings must not contain lone surrogates")
    return value


def digits(text: str, longest: int = 18) -> bool:
    """True for a plain number: ASCII digits only, at most ``longest`` of them."""
    return 0 < len(text) <= longest and text.isascii() and text.isdigit()


def integer(text: str, name: str, minimum: int, maximum: int) -> int:
    """An integer query value within bounds. :raise ConfigError: anything else."""
    if not digits(text) or not minimum <= int(text) <= maximum:
        raise ConfigError(Problem(f"{name} must be a number from {minimum} to {maximum}",
                                  config_path=name))
    return int(text)


def boolean(text: str, name: str) -> bool:
    """A true/false query value (any case). :raise ConfigError: anything else."""
    if text.lower() not in ("true", "false"):
        raise ConfigError(Problem(f"{name} must be true or false", config_path=name))
    return text.lower() == "true"


def control_character(text: str) -> bool:
    """True when text holds a C0 or C1 control character (NUL, CR, LF, ESC, …)."""
    return bool(_CONTROL.search(text))


class _Refused(ValueError):
    """A value json must not accept; raised inside json's hooks."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:20]}… is too large")
    return value


def _checked_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    for key, _ in pairs:
        if _CONTROL.search(key):
            raise _Refused(f"the name {key!r} holds a control character")
    return dict(pairs)


def _too_deep(text: str) -> bool:
    """True when brackets outside strings nest deeper than MAX_DEPTH."""
    brackets = re.sub(r"[^\[\]{}]", "", _STRING.sub("", text))
    for _ in range(MAX_DEPTH):   # each round removes the innermost level everywhere
        brackets = brackets.replace("[]", "").replace("{}", "")
        if not brackets:
            return False
    return True


def _encodable(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _bad(message: str) -> ConfigError:
    return ConfigError(Problem(message))
