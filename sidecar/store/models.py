"""Tables of DESIGN §6. Times are timezone-aware UTC; states are the names of DESIGN §6."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String,
                        Text, TypeDecorator, UniqueConstraint, false)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

EXECUTION_STATES = ("Waiting", "Queueing", "Building", "Pending", "Success", "Failed",
                    "Aborted", "Denied", "Timeout")
STEP_STATES = EXECUTION_STATES + ("Skipped",)
END_STATES = ("Success", "Failed", "Aborted", "Denied", "Timeout")


def utcnow() -> datetime:
    """Now, in UTC, with its time zone."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps the offset; SQLite stores text without one and hands back naive
    datetimes. Values are stored in UTC, so a naive value read back is UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Store in UTC."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        """Read back with the UTC offset attached."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    """Declarative base of the sidecar's tables."""


class Pipeline(Base):
    """A pipeline: where its config comes from, how it is triggered, its run counter."""

    __tablename__ = "pipelines"
    __table_args__ = (UniqueConstraint("project", "name"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    project: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    repository_url: Mapped[str] = mapped_column(String(2000), default="")
    config_path: Mapped[str] = mapped_column(String(500), default=".jenkins-sidecar.yml")
    inline_config: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str] = mapped_column(String(200), default="")
    provider_token: Mapped[str] = mapped_column(String(500), default="", server_default="")
    """Credential for the Git provider's API, to read the config at a pushed commit."""
    triggers: Mapped[dict] = mapped_column(JSON, default=dict)
    next_run: Mapped[int] = mapped_column(Integer, default=1)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A disabled pipeline starts no runs (Blue Ocean's disable/enable)."""
    last_run_state: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)

    executions: Mapped[list[Execution]] = relationship(back_populates="pipeline")


class Execution(Base):
    """One run of a pipeline, from trigger to end state."""

    __tablename__ = "executions"
    __table_args__ = (UniqueConstraint("pipeline_id", "run"),
                      Index("ix_executions_pipeline_created", "pipeline_id", "created_at"),
                      # The native list filtered by state, newest first (?state=Building).
                      Index("ix_executions_state_created", "state", "created_at"))

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.id"), index=True)
    project: Mapped[str] = mapped_column(String(100), index=True)
    run: Mapped[int] = mapped_column(Integer)
    trigger_type: Mapped[str] = mapped_column(String(20), default="user")
    event: Mapped[str] = mapped_column(String(20), default="manual")
    branch: Mapped[str] = mapped_column(String(500), default="")
    ref: Mapped[str] = mapped_column(String(500), default="")
    commit: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    config_snapshot: Mapped[str] = mapped_column(Text, default="")
    jenkinsfile: Mapped[str | None] = mapped_column(Text)
    pod_yaml: Mapped[str | None] = mapped_column(Text)
    jenkins_job: Mapped[str | None] = mapped_column(String(300))
    jenkins_queue_id: Mapped[int | None] = mapped_column(BigInteger)
    jenkins_build: Mapped[int | None] = mapped_column(Integer)
    node_name: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20), default="Waiting", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    pod_missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_pod_seen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A pod of the current agent scope was listed (a new scope begins after an approval)."""
    callback_token_hash: Mapped[str] = mapped_column(String(128), default="")
    triggered_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    replay_of: Mapped[str | None] = mapped_column(String(300))
    held_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set while locality-aware admission holds the run for a warm node."""
    cache_slot: Mapped[int | None] = mapped_column(Integer)
    placement_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    """Why the pod was placed or cached as it was (warm node, hold, no hostPath)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Following a run (sidecar.engine.follow): the build's pushes ask for a look, the
    # engine counts what it has seen; detail is read at least every reconcile interval.
    pushes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Requests to look at the run (its build's step reports, a delivered decision)."""
    pushes_seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    look_again: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The last look found a change under way that no push will announce."""
    detailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # One bad execution never stalls the others (sidecar.engine.isolation).
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Unexpected failures in a row while admitting, starting or following it."""
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pipeline: Mapped[Pipeline] = relationship(back_populates="executions")
    steps: Mapped[list[StepState]] = relationship(
        back_populates="execution", order_by="(StepState.stage_index, StepState.step_index)",
        cascade="all, delete-orphan")
    commits: Mapped[list[ExecutionCommit]] = relationship(
        order_by="ExecutionCommit.position", cascade="all, delete-orphan")
    notifications: Mapped[list[NotificationDelivery]] = relationship(
        order_by="NotificationDelivery.id", cascade="all, delete-orphan")


class StepState(Base):
    """State and times of one config step (stage index, step index) of an execution."""

    __tablename__ = "step_states"

    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), primary_key=True)
    stage_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage_name: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20), default="Waiting")
    jenkins_node_id: Mapped[str | None] = mapped_column(String(50))
    log_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    end_reported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The build pushed this step's end; the engine looks until Jenkins shows it."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    execution: Mapped[Execution] = relationship(back_populates="steps")


class ExecutionCommit(Base):
    """A commit the webhook that started an execution delivered: its change set."""

    __tablename__ = "execution_commits"

    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    commit_id: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[str] = mapped_column(String(200), index=True)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    url: Mapped[str] = mapped_column(String(2000), default="")
    affected_paths: Mapped[list] = mapped_column(JSON, default=list)


class Setting(Base):
    """A per-project setting; the project 'default' holds the defaults."""

    __tablename__ = "settings"

    project: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))


class ScheduledInfo(Base):
    """Where an execution's agent pod ran: the history behind node affinity."""

    __tablename__ = "scheduled_info"

    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.id"), index=True)
    node_name: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Approval(Base):
    """A pause for a human decision, and the decision with who, when and parameters."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), index=True)
    stage_index: Mapped[int] = mapped_column(Integer)
    step_index: Mapped[int] = mapped_column(Integer)
    input_id: Mapped[str] = mapped_column(String(100))
    jenkins_input_id: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    ok_text: Mapped[str] = mapped_column(String(200), default="", server_default="")
    submitters: Mapped[list] = mapped_column(JSON, default=list)
    parameters: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20), default="Pending", index=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    timeout_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LogChunk(Base):
    """A piece of a step's archived log, in order by offset."""

    __tablename__ = "log_chunks"

    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), primary_key=True)
    stage_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class LiveLogMark(Base):
    """Where a running step's log may be read on from: Jenkins' raw offset of a line start.

    Jenkins counts its progressive log offsets in the raw log, console notes included,
    while the API counts delivered bytes; a mark pairs the two at a line boundary, so a
    poll continues from the nearest mark instead of reading the log from its start. Any
    API worker that read up to a line end records one; they are facts about Jenkins'
    log, never changed, and the engine drops a step's marks once its log is archived.
    """

    __tablename__ = "live_log_marks"

    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    """The flow node whose log this is (``StepState.jenkins_node_id``)."""
    delivered: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Bytes of the log before the line, as the API counts them."""
    raw: Mapped[int] = mapped_column(BigInteger)
    """The same place as Jenkins' ``start``."""


class WebhookDelivery(Base):
    """A delivery already handled, so a redelivery starts nothing new."""

    __tablename__ = "webhook_deliveries"

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    pipeline_id: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NodeCache(Base):
    """A cache directory on a node, as the node's `cache gc` last reported it."""

    __tablename__ = "node_caches"

    node_name: Mapped[str] = mapped_column(String(300), primary_key=True)
    directory: Mapped[str] = mapped_column(String(1000), primary_key=True)
    """The directory relative to the cache root: project/pipeline/scope[/slot]/path."""
    pipeline_id: Mapped[str | None] = mapped_column(String(255), index=True)
    scope: Mapped[str] = mapped_column(String(20), default="trusted")
    slot: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default="present")
    """'present', or 'pruned' once gc removed it."""
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notifier(Base):
    """A notification channel a project registered; its secret is write-only."""

    __tablename__ = "notifiers"

    project: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000), default="")
    secret: Mapped[str] = mapped_column(String(500), default="")
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    """E-mail: host, port, tls, user, from."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationDelivery(Base):
    """The outbox: one message about one execution event to one notifier.

    Written in the transaction that changes the execution's state; ``delivery_id``
    (execution, condition, notifier) makes a second write of the same event a no-op.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(500), unique=True)
    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), index=True)
    notifier: Mapped[str] = mapped_column(String(100))
    condition: Mapped[str] = mapped_column(String(20))
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    """The execution's fields at the event, as the message template sees them."""
    template: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="Queued")
    """Queued (due at next_attempt_at), Sent, or Failed (no more attempts)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    template_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LeaderLease(Base):
    """Who runs the engine: one row per lease; epoch grows with every new holder (fencing)."""

    __tablename__ = "leader_lease"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EngineHeartbeat(Base):
    """The last sign of life of each replica's engine, leading or standing by."""

    __tablename__ = "engine_heartbeats"

    holder: Mapped[str] = mapped_column(String(200), primary_key=True)
    leading: Mapped[bool] = mapped_column(Boolean, default=False)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RunDocument(Base):
    """A finished run's Blue Ocean document, built once and served as stored (with its ETag).

    Only a finished run has one: nothing in it changes any more, except that its
    ``nextRun`` link appears when the pipeline's next run is triggered, and then the
    document is built again once (``last_run`` records which it was built for).
    """

    __tablename__ = "run_documents"

    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    """'run' (PipelineRunImpl) or 'nodes' (the run's node list)."""
    has_next: Mapped[bool] = mapped_column(Boolean, default=False)
    """Built when the pipeline had a newer run (so with its nextRun link)."""
    etag: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    """The JSON text, as served."""
