"""Which started runs to look at in Jenkins this cycle, and looking at each in isolation.

Following costs O(changes), not O(running). One request per cycle,
``/computer/api/json`` (`JenkinsClient.running_builds`), lists every build Jenkins is
running. A run's detail (``wfapi/describe``, and the logs of the steps that just ended)
is then read only when

- it is new: its build has never been looked at;
- Jenkins no longer lists it among the running builds: it ended (or our user cannot
  see it, which costs a look per cycle but never a wrong state);
- its build pushed a step's start or end through the execution's callback since the
  last look, or the last look found a change under way that no push announces (a
  reported end not yet in Jenkins, a pause for an approval about to begin);
- a stop was requested;
- it is due for reconciliation: each cycle, the runs looked at longest ago, if that was
  at least ``reconcile`` seconds ago, at most ceil(running × interval / reconcile) of
  them; so every run is read about every ``reconcile`` seconds, spread evenly.

What changes in Jenkins while only a run's stages move? Not its build: ``building`` and
``result`` stay, ``duration`` is 0 until the end, and it keeps its executors for as long
as its agent scope lasts. Only the flow graph moves, and reading that is the per-run
request we are saving. Hence the pushes from the rendered Jenkinsfile, with
reconciliation as the safety net for a lost push or a template that sends none.

Runs still in Jenkins' queue cost one queue-item request per cycle (rare: the start
waits for the build number). With ``reconcile`` no longer than the cycle interval,
every run is looked at every cycle and the batched request is not sent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from sidecar.engine import isolation
from sidecar.engine.admission import ACTIVE
from sidecar.engine.sync import sync_execution
from sidecar.engine.warmth import epoch
from sidecar.jenkins import JenkinsClient, JenkinsError, JenkinsUnavailable
from sidecar.services import executions
from sidecar.store import Store
from sidecar.store.models import Execution, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Followed:
    """What the choice needs to know of one started execution."""

    id: str
    job: str | None
    build: int | None
    stop_requested: bool = False
    pushes: int = 0
    pushes_seen: int = 0
    look_again: bool = False
    detailed_at: datetime | None = None

    @property
    def announced(self) -> bool:
        """Something told us to look: new build, a push, a change under way, a stop."""
        return (self.detailed_at is None or self.pushes > self.pushes_seen
                or self.look_again or self.stop_requested)


def choose(runs: list[Followed], running: frozenset[tuple[str, int]] | None, *,
           now: datetime, reconcile: float, interval: float) -> list[str]:
    """The ids of the runs to look at this cycle, in the order given.

    running: the builds Jenkins runs now, or None when not asked (every run is looked at).
    """
    built = [run for run in runs if run.build is not None]
    if running is None:
        return [run.id for run in runs]
    chosen = {run.id for run in runs if run.build is None or run.announced
              or (run.job, run.build) not in running}
    budget = math.ceil(len(built) * interval / reconcile)
    oldest = sorted((run for run in built if run.id not in chosen),
                    key=lambda run: epoch(run.detailed_at))
    cutoff = epoch(now - timedelta(seconds=reconcile))
    chosen.update(run.id for run in oldest[:budget] if epoch(run.detailed_at) <= cutoff)
    return [run.id for run in runs if run.id in chosen]


class Follower:
    """Follows started executions, each in isolation from the others."""

    def __init__(self, *, store: Store, jenkins: JenkinsClient, reconcile: float,
                 interval: float, retries: isolation.Retries,
                 clock: Callable[[], datetime] = utcnow):
        self._store, self._jenkins, self._clock = store, jenkins, clock
        self._reconcile, self._interval, self._retries = reconcile, interval, retries

    def cycle(self) -> int:
        """Look at the runs that need it; returns how many were looked at."""
        now = self._clock()
        runs = self._started(now)
        running = None
        if self._reconcile > self._interval and any(
                run.build is not None and not run.announced for run in runs):
            try:
                running = self._jenkins.running_builds()
            except JenkinsUnavailable as exc:
                log.warning("Jenkins unavailable; following waits: %s", exc)
                return 0
        chosen = choose(runs, running, now=now, reconcile=self._reconcile,
                        interval=self._interval)
        refused: list[tuple[str, JenkinsError]] = []
        looked = 0
        for execution_id in chosen:
            try:
                looked += self._look(execution_id, now)
            except JenkinsError as exc:
                refused.append((execution_id, exc))
            except Exception as exc:  # whatever one run raises stays with it
                self._failed(execution_id, exc)
        # Jenkins refusing every run is Jenkins' trouble (DESIGN §7: an outage fails
        # nothing); refusing some while answering for others is about those runs.
        for execution_id, exc in refused:
            if looked:
                self._failed(execution_id, exc)
            else:
                log.warning("Jenkins refused to show %s: %s", execution_id, exc)
        return looked

    def _started(self, now: datetime) -> list[Followed]:
        with self._store.session() as session:
            rows = session.execute(select(
                Execution.id, Execution.jenkins_job, Execution.jenkins_build,
                Execution.stop_requested, Execution.pushes, Execution.pushes_seen,
                Execution.look_again, Execution.detailed_at).where(
                Execution.state.in_(ACTIVE), Execution.jenkins_queue_id.is_not(None),
                or_(Execution.retry_at.is_(None), Execution.retry_at <= now))
                .order_by(Execution.created_at, Execution.run)).all()
        return [Followed(*row) for row in rows]

    def _look(self, execution_id: str, now: datetime) -> int:
        with self._store.session() as session:
            execution = executions.get(session, execution_id)
            if sync_execution(session, execution, self._jenkins, now=now):
                isolation.cleared(execution)
                return 1
        return 0

    def _failed(self, execution_id: str, exc: BaseException) -> None:
        phase = "follow the Jenkins build"
        isolation.logged(phase, execution_id, exc)

        def record(execution: Execution) -> tuple | None:
            if not self._retries.record(execution, phase, exc):
                return None
            return execution.jenkins_job, execution.jenkins_build, execution.jenkins_queue_id
        given_up = isolation.recorded(self._store, execution_id, record)
        if given_up:
            self._abandon(*given_up)

    def _abandon(self, job: str | None, build: int | None, queue_id: int | None) -> None:
        """A run the sidecar gave up on should not hold Jenkins' resources either."""
        try:
            if build is not None and job:
                self._jenkins.stop(job, build)
            elif queue_id is not None:
                self._jenkins.cancel_queue_item(queue_id)
        except JenkinsError as exc:
            log.warning("could not stop the abandoned build %s #%s: %s", job, build, exc)
