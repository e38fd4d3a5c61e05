"""Start admitted executions in Jenkins: render, write the job, trigger, learn the build.

One Jenkins job per pipeline; a build reads the job's script when it leaves the queue.
So, per pipeline, the job is written, triggered, and the build number awaited under one
lock: the next execution of that pipeline cannot rewrite the script before this build
has taken it. The lock lasts only `queue_wait`; a build still queued after that (Jenkins
quieting down, a blocked queue) keeps its pipeline's later executions waiting, cycle
after cycle, until it has left the queue. Each trigger carries SIDECAR_EXECUTION_ID,
which also keeps Jenkins from merging two triggers into one queue item.

Within a project, builds reach Jenkins' queue in the order their executions were
triggered (`sidecar.engine.order`): renders and job writes of several executions run in
parallel, but each trigger waits until the one before it in its project was sent (or
given up). Each start is isolated (`sidecar.engine.isolation`): whatever one execution
raises, the others start in the same cycle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sidecar import cache, render
from sidecar.cache import scheme
from sidecar.config import trust
from sidecar.config.inputs import HistoryEntry
from sidecar.config.templates import TemplateSet
from sidecar.engine import isolation, podsecurity, warmth
from sidecar.engine.order import StartDeferred, StartOrder
from sidecar.engine.podsecurity import PodSecurityGate
from sidecar.engine.warmth import NodeRoom
from sidecar.errors import ConfigError, Problem
from sidecar.jenkins import JenkinsClient, JenkinsError, JenkinsUnavailable
from sidecar.metrics import record
from sidecar.render.naming import job_name
from sidecar.services import callbacks, executions
from sidecar.services.projects import project_settings
from sidecar.store import Store
from sidecar.store.models import Execution, ScheduledInfo, utcnow

EXECUTION_PARAMETER = "SIDECAR_EXECUTION_ID"
TOKEN_PARAMETER = "SIDECAR_CALLBACK_TOKEN"
HISTORY_LENGTH = 10
log = logging.getLogger(__name__)


class Starter:
    """Renders and triggers executions; safe to call from several threads."""

    def __init__(self, *, store: Store, jenkins: JenkinsClient, templates: TemplateSet,
                 queue_wait: float = 60.0, poll: float = 0.2, callback_url: str = "",
                 pod_security: PodSecurityGate | None = None, workers: int = 8,
                 retries: isolation.Retries = isolation.Retries(), cache_root: str = ""):
        """cache_root: the operator's root every project's cacheDir must be in; "" checks none."""
        self._store, self._jenkins, self._templates = store, jenkins, templates
        self._cache_root = cache_root
        self._pod_security = pod_security
        self._callback_url = callback_url
        self._queue_wait, self._poll = queue_wait, poll
        self._workers, self._retries = workers, retries
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._room: NodeRoom | None = None
        """This cycle's node room: set by `start_claimed`, read by the renders it starts."""

    def start_claimed(self, fresh: set[str], room: NodeRoom | None = None) -> int:
        """Start every claimed execution not in Jenkins yet (and not backing off).

        room: the cycle's node room (read at most once), for the scored window.
        """
        self._room = room
        with self._store.session() as session:
            now = utcnow()
            queued = session.execute(select(
                Execution.id, Execution.project, Execution.pipeline_id).where(
                Execution.state == "Building", Execution.jenkins_queue_id.is_(None),
                or_(Execution.retry_at.is_(None), Execution.retry_at <= now))
                .order_by(Execution.created_at, Execution.run)).all()
        return self.start_all([tuple(row) for row in queued], fresh)

    def start_all(self, queued: Sequence[tuple[str, str, str]], fresh: set[str]) -> int:
        """Start executions (id, project, pipeline id), given in trigger order.

        Returns how many started. Those not in fresh were claimed in an earlier cycle
        and may have reached Jenkins: they go first, one by one, before any new start
        can rewrite a job's script.
        """
        recovering = [i for i, _, _ in queued if i not in fresh]
        new = [i for i, _, _ in queued if i in fresh]
        order = StartOrder(sorted(queued, key=lambda item: item[0] in fresh))  # stable
        started = sum(self._isolated(i, order, recovering=True) for i in recovering)
        if new:
            # Starts wait for Jenkins' queue; different pipelines need not wait in line.
            # Tasks are taken in submission order, so an earlier turn is always under way.
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                started += sum(pool.map(lambda i: self._isolated(i, order), new))
        return started

    def _isolated(self, execution_id: str, order: StartOrder, *,
                  recovering: bool = False) -> int:
        """Start one execution; whatever it raises stays with it."""
        deferred = False
        try:
            self.start(execution_id, recovering=recovering, order=order)
            return 1
        except JenkinsUnavailable as exc:
            log.warning("Jenkins unavailable; %s starts later: %s", execution_id, exc)
        except StartDeferred as exc:
            log.info("%s starts later: %s", execution_id, exc)
            deferred = True
        except JenkinsError as exc:
            isolation.recorded(self._store, execution_id, lambda e: executions.finish(
                e, "Failed", f"Jenkins refused the run: {exc}"))
        except Exception as exc:  # one bad execution never stalls the others
            isolation.logged("start", execution_id, exc)
            isolation.recorded(self._store, execution_id,
                               lambda e: self._retries.record(e, "start", exc))
        finally:
            order.passed(execution_id, deferred=deferred)
        return 0

    def start(self, execution_id: str, *, recovering: bool = False,
              order: StartOrder | None = None) -> None:
        """Render and trigger one claimed execution; errors propagate to the caller.

        recovering: an earlier attempt may have reached Jenkins (the process died or the
        answer was lost), so look for that trigger before sending another.
        order: the start waits for its turns (`StartOrder`).
        """
        with self._store.session() as session:
            execution = executions.get(session, execution_id)
            if execution.jenkins_queue_id is not None or execution.state != "Building":
                return
            pipeline_id = execution.pipeline_id
        job = job_name(pipeline_id)
        order = order or StartOrder(())
        with order.start_turn(execution_id), self._locks[pipeline_id]:
            earlier = recovering and self._jenkins.job_exists(job) and \
                self._jenkins.find_triggered(job, EXECUTION_PARAMETER, execution_id)
            if earlier and earlier[1] is not None:
                # It started: keep what that build runs, with no new render and no new token.
                self._record(execution_id, jenkins_queue_id=earlier[0], jenkins_build=earlier[1])
                return
            self._no_build_queued(pipeline_id)
            if earlier:
                # Still queued: it would read whatever script the job holds when it leaves
                # the queue, so take it back and trigger afresh under the lock.
                self._jenkins.cancel_queue_item(earlier[0])
            with self._store.session() as session:
                execution = executions.get(session, execution_id)
                if execution.stop_requested:  # found no earlier trigger: nothing to stop
                    executions.finish(execution, "Aborted", "stopped before Jenkins started it")
                    return
                config_xml = self._render(session, execution)
                parameters = {**_checked(execution.parameters), EXECUTION_PARAMETER: execution.id,
                              TOKEN_PARAMETER: callbacks.new_token(execution)}
            self._jenkins.create_or_update_job(job, config_xml)
            with order.trigger_turn(execution_id):
                queue_id = self._jenkins.trigger(job, parameters)
                self._record(execution_id, jenkins_queue_id=queue_id, errors=0, retry_at=None)
            number = self._await_build(queue_id)
            if number is not None:  # before the lock goes: the next start reads it
                self._record(execution_id, jenkins_build=number)

    def _render(self, session: Session, execution: Execution) -> str:
        pipeline = execution.pipeline
        context = replace(executions.context_of(execution, pipeline),
                          callback_url=self._callback_url, jenkins_user=self._jenkins.user)
        settings = project_settings(session, execution.project)
        problem = self._cache_root and cache.root_problem(settings.cache_dir, self._cache_root)
        if problem:  # settings stored before the root was set, or written past the API
            raise ConfigError(Problem(problem, config_path="cacheDir"))
        model = executions.model_of(execution)
        known = warmth.knowledge(session, execution)
        if settings.affinity_scheme == "warm":
            known = warmth.scored(known, self._room)
        placement = cache.place(model, context, settings, _history(session, pipeline.id), known)
        execution.placement_note = _note(execution.placement_note,
                                         scheme.describe(settings.affinity_scheme, known))
        warm = settings.affinity_scheme not in ("none", "seed") and scheme.usable_nodes(known)
        record.cache_placed(execution, "warm" if warm else "cold")
        # One reading of the namespace's level decides both the caches and the admission.
        verdict = self._pod_security.current() if self._pod_security else podsecurity.OPEN
        placement = _pod_security_check(execution, placement, verdict)
        rendered = render.render(model, context, settings, placement, self._templates)
        refused = podsecurity.rejection(verdict, rendered.pod)
        if refused:  # else the run would wait for an agent until the pipeline's timeout
            raise ConfigError(Problem(refused))
        execution.jenkinsfile, execution.pod_yaml = rendered.jenkinsfile, rendered.pod_yaml
        execution.jenkins_job = job_name(pipeline.id)
        _mark_skipped(execution, render.prepare(model, context), context,
                      trust.is_trusted(context, settings, model))
        return rendered.config_xml

    def _no_build_queued(self, pipeline_id: str) -> None:
        """Refuse to rewrite the job while a build of it is still in Jenkins' queue.

        :raise StartDeferred: that build would run this execution's script
        """
        with self._store.session() as session:
            waiting = session.scalar(select(Execution.run).where(
                Execution.pipeline_id == pipeline_id, Execution.state == "Building",
                Execution.jenkins_queue_id.is_not(None), Execution.jenkins_build.is_(None))
                .order_by(Execution.run).limit(1))
        if waiting is not None:
            raise StartDeferred(f"run {waiting} of {pipeline_id} is still in Jenkins' queue; "
                                "its build reads the job's script when it leaves")

    def _await_build(self, queue_id: int) -> int | None:
        """The build number once the item leaves the queue; None if it is cancelled or slow."""
        deadline = time.monotonic() + self._queue_wait
        while True:
            state = self._jenkins.queue_item(queue_id)
            if state.build_number is not None or state.cancelled:
                return state.build_number
            if time.monotonic() >= deadline:
                return None  # the sync loop keeps following the queue item
            time.sleep(self._poll)

    def _record(self, execution_id: str, **values) -> None:
        with self._store.session() as session:
            execution = executions.get(session, execution_id)
            for key, value in values.items():
                setattr(execution, key, value)


def _pod_security_check(execution: Execution, placement, verdict: podsecurity.Verdict):
    """No hostPath where Pod Security forbids it; the execution says why."""
    if verdict.host_path_allowed:
        return placement
    if verdict.note not in (execution.placement_note or ""):
        execution.placement_note = "; ".join(
            filter(None, [execution.placement_note, verdict.note]))
    return replace(placement, host_path_allowed=False, note=verdict.note)


def _checked(parameters: dict[str, str]) -> dict[str, str]:
    """Build parameters as Jenkins can take them: each value must be encodable text."""
    for name, value in parameters.items():
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(Problem("the value is not valid Unicode text (it holds a lone "
                                      "surrogate)", config_path=f"parameters.{name}")) from None
    return parameters


def _history(session: Session, pipeline_id: str) -> tuple[HistoryEntry, ...]:
    rows = session.scalars(select(ScheduledInfo).where(ScheduledInfo.pipeline_id == pipeline_id)
                           .order_by(ScheduledInfo.created_at.desc()).limit(HISTORY_LENGTH))
    return tuple(HistoryEntry(row.execution_id, row.node_name, row.created_at.isoformat())
                 for row in rows)


def _note(earlier: str, placement: str) -> str:
    """The placement note, keeping what admission said about a hold."""
    hold = earlier.split(" | ")[0] if earlier.startswith("held ") else ""
    return f"{hold} | {placement}" if hold else placement


def _mark_skipped(execution: Execution, prepared, context, trusted: bool) -> None:
    """Steps the run skips (`when`, or withheld from an untrusted run) are Skipped from the
    start; Jenkins only confirms it."""
    for step in execution.steps:
        stage = prepared.stages[step.stage_index]
        config_step = stage.steps[step.step_index]
        if not render.step_runs(stage, config_step, context) or \
                (not trusted and trust.withheld(config_step)):
            step.state = "Skipped"
