"""Safe YAML loading that remembers where every key and value came from.

Documents are composed into nodes first (``yaml.SafeLoader``: no tags that build
Python objects) and then walked together with the constructed data, so each value
can be located by its config path, e.g. ``("stages", 1, "steps", 0)``. Duplicate keys
are reported instead of silently keeping the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sidecar.config import bounds
from sidecar.errors import ConfigError, Pos, Problem

ConfigPath = tuple[str | int, ...]

# libyaml's parser is several times faster and keeps the same node marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Located:
    """Loaded data plus the position of every key and value in the source."""

    data: Any
    file: str
    values: dict[ConfigPath, Pos] = field(default_factory=dict)
    keys: dict[ConfigPath, Pos] = field(default_factory=dict)
    typed: dict[ConfigPath, str] = field(default_factory=dict)
    """Source text of unquoted values YAML 1.1 read as something else than text (NO, 1.10)."""
    typed_keys: dict[ConfigPath, str] = field(default_factory=dict)
    """The same for mapping keys, by the path of their value."""

    def pos(self, path: ConfigPath, *, key: bool = False) -> Pos:
        """Position of the value (or its key) at path, else of its nearest located parent."""
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, Pos(self.file, 1, 1))


def format_path(path: ConfigPath) -> str:
    """Render a config path the way users write it: ``stages[1].steps[0].image``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_file(path: str | Path, *, display_name: str | None = None) -> Located:
    """Read and load one YAML file; unreadable files become a ConfigError."""
    name = display_name or str(path)
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read(bounds.MAX_BYTES + 1)  # more is refused unread
    except FileNotFoundError:
        raise ConfigError(Problem(f"file not found: {path}")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(Problem(f"cannot read {path}: {exc}")) from None
    return load_text(text, name)


def load_text(text: str, file: str) -> Located:
    """Load one YAML document from text, recording positions; empty text loads as None."""
    bounds.check(text, file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None, file)
        located = Located(loader.construct_document(node), file)
        problems: list[Problem] = []
        _walk(node, (), located, problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        raise ConfigError(Problem(f"invalid YAML: {exc.problem or exc.context}", pos)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(f"invalid YAML: {exc}", Pos(file, 1, 1))) from None
    finally:
        loader.dispose()
    if problems:
        raise ConfigError(problems)
    return located


def _mark(node: yaml.Node, file: str) -> Pos:
    return Pos(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _typed(node: yaml.Node) -> bool:
    """True for a plain scalar that YAML 1.1 resolved to a boolean, number, date or null."""
    # A plain scalar's style is None in PyYAML's loader and '' in libyaml's.
    return (isinstance(node, yaml.ScalarNode) and not node.style
            and node.tag != "tag:yaml.org,2002:str")


def _walk(node: yaml.Node, path: ConfigPath, located: Located, problems: list[Problem]) -> None:
    located.values[path] = _mark(node, located.file)
    if _typed(node):
        located.typed[path] = node.value
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), located, problems)
    elif isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key in seen:
                problems.append(Problem(f"duplicate key '{key}'", _mark(key_node, located.file),
                                        format_path(path)))
            seen.add(key)
            located.keys[path + (key,)] = _mark(key_node, located.file)
            if _typed(key_node):
                located.typed_keys[path + (key,)] = key_node.value
            _walk(value_node, path + (key,), located, problems)
