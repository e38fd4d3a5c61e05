"""The metric families the processes record, in one registry of their own.

Names follow Prometheus' conventions: base units in the name (``_seconds``), ``_total``
on counters, and only bounded label values: results and states are the fixed names of
DESIGN §6, Jenkins endpoints and HTTP routes are templates (``/job/{job}/{n}/wfapi/describe``,
``/api/v1/executions/<execution_id>``), never a URL, a pipeline or a run id.

The families that describe the database (executions by state, approvals pending, sync
lag, the notification outbox) are not recorded here: `sidecar.metrics.state` reads
them at scrape time, so every replica and every worker reports the same truth.
"""

from __future__ import annotations

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics)

# Multiprocess mode has no ``_created`` samples; a single process serves the same page.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)
"""Where this process' metrics live (multiprocess mode reads the files instead)."""

_RUN_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
_QUEUE_BUCKETS = (0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600)
_STAGE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
_WAIT_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400)
_HOLD_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200)
_CYCLE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Routes × methods × status classes is the largest label set: fewer buckets than the default.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


def _counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
    return Counter(name, doc, labels, registry=REGISTRY)


def _histogram(name: str, doc: str, labels: tuple[str, ...] = (), buckets=None) -> Histogram:
    extra = {"buckets": buckets} if buckets else {}
    return Histogram(name, doc, labels, registry=REGISTRY, **extra)


RUNS_STARTED = _counter("sidecar_runs_started_total",
                        "Runs admitted to start (Building), by trigger type", ("trigger",))
RUNS_FINISHED = _counter("sidecar_runs_finished_total",
                         "Runs that reached an end state, by result", ("result",))
RUN_DURATION = _histogram("sidecar_run_duration_seconds",
                          "From admission to the end state, by result", ("result",),
                          _RUN_BUCKETS)
RUN_QUEUE = _histogram("sidecar_run_queue_duration_seconds",
                       "From trigger to admission (quota, locality holds)",
                       buckets=_QUEUE_BUCKETS)
STAGE_DURATION = _histogram("sidecar_stage_duration_seconds",
                            "Duration of a step's Jenkins stage, by result", ("result",),
                            _STAGE_BUCKETS)
APPROVAL_WAIT = _histogram("sidecar_approval_wait_seconds",
                           "From an approval's request to its end, by how it ended",
                           ("decision",), _WAIT_BUCKETS)
CACHE_PLACEMENTS = _counter("sidecar_cache_placements_total",
                            "Cache placements: warm (a warm node preferred), cold (none "
                            "known), held (admission waits for a warm node)", ("placement",))
CACHE_HOLD = _histogram("sidecar_cache_hold_duration_seconds",
                        "How long a run was held for a warm node before it started",
                        buckets=_HOLD_BUCKETS)
JENKINS_REQUEST = _histogram("sidecar_jenkins_request_duration_seconds",
                             "Requests to Jenkins, by endpoint template and method",
                             ("endpoint", "method"), _REQUEST_BUCKETS)
JENKINS_ERRORS = _counter("sidecar_jenkins_request_errors_total",
                          "Failed requests to Jenkins, by endpoint template and kind",
                          ("endpoint", "kind"))
SYNC_CYCLE = _histogram("sidecar_sync_cycle_duration_seconds",
                        "One engine cycle: admit, start, follow, approvals, notifications",
                        buckets=_CYCLE_BUCKETS)
ENGINE_LEADER = Gauge("sidecar_engine_leader",
                      "1 while this process runs the engine (the active one), else 0",
                      registry=REGISTRY, multiprocess_mode="livemax")
WEBHOOKS_RECEIVED = _counter("sidecar_webhooks_received_total",
                             "Webhook deliveries received, by provider", ("provider",))
WEBHOOKS_REJECTED = _counter("sidecar_webhooks_rejected_total",
                             "Webhook deliveries refused, by provider and reason",
                             ("provider", "reason"))
NOTIFICATIONS = _counter("sidecar_notification_deliveries_total",
                         "Notification delivery attempts, by what became of them "
                         "(sent, retrying, failed)", ("state",))
HTTP_REQUEST = _histogram("sidecar_http_request_duration_seconds",
                          "API requests, by route template, method and status class",
                          ("route", "method", "status"), _REQUEST_BUCKETS)
