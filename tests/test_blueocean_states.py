"""The state mapping of reference §1.9, as a table: runs, steps, and stages from branches.

We test these aspects (no database, no Jenkins):
- every execution state maps to its run (state, result), with QUEUED also for a run
  Building before Jenkins has its build;
- every step state maps to its (state, result), Waiting being a future node (nulls);
- a stage is SKIPPED only when every branch is, paused or running when one is, a
  future node when nothing began, and otherwise takes its branches' worst result.
"""

from __future__ import annotations

import pytest

from sidecar.readmodel.states import run_state, stage_state, step_state
from sidecar.store.models import EXECUTION_STATES, STEP_STATES, Execution

F, U = "FINISHED", "UNKNOWN"
RUNS = {"Waiting": ("QUEUED", U), "Queueing": ("QUEUED", U), "Building": ("RUNNING", U),
        "Pending": ("PAUSED", U), "Success": (F, "SUCCESS"), "Failed": (F, "FAILURE"),
        "Aborted": (F, "ABORTED"), "Denied": (F, "ABORTED"), "Timeout": (F, "ABORTED")}
STEPS = {**{state: value for state, value in RUNS.items() if state not in ("Waiting",)},
         "Waiting": (None, None), "Skipped": ("SKIPPED", "NOT_BUILT")}


@pytest.mark.parametrize("state", EXECUTION_STATES)
def test_run_states(state):
    assert run_state(Execution(state=state, jenkins_build=7)) == RUNS[state]


def test_a_run_in_jenkins_queue_is_queued():
    assert run_state(Execution(state="Building", jenkins_build=None)) == ("QUEUED", U)


@pytest.mark.parametrize("state", STEP_STATES)
def test_step_states(state):
    assert step_state(state) == STEPS[state]


@pytest.mark.parametrize("branches, expected", [
    (["Skipped", "Skipped"], ("SKIPPED", "NOT_BUILT")),
    (["Skipped", "Waiting"], (None, None)),
    (["Waiting", "Waiting"], (None, None)),
    (["Success", "Waiting"], ("RUNNING", U)),
    (["Success", "Building"], ("RUNNING", U)),
    (["Building", "Pending"], ("PAUSED", U)),
    (["Success", "Skipped"], (F, "SUCCESS")),
    (["Success", "Failed", "Aborted"], (F, "FAILURE")),
    (["Success", "Timeout"], (F, "ABORTED")),
])
def test_stage_states(branches, expected):
    assert stage_state([step_state(s) for s in branches]) == expected
