"""Look at one started execution in Jenkins and bring its states, times and logs home.

One look is one request (the queue item until the build is known, then
``wfapi/describe``), plus log requests only for steps that just ended, read once and
archived in the same transaction as the step's end state, so a crash neither loses nor
duplicates a log. Which executions are looked at in a cycle is `sidecar.engine.follow`'s
choice. A Jenkins outage changes nothing; a build that vanished fails its execution;
every end state frees the quota.

Steps' own report calls (the rendered Jenkinsfile's pushes, labelled
`render.REPORT_LABEL`) are flow nodes of the step's stage too: their logs are neither
archived nor shown as the step's live log.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from sqlalchemy import delete
from sqlalchemy.orm import Session

from sidecar import render
from sidecar.jenkins import (JenkinsClient, JenkinsError, JenkinsNotFound, JenkinsUnavailable,
                             RunState)
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.metrics import record
from sidecar.services import approvals, executions
from sidecar.store.models import Execution, LiveLogMark, LogChunk, StepState, utcnow

log = logging.getLogger(__name__)

STEP_STAGE = re.compile(r"^step-(\d+)-(\d+)$")
STEP_STATES = {"IN_PROGRESS": "Building", "PAUSED_PENDING_INPUT": "Pending",
               "SUCCESS": "Success", "FAILED": "Failed", "UNSTABLE": "Failed",
               "ABORTED": "Aborted", "NOT_EXECUTED": "Skipped", "SKIPPED": "Skipped"}
RUN_END_STATES = {"SUCCESS": "Success", "FAILED": "Failed", "UNSTABLE": "Failed",
                  "ABORTED": "Aborted", "NOT_EXECUTED": "Aborted"}
STEP_END_STATES = ("Success", "Failed", "Aborted", "Timeout")
MAX_LOG_READS = 1000


def sync_execution(session: Session, execution: Execution, jenkins: JenkinsClient,
                   now: datetime | None = None) -> bool:
    """One look at Jenkins for one started execution; False (and nothing changed) in an outage.

    Other Jenkins errors propagate: the caller decides what they mean for this execution.
    """
    pushes = execution.pushes  # what this look covers; later pushes ask for the next one
    try:
        if execution.stop_requested:
            _send_stop(execution, jenkins)
        if execution.jenkins_build is None:
            _follow_queue(execution, jenkins)
            return True
        try:
            state = jenkins.run_state(execution.jenkins_job, execution.jenkins_build)
        except JenkinsNotFound:
            _jenkins_itself(jenkins)
            executions.finish(execution, "Failed", "the Jenkins build disappeared")
            return True
        under_way = _apply(session, execution, state, jenkins)
    except JenkinsUnavailable as exc:
        log.warning("Jenkins unavailable while following %s: %s", execution.id, exc)
        return False
    execution.pushes_seen, execution.look_again = pushes, under_way
    execution.detailed_at = now or utcnow()
    return True


def _jenkins_itself(jenkins: JenkinsClient) -> None:
    """Before a 404 fails a run: Jenkins answers at its root as Jenkins.

    :raise JenkinsUnavailable: it does not (a proxy or ingress sending the sidecar
        elsewhere answers 404 for every build; that fails nothing, as an outage)
    """
    try:
        jenkins.ping()
    except JenkinsUnavailable:
        raise
    except JenkinsError as exc:
        raise JenkinsUnavailable("answers 404 for a build and not as Jenkins at its root "
                                 f"(a proxy or ingress misroute?): {exc}") from exc


def _follow_queue(execution: Execution, jenkins: JenkinsClient) -> None:
    try:
        state = jenkins.queue_item(execution.jenkins_queue_id)
    except JenkinsNotFound:
        _find_left_item(execution, jenkins)
        return
    if state.build_number is not None:
        execution.jenkins_build = state.build_number
    elif state.cancelled:
        executions.finish(execution, "Aborted", "cancelled in the Jenkins queue")


def _send_stop(execution: Execution, jenkins: JenkinsClient) -> None:
    if execution.jenkins_build is not None:
        jenkins.stop(execution.jenkins_job, execution.jenkins_build)
    else:
        jenkins.cancel_queue_item(execution.jenkins_queue_id)


def _apply(session: Session, execution: Execution, run: RunState,
           jenkins: JenkinsClient) -> bool:
    """Take Jenkins' view of the run; True when a change is under way that no push announces."""
    steps = {(s.stage_index, s.step_index): s for s in execution.steps}
    config = _Config(execution)
    for stage in run.stages:
        match = STEP_STAGE.match(stage.name)
        step = steps.get((int(match[1]), int(match[2]))) if match else None
        if step is None or step.state in ("Skipped", *STEP_END_STATES):
            continue
        new_state = STEP_STATES.get(stage.status, step.state)
        if stage.start_time_millis and step.started_at is None:
            step.started_at = _time(stage.start_time_millis)
        node_ids = tuple(node.id for node in stage.log_nodes
                         if node.name != render.REPORT_LABEL)
        if node_ids and step.jenkins_node_id is None:
            step.jenkins_node_id = node_ids[0]  # where the live step log is
        if new_state in STEP_END_STATES:
            step.ended_at = _time(stage.start_time_millis + stage.duration_millis)
            _archive(session, execution, step, node_ids, jenkins)
            if new_state == "Aborted" and config.step_timed_out(step, stage.duration_millis):
                new_state = "Timeout"
            record.stage_finished(session, new_state, stage.duration_millis)
        step.state = new_state
    if run.finished and _not_started_yet(execution, run, jenkins):
        return True  # no push announces its start: look again next cycle
    if run.finished:
        state = RUN_END_STATES.get(run.status, "Failed")
        if state == "Aborted" and (any(s.state == "Timeout" for s in execution.steps)
                                   or config.run_timed_out(run.duration_millis)):
            state = "Timeout"
        state = approvals.outcome(session, execution, state)  # rejected: Denied
        executions.finish(execution, state, f"Jenkins reported {run.status}",
                          _time(run.start_time_millis + run.duration_millis))
        return False
    if execution.state not in ("Building", "Pending"):
        return False
    pending = any(step.state == "Pending" for step in execution.steps)
    execution.state = "Pending" if pending else "Building"
    unregistered = approvals.follow(session, execution, jenkins)
    return unregistered or _under_way(execution, config)


def _not_started_yet(execution: Execution, run: RunState, jenkins: JenkinsClient) -> bool:
    """wfapi says NOT_EXECUTED both for a build that ended before its flow began and for
    one that has just left the queue and not begun it yet: only the build can tell."""
    return run.status == "NOT_EXECUTED" and \
        jenkins.building(execution.jenkins_job, execution.jenkins_build)


def _under_way(execution: Execution, config: _Config) -> bool:
    """A change Jenkins will show soon but no push will announce.

    A reported end not in Jenkins yet (the report runs in the step's ``post``, before
    its stage closes); or nothing running while the next step is an approval, which runs
    without an agent and so cannot report its pause.
    """
    done = ("Skipped", *STEP_END_STATES)
    if any(step.end_reported and step.state not in done for step in execution.steps):
        return True
    if any(step.state in ("Building", "Pending") for step in execution.steps):
        return False
    following = next((step for step in execution.steps if step.state == "Waiting"), None)
    return following is not None and config.is_approval(following)


class _Config:
    """What the sync needs from an execution's config, parsed only when needed.

    Jenkins reports a timeout as ABORTED, like a stop; an abort the sidecar did not ask
    for that lasted at least the configured time is a timeout.
    """

    def __init__(self, execution: Execution):
        self._execution = execution
        self._pipeline = None

    def is_approval(self, step: StepState) -> bool:
        """True when the step is an approval (an ``input`` without an agent)."""
        stage = self._prepared().stages[step.stage_index]
        return stage.steps[step.step_index].kind == "approvalConfig"

    def step_timed_out(self, step: StepState, millis: int) -> bool:
        """True when an aborted step ran for its whole timeout (an approval: its own, which
        Jenkins counts from the input's start, by Jenkins' clock, as the stage does)."""
        config_step = self._prepared().stages[step.stage_index].steps[step.step_index]
        minutes = config_step.timeout
        if config_step.kind == "approvalConfig":
            minutes = config_step.options["timeout"]
        return self._reached(minutes, millis)

    def run_timed_out(self, millis: int) -> bool:
        """True when an aborted run lasted the pipeline's whole timeout."""
        return self._reached(render.total_timeout(self._prepared()), millis)

    def _reached(self, minutes: int | None, millis: int) -> bool:
        return bool(minutes) and not self._execution.stop_requested and \
            millis >= minutes * 60_000

    def _prepared(self):
        if self._pipeline is None:
            model = executions.model_of(self._execution)
            context = executions.context_of(self._execution, self._execution.pipeline)
            self._pipeline = render.prepare(model, context)
        return self._pipeline


def _find_left_item(execution: Execution, jenkins: JenkinsClient) -> None:
    """Jenkins forgets a left queue item after minutes (and all of them when it restarts):
    find the build by the execution's parameter before calling the run lost."""
    found = jenkins.find_triggered(execution.jenkins_job, EXECUTION_PARAMETER, execution.id)
    if found is None:
        executions.finish(execution, "Failed", "the Jenkins queue item disappeared")
    elif found[1] is not None:
        execution.jenkins_build = found[1]
    else:  # queued again under another id (Jenkins reloaded its queue)
        execution.jenkins_queue_id = found[0]


def _archive(session: Session, execution: Execution, step: StepState, node_ids: tuple[str, ...],
             jenkins: JenkinsClient) -> None:
    """Copy a finished step's log into the store; a failure here never fails the build.

    The whole log is read before anything is stored, so an outage half-way leaves no
    partial copy behind to be duplicated by the next attempt.
    """
    try:
        texts = [text for node_id in node_ids for text in _read_log(execution, node_id, jenkins)]
    except JenkinsUnavailable:
        raise
    except Exception:  # the log store is best effort: the build's result matters more
        log.exception("could not read the log of %s step %s-%s", execution.id,
                      step.stage_index, step.step_index)
        return
    for text in texts:
        session.add(LogChunk(execution_id=execution.id, stage_index=step.stage_index,
                             step_index=step.step_index, offset=step.log_offset, text=text))
        step.log_offset += len(text.encode("utf-8"))
    # the archive answers every read from now on: the live reads' marks are done with
    session.execute(delete(LiveLogMark).where(LiveLogMark.execution_id == execution.id,
                                              LiveLogMark.node_id.in_(node_ids)))


def _read_log(execution: Execution, node_id: str, jenkins: JenkinsClient) -> list[str]:
    texts, start = [], 0
    for _ in range(MAX_LOG_READS):
        chunk = jenkins.stage_log(execution.jenkins_job, execution.jenkins_build, node_id,
                                  start=start)
        if chunk.text:
            texts.append(chunk.text)
        start = chunk.next_start
        if not chunk.more:
            break
    return texts


def _time(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
