"""A run's stage graph for the run page: stages in order, their steps as parallel lanes.

It comes from the Blue Ocean read model (``readmodel.steps.run_graph``): the same stages,
branches and step kinds the API serves, in the sidecar's own state names, with each
approval step's approval (in any state) so the page can link the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sidecar.readmodel import steps
from sidecar.services import approvals
from sidecar.store.models import END_STATES, Approval, Execution

STEP_TITLES = {"runScriptConfig": "Script", "approvalConfig": "Approval",
               "sourceCodeConfig": "Clone", "publishImageConfig": "Publish image",
               "applyYamlConfig": "Apply YAML", "applyAppConfig": "Apply app",
               "publishCatalogConfig": "Publish chart"}


@dataclass(frozen=True)
class StepView:
    """One config step on the run page."""

    stage: int
    step: int
    kind: str
    detail: str | None
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    approval: Approval | None

    @property
    def key(self) -> str:
        """'stage.step', as the page addresses a step."""
        return f"{self.stage}.{self.step}"

    @property
    def title(self) -> str:
        """What kind of step this is, in words."""
        return STEP_TITLES.get(self.kind, self.kind)

    @property
    def is_decision(self) -> bool:
        """True for an approval step: the run waits here for a person."""
        return self.kind == "approvalConfig"

    @property
    def has_log(self) -> bool:
        """True when the step has started (a step never reached has no log)."""
        return self.started_at is not None or self.state not in ("Waiting", "Skipped")


@dataclass(frozen=True)
class StageView:
    """One config stage: its steps are parallel lanes."""

    index: int
    name: str
    state: str
    steps: list[StepView]


@dataclass(frozen=True)
class RunView:
    """A run with its stages and steps."""

    execution: Execution
    stages: list[StageView]

    @property
    def ended(self) -> bool:
        """True once the run has its end state."""
        return self.execution.state in END_STATES

    def step(self, key: str | None) -> StepView | None:
        """The step 'stage.step', or the one worth showing: running, failed, last, or first."""
        all_steps = [step for stage in self.stages for step in stage.steps]
        chosen = next((s for s in all_steps if s.key == key), None)
        for wanted in (("Building", "Pending"), ("Failed", "Timeout", "Denied", "Aborted")):
            chosen = chosen or next((s for s in all_steps if s.state in wanted), None)
        chosen = chosen or next((s for s in reversed(all_steps) if s.has_log), None)
        return chosen or (all_steps[0] if all_steps else None)


def run_view(session: Session, pipeline_id: str, number: int) -> RunView:
    """A run's stages and steps with their approvals. :raise NotFound:"""
    found = steps.run_graph(session, pipeline_id, str(number))
    decisions = {(a.stage_index, a.step_index): a
                 for a in approvals.of_execution(session, found.execution.id)}
    stages = []
    for position, stage in enumerate(found.stages):
        views = []
        for branch in stage.branches:
            row, key = branch.row, (branch.row.stage_index, branch.row.step_index)
            info = found.infos.get(key)
            views.append(StepView(row.stage_index, row.step_index,
                                  info.kind if info else "runScriptConfig",
                                  _first_line(info.description if info else None), row.state,
                                  row.started_at, row.ended_at, decisions.get(key)))
        stages.append(StageView(position, stage.name, stage_state([v.state for v in views]),
                                views))
    return RunView(found.execution, stages)


def stage_state(states: list[str]) -> str:
    """A stage's state from its steps': one still moving, else the worst end."""
    active = [state for state in states if state != "Skipped"]
    if not active:
        return "Skipped"
    for state in ("Pending", "Building", "Queueing"):
        if state in active:
            return state
    if all(state == "Waiting" for state in active):
        return "Waiting"
    if "Waiting" in active:  # some steps ended, others not begun: under way
        return "Building"
    return next(s for s in ("Failed", "Timeout", "Denied", "Aborted", "Success") if s in active)


def _first_line(text: str | None, limit: int = 120) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"
