"""The processes of a tree on Linux, read from /proc, for measures summed over a server."""

from __future__ import annotations

from pathlib import Path


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants alive now (children of every thread, as gunicorn's)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # it ended meanwhile
            continue
        found.append(current)
    return found
