"""Bound a YAML document before it is composed: size, nesting depth, alias expansion.

Configs come from anyone who can open a pull request, and YAML aliases let a few
hundred bytes name billions of nodes (the "billion laughs"): composing shares the
aliased node, but every walk over the loaded data (positions, schema validation,
JSON) expands it. One streaming pass over the parser's events, before anything is
composed, measures what the document would expand to, and refuses it early:

- more than `MAX_BYTES` of text;
- collections nested deeper than `MAX_DEPTH`, counting what aliases bring in;
- an expansion of more than `MAX_NODES` nodes, or more than `MAX_RATIO` times the
  events actually written (aliases are fine; aliases that multiply are not);
- an alias inside the node it names (a recursive structure).
"""

from __future__ import annotations

import yaml

from sidecar.errors import ConfigError, Pos, Problem

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_RATIO = 10

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _Frame:
    """A collection being read: its anchor, expanded size and expanded depth below it."""

    __slots__ = ("anchor", "size", "depth")

    def __init__(self, anchor: str | None):
        self.anchor, self.size, self.depth = anchor, 1, 0


def check(text: str, file: str) -> None:
    """Refuse a document that is too big, too deep or expands too far. :raise ConfigError:"""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ConfigError(Problem(f"the document is larger than {MAX_BYTES} bytes",
                                  Pos(file, 1, 1)))
    try:
        _measure(text, file)
    except yaml.YAMLError:
        return  # a syntax error: composing reports it with its position


def _measure(text: str, file: str) -> None:
    sizes: dict[str, tuple[int, int]] = {}   # anchor -> (expanded size, expanded depth)
    stack: list[_Frame] = [_Frame(None)]     # the bottom frame holds the documents
    events = 0
    for event in yaml.parse(text, Loader=_Loader):
        events += 1
        if isinstance(event, _OPEN):
            stack.append(_Frame(event.anchor))
            _deep(len(stack) - 1, event, file)
            continue
        if isinstance(event, _CLOSE):
            done = stack.pop()
            _add(stack, sizes, done.anchor, done.size, done.depth + 1)
        elif isinstance(event, yaml.ScalarEvent):
            _add(stack, sizes, event.anchor, 1, 0)
        elif isinstance(event, yaml.AliasEvent):
            _add(stack, sizes, None, *_aliased(stack, sizes, event, file))
        else:
            continue
        if sum(frame.size for frame in stack) > MAX_NODES:
            raise ConfigError(Problem(f"aliases expand the document beyond {MAX_NODES} nodes",
                                      _pos(event, file)))
        _deep(len(stack) - 1 + stack[-1].depth, event, file)
    if stack[0].size > MAX_RATIO * max(events, 1):
        raise ConfigError(Problem(
            f"aliases expand the document to {stack[0].size} nodes, more than {MAX_RATIO} "
            f"times its {events} events", Pos(file, 1, 1)))


def _add(stack: list[_Frame], sizes: dict, anchor: str | None, size: int, depth: int) -> None:
    """Count a finished node into the collection around it; remember it if anchored."""
    parent = stack[-1]
    parent.size += size
    parent.depth = max(parent.depth, depth)
    if anchor is not None:
        sizes[anchor] = (size, depth)


def _aliased(stack: list[_Frame], sizes: dict, event, file: str) -> tuple[int, int]:
    """Expanded size and depth of the node an alias names. :raise ConfigError:"""
    if any(frame.anchor == event.anchor for frame in stack):
        raise ConfigError(Problem(f"alias *{event.anchor} is inside the node it names",
                                  _pos(event, file)))
    if event.anchor not in sizes:
        raise ConfigError(Problem(f"alias *{event.anchor} names no anchor before it",
                                  _pos(event, file)))
    return sizes[event.anchor]


def _deep(depth: int, event, file: str) -> None:
    if depth > MAX_DEPTH:
        raise ConfigError(Problem(f"collections nested deeper than {MAX_DEPTH} levels",
                                  _pos(event, file)))


def _pos(event, file: str) -> Pos:
    return Pos(file, event.start_mark.line + 1, event.start_mark.column + 1)
