"""Locality-aware admission (delay scheduling): hold a run briefly for a warm node.

A run whose warm nodes cannot take it now (its warm slot is busy, or no warm node has
room) would start cold and lose the cache's saving. Waiting pays while the wait is
shorter than the saving, so the hold is bounded by a fraction of the expected saving:
``fraction × saving × expected run time``. When the sidecar can tell when room (or a
warm slot) is expected to free — from its own running executions, their start times and
expected run times (median of recent successful runs) — it holds only if that expected
wait is shorter than what is left of the bound. Both the engine's admission and the
benchmark call `decide`; there is no other copy of the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Decision:
    """Start now, or hold; and why."""

    hold: bool
    reason: str


def max_hold(expected_run: float | None, saving: float, fraction: float) -> float:
    """The longest hold in seconds; 0 when the run time is unknown or holding is off."""
    if not expected_run or saving <= 0 or fraction <= 0:
        return 0.0
    return fraction * saving * expected_run


def wait_for_room(nodes: Iterable[tuple[tuple[int, int], list[tuple[float, tuple[int, int]]]]],
                  wanted: tuple[int, int]) -> float | None:
    """Seconds until one of the nodes is expected to have room for `wanted` (cpu, memory).

    nodes: per node, its free (cpu, memory) now and, for each of the sidecar's own runs
    on it, (expected seconds left, its (cpu, memory)). None when no expected end of the
    sidecar's own runs makes room (only other pods leaving could).
    """
    best = None
    for (cpu, memory), runs in nodes:
        if cpu >= wanted[0] and memory >= wanted[1]:
            return 0.0
        for left, (run_cpu, run_memory) in sorted(runs):
            cpu, memory = cpu + run_cpu, memory + run_memory
            if cpu >= wanted[0] and memory >= wanted[1]:
                best = left if best is None else min(best, left)
                break
    return best


def decide(*, usable: int, warm_elsewhere: bool, room: bool | None, held_for: float | None,
           limit: float, wait: float | None = None) -> Decision:
    """Whether to hold a run that quota would admit now.

    usable: nodes with a usable warm cache for this run; warm_elsewhere: a warm cache
    exists but only in slots that running executions hold; room: whether one of the
    usable nodes can take the pod now (None: unknown, so assume it can); held_for:
    seconds held so far (None: not held); limit: `max_hold`; wait: expected seconds until
    room or a warm slot frees (None: no estimate, so the bound alone decides).
    """
    if usable and room is not False:
        return Decision(False, "a warm node can take it")
    if not usable and not warm_elsewhere:
        return Decision(False, "no warm cache to wait for")
    why = "warm nodes are full" if usable else "every warm slot is busy"
    if limit <= 0:
        return Decision(False, f"{why}; holding is off")
    if held_for is not None and held_for >= limit:
        return Decision(False, f"{why}; hold of {limit:.0f}s ended")
    left = limit - (held_for or 0.0)
    if wait is not None and wait >= left:
        return Decision(False, f"{why}; expected wait {wait:.0f}s exceeds the saving")
    return Decision(True, f"held for a warm node: {why} (at most {limit:.0f}s)")
