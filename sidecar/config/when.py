"""Decide `when` conditions and the pipeline branch filter from the trigger context.

Matching follows the Rancher format that existing configs were written for: an
exclude match wins, then an include match, and an empty include list matches all.
Branch globs use path semantics (``*`` stops at ``/``, ``**`` crosses it), so
``feature/*`` matches ``feature/x`` but not ``feature/x/y``.
"""

from __future__ import annotations

from wcmatch import glob

from sidecar.config.model import Constraint, When

_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.FORCEUNIX


def branch_matches(constraint: Constraint | None, branch: str) -> bool:
    """True when branch passes an include/exclude glob constraint."""
    return _matches(constraint, lambda pattern: glob.globmatch(branch, pattern, flags=_GLOB_FLAGS))


def event_matches(constraint: Constraint | None, event: str) -> bool:
    """True when event passes an include/exclude name constraint."""
    return _matches(constraint, lambda name: name == event)


def when_matches(when: When | None, *, branch: str, event: str) -> bool:
    """True when both the branch and the event conditions hold (None always holds)."""
    if when is None:
        return True
    return branch_matches(when.branch, branch) and event_matches(when.event, event)


def _matches(constraint: Constraint | None, test) -> bool:
    if constraint is None:
        return True
    if any(test(pattern) for pattern in constraint.exclude):
        return False
    return not constraint.include or any(test(pattern) for pattern in constraint.include)
