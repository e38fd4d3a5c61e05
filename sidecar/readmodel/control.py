"""Run control through Blue Ocean: start with parameters, stop (optionally waiting), replay,
and disabling or enabling a pipeline.

All three go through ``sidecar.services.executions``, so a run started here is the same as
one started by the native API: recorded as Waiting, admitted and started by the engine.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from sidecar.errors import ConfigError, Problem, SidecarError
from sidecar.readmodel import queries, states
from sidecar.services import executions
from sidecar.store import Store
from sidecar.store.models import END_STATES, Execution, ExecutionCommit, Pipeline

MAX_STOP_WAIT = 60.0
STOP_POLL = 0.1


class NotReplayable(SidecarError):
    """The run cannot be replayed (it has not started yet): a 400, as in Blue Ocean."""


def start(session: Session, pipeline_id: str, body: Any, user: str,
          config_text: str | None = None) -> Execution:
    """Trigger a run from ``{"parameters":[{"name","value"}]}`` (or no body). :raise ConfigError:

    config_text: the repository's config on the default branch, for a pipeline without an
    inline config (`sidecar.services.repoconfig`).
    """
    parameters = parameter_values(body)
    execution = executions.trigger(session, pipeline_id, executions.TriggerRequest(
        trigger_type="user", parameters=parameters, config_text=config_text))
    execution.triggered_by = user
    return execution


def parameter_values(body: Any) -> dict[str, Any]:
    """The name → value map of a start-run body."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ConfigError(Problem("the request body must be a JSON object"))
    items = body.get("parameters", [])
    if not isinstance(items, list):
        raise ConfigError(Problem("parameters must be a list of {name, value}"))
    values: dict[str, Any] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(Problem("name is required parameter element",
                                      config_path=f"parameters[{index}]"))
        value = item.get("value", "")
        if not isinstance(value, (str, bool, int, float)):
            raise ConfigError(Problem(f"parameter {item['name']}: value must be a string",
                                      config_path=f"parameters[{index}].value"))
        values[item["name"]] = value
    return values


def replay(session: Session, execution: Execution, user: str) -> Execution:
    """A new run with the same config, commit and parameters, marked as a replay."""
    if states.is_queued(execution):
        raise NotReplayable("This run does not support replay")
    new = executions.rerun(session, execution.id)
    new.replay_of, new.triggered_by = execution.id, user
    # Blue Ocean shows a replay the change set of the run it replays.
    copied = [c.key for c in ExecutionCommit.__table__.columns if c.key != "execution_id"]
    new.commits = [ExecutionCommit(**{key: getattr(commit, key) for key in copied})
                   for commit in execution.commits]
    return new


def set_disabled(pipeline: Pipeline, disabled: bool) -> None:
    """Disable (no run starts, from any trigger) or enable a pipeline."""
    pipeline.disabled = disabled


def stop(session: Session, execution: Execution) -> Execution:
    """Ask for a stop; a run that has ended already stays as it is (Blue Ocean: 200)."""
    if execution.state not in END_STATES:
        executions.request_stop(session, execution.id)
    return execution


def wait_for_end(store: Store, pipeline_id: str, number: str, seconds: float) -> None:
    """Re-read the run until it has ended or seconds (at most MAX_STOP_WAIT) have passed."""
    deadline = time.monotonic() + min(max(seconds, 0.0), MAX_STOP_WAIT)
    while True:
        with store.session() as session:
            if queries.run(session, pipeline_id, number).state in END_STATES:
                return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(STOP_POLL, remaining))
