"""The ``tree`` parameter of Jenkins' remote API, as Stapler's ``NamedPathPruner`` applies it.

``tree=jobs[name,builds[number]{0,5}],mode``: only the named properties are written, at
every level; ``[...]`` names the properties of an object or of each element of a list;
``{M,N}`` keeps list elements M to N-1 (``{M,}`` from M, ``{,N}`` up to N, ``{M}``
element M only). ``_class`` is written for every object whatever the tree says, and a
named object without ``[...]`` keeps only its ``_class``. ``null`` values stay.
"""

from __future__ import annotations

import re
from typing import Any

Tree = dict[str, tuple["Tree | None", "tuple[int | None, int | None] | None"]]


def parse(text: str) -> Tree:
    """A tree expression as nested dicts: name -> (subtree or None, range or None)."""
    tree, rest = _items(text)
    if rest.strip():
        raise ValueError(f"unexpected {rest!r} in tree {text!r}")
    return tree


def prune(value: Any, tree: Tree | None) -> Any:
    """The value with only what the tree names (and every object's ``_class``)."""
    if isinstance(value, list):
        return [prune(element, tree) for element in value]
    if not isinstance(value, dict):
        return value
    pruned = {"_class": value["_class"]} if "_class" in value else {}
    for name, (subtree, span) in (tree or {}).items():
        if name not in value:
            continue
        item = value[name]
        if isinstance(item, list) and span is not None:
            start, end = span
            item = item[start or 0:end]
        pruned[name] = prune(item, subtree or {}) if isinstance(item, (dict, list)) else item
    return pruned


def _items(text: str) -> tuple[Tree, str]:
    tree: Tree = {}
    while True:
        match = re.match(r"\s*([A-Za-z_$][\w$]*)", text)
        if match is None:
            raise ValueError(f"expected a property name at {text!r}")
        name, text = match.group(1), text[match.end():]
        subtree = span = None
        if text.startswith("["):
            subtree, text = _items(text[1:])
            if not text.startswith("]"):
                raise ValueError(f"expected ']' at {text!r}")
            text = text[1:]
        if text.startswith("{"):
            end = text.index("}")
            span, text = _span(text[1:end]), text[end + 1:]
        tree[name] = (subtree, span)
        if not text.startswith(","):
            return tree, text
        text = text[1:]


def _span(text: str) -> tuple[int | None, int | None]:
    if "," not in text:
        index = int(text)
        return index, index + 1
    low, high = (part.strip() for part in text.split(",", 1))
    return (int(low) if low else None), (int(high) if high else None)
