"""Locality-aware admission (delay scheduling): hold a run briefly for a warm node.

A run whose warm nodes cannot take it now (its warm slot is busy, or no warm node has
room) would start cold and lose the cache's saving. Waiting pays while the wait is
shorter than the saving, so the hold is bounded by a fraction of the expected saving:
``fraction × saving × expected run time``. Both the engine's admission and the
benchmark call `decide`; there is no other copy of the rule.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def decide(*, usable: int, warm_elsewhere: bool, room: bool | None, held_for: float | None,
           limit: float) -> Decision:
    """Whether to hold a run that quota would admit now.

    usable: nodes with a usable warm cache for this run; warm_elsewhere: a warm cache
    exists but only in slots that running executions hold; room: whether one of the
    usable nodes can take the pod now (None: unknown, so assume it can); held_for:
    seconds held so far (None: not held); limit: `max_hold`.
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
    return Decision(True, f"held for a warm node: {why} (at most {limit:.0f}s)")
