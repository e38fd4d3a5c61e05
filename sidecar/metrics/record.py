"""One function per observed event; the call sites stay one line and know no metric names.

Events that belong to a database change (a run admitted, a run ended, a stage ended,
an approval answered) are counted when that change commits (`sidecar.metrics.commit`).
"""

from __future__ import annotations

import re
from datetime import datetime

from sidecar.metrics import families as f
from sidecar.metrics.commit import on_commit

# Jenkins paths to endpoint templates: job names (folders too) and numbers are values.
_JOB = re.compile(r"(/job/[^/]+)+")
_NUMBER = re.compile(r"/\d+(?=/|$)")
_NODE = re.compile(r"(/execution/node)/[^/]+")
_INPUT = re.compile(r"(/input)/[^/]+")
MAX_ENDPOINT = 80


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def run_started(execution, now: datetime, held_since: datetime | None) -> None:
    """An execution was admitted (Building): queue time, and hold time if it was held."""
    queued, held = _seconds(execution.created_at, now), _seconds(held_since, now)
    trigger = execution.trigger_type or "user"

    def observe() -> None:
        f.RUNS_STARTED.labels(trigger).inc()
        if queued is not None:
            f.RUN_QUEUE.observe(queued)
        if held is not None:
            f.CACHE_HOLD.observe(held)
    on_commit(execution, observe)


def run_finished(execution) -> None:
    """An execution reached its end state."""
    result = execution.state
    took = _seconds(execution.started_at, execution.ended_at)

    def observe() -> None:
        f.RUNS_FINISHED.labels(result).inc()
        if took is not None:
            f.RUN_DURATION.labels(result).observe(took)
    on_commit(execution, observe)


def stage_finished(owner, result: str, millis: int) -> None:
    """A step's Jenkins stage ended after millis."""
    on_commit(owner, lambda: f.STAGE_DURATION.labels(result).observe(max(millis, 0) / 1000))


def approval_ended(approval, decision: str, at: datetime) -> None:
    """An approval was answered, cancelled or timed out."""
    waited = _seconds(approval.created_at, at)
    if waited is not None:
        on_commit(approval, lambda: f.APPROVAL_WAIT.labels(decision).observe(waited))


def cache_placed(owner, placement: str) -> None:
    """A run's cache was placed: warm, cold, or held for a warm node."""
    on_commit(owner, lambda: f.CACHE_PLACEMENTS.labels(placement).inc())


def jenkins_endpoint(path: str) -> str:
    """The bounded template of a Jenkins path: ``/job/{job}/{n}/wfapi/describe``."""
    path = _JOB.sub("/job/{job}", path.split("?", 1)[0])
    path = _NODE.sub(r"\1/{node}", _INPUT.sub(r"\1/{input}", path))
    return _NUMBER.sub("/{n}", path)[:MAX_ENDPOINT] or "/"


def jenkins_request(method: str, path: str, seconds: float, error: str | None = None) -> None:
    """One request to Jenkins took seconds; error names the failure kind, if any."""
    endpoint = jenkins_endpoint(path)
    f.JENKINS_REQUEST.labels(endpoint, method).observe(seconds)
    if error is not None:
        f.JENKINS_ERRORS.labels(endpoint, error).inc()


def sync_cycle(seconds: float) -> None:
    """One engine cycle took seconds."""
    f.SYNC_CYCLE.observe(seconds)


def engine_leader(active: bool) -> None:
    """Whether this process runs the active engine."""
    f.ENGINE_LEADER.set(1 if active else 0)


def webhook_received(provider: str) -> None:
    """A delivery reached a known provider's hook."""
    f.WEBHOOKS_RECEIVED.labels(provider).inc()


def webhook_rejected(provider: str, reason: str) -> None:
    """A delivery was refused (reason: signature, bad_request, not_found, error)."""
    f.WEBHOOKS_REJECTED.labels(provider, reason).inc()


def notification_attempt(owner, state: str) -> None:
    """A notification was sent, will be retried, or failed for good (once recorded)."""
    on_commit(owner, lambda: f.NOTIFICATIONS.labels(state).inc())


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    """An API request, by its route template and status class (2xx … 5xx)."""
    f.HTTP_REQUEST.labels(route, method, f"{status // 100}xx").observe(seconds)
