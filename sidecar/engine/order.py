"""Start order: within a project, builds reach Jenkins' queue in trigger order.

A cycle may start many executions at once, in a thread pool: renders and job writes
run in parallel. Two things must still happen in trigger order (trigger time, then run
number): the triggers of one project, which are what Jenkins queues in order, and the
whole starts of one pipeline, whose one job must not be rewritten under a build still
in the queue.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager


class StartDeferred(Exception):
    """An execution cannot start in this cycle; a later one tries again."""


class StartOrder:
    """Turns in trigger order, so a cycle's starts run in parallel yet never overtake.

    Built from a cycle's executions, oldest first. Each execution queues in two lines:
    its project's, which it leaves once its trigger is sent (builds reach Jenkins in
    trigger order), and its pipeline's, which it leaves when its start is over (the
    pipeline's job is not rewritten under a build still in the queue). A turn only ever
    waits for earlier executions, so no two starts wait for each other. Every execution
    must leave its lines (`passed`), whether it triggered or not.
    """

    def __init__(self, queued: Sequence[tuple[str, str, str]]):
        """queued: (execution id, project, pipeline id) in trigger order."""
        self._lines: dict[str, list[str]] = defaultdict(list)
        self._of: dict[str, tuple[str, str]] = {}
        for execution_id, project, pipeline_id in queued:
            self._of[execution_id] = ("project " + project, "pipeline " + pipeline_id)
            for line in self._of[execution_id]:
                self._lines[line].append(execution_id)
        self._changed = threading.Condition()
        self._held: set[str] = set()
        """Project lines where an execution was deferred: later ones must not overtake it."""

    def start_turn(self, execution_id: str) -> AbstractContextManager[None]:
        """The execution's turn among its pipeline's starts (held for the whole start)."""
        return self._turn(1, execution_id)

    def trigger_turn(self, execution_id: str) -> AbstractContextManager[None]:
        """The execution's turn among its project's triggers (held while it triggers)."""
        return self._turn(0, execution_id)

    @contextmanager
    def _turn(self, kind: int, execution_id: str) -> Iterator[None]:
        """Wait until the earlier executions in the line have left it; leave it after."""
        lines = self._of.get(execution_id)
        queue = self._lines[lines[kind]] if lines else []
        with self._changed:
            self._changed.wait_for(lambda: execution_id not in queue or queue[0] == execution_id)
            if lines and kind == 0 and lines[0] in self._held:
                self._leave_locked(execution_id, [queue])
                raise StartDeferred(f"an earlier execution of its {lines[0]} starts later")
        try:
            yield
        finally:
            self._leave(execution_id, [queue])

    def passed(self, execution_id: str, *, deferred: bool = False) -> None:
        """The execution's start is over: it leaves every line it was in. Deferred, it
        holds its project's later triggers back for this cycle (trigger order)."""
        with self._changed:
            if deferred and execution_id in self._of:
                self._held.add(self._of[execution_id][0])
            self._leave_locked(execution_id, list(self._lines.values()))

    def _leave(self, execution_id: str, queues: list[list[str]]) -> None:
        with self._changed:
            self._leave_locked(execution_id, queues)

    def _leave_locked(self, execution_id: str, queues: list[list[str]]) -> None:
        for queue in queues:
            if execution_id in queue:
                queue.remove(execution_id)
        self._changed.notify_all()
