"""Sidecar states as Blue Ocean ``state`` and ``result`` (reference §1.9).

Run: Waiting, Queueing, and Building before Jenkins has a build number are QUEUED (the
run is still in a queue, ours or Jenkins'); Building is RUNNING; Pending (paused on an
input) is PAUSED; end states are FINISHED. The result is UNKNOWN until the end; Denied
(an input answered with abort) and Timeout end a Jenkins build ABORTED, so they are
ABORTED here too. Sync folds Jenkins' UNSTABLE into Failed, so UNSTABLE never appears.

Steps add Skipped (a `when` that did not match: SKIPPED/NOT_BUILT). A step still
Waiting in a started run is a future node: state, result, times all null, as Blue Ocean
shows the nodes a run has not reached yet.
"""

from __future__ import annotations

from sidecar.store.models import END_STATES, Execution

RESULTS = {"Success": "SUCCESS", "Failed": "FAILURE", "Aborted": "ABORTED",
           "Denied": "ABORTED", "Timeout": "ABORTED"}
STEP_STATES = {"Waiting": (None, None), "Queueing": ("QUEUED", "UNKNOWN"),
               "Building": ("RUNNING", "UNKNOWN"), "Pending": ("PAUSED", "UNKNOWN"),
               "Skipped": ("SKIPPED", "NOT_BUILT"),
               **{state: ("FINISHED", result) for state, result in RESULTS.items()}}
# The worst result of a stage's branches wins (a failed branch fails its stage).
RESULT_ORDER = ("FAILURE", "ABORTED", "UNSTABLE", "NOT_BUILT", "SUCCESS")


def is_queued(execution: Execution) -> bool:
    """True while the run has no Jenkins build yet and has not ended."""
    return execution.state in ("Waiting", "Queueing") or \
        (execution.state == "Building" and execution.jenkins_build is None)


def run_state(execution: Execution) -> tuple[str, str]:
    """(state, result) of a run."""
    if execution.state in END_STATES:
        return "FINISHED", RESULTS[execution.state]
    if is_queued(execution):
        return "QUEUED", "UNKNOWN"
    return ("PAUSED" if execution.state == "Pending" else "RUNNING"), "UNKNOWN"


def step_state(state: str) -> tuple[str | None, str | None]:
    """(state, result) of one config step's node or step."""
    return STEP_STATES.get(state, (None, None))


def stage_state(states: list[tuple[str | None, str | None]]) -> tuple[str | None, str | None]:
    """(state, result) of a stage from its branches'."""
    kinds = {state for state, _ in states} - {"SKIPPED"}  # skipped branches decide nothing
    if not kinds:
        return "SKIPPED", "NOT_BUILT"
    for state in ("PAUSED", "RUNNING", "QUEUED"):
        if state in kinds:
            return state, "UNKNOWN"
    if kinds == {None}:
        return None, None
    if None in kinds:  # some branches ended, others not begun: the stage is under way
        return "RUNNING", "UNKNOWN"
    results = {result for state, result in states if state == "FINISHED"}
    return "FINISHED", next((r for r in RESULT_ORDER if r in results), "SUCCESS")
