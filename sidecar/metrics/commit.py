"""Observations that count only once their transaction commits.

A run's end is counted when the row saying so is committed: a rolled-back transaction
is retried by the next engine cycle, and counting both attempts would count the run
twice. Each observation remembers the innermost savepoint it was made in, so a
savepoint that rolls back takes its observations with it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, object_session

_PENDING = "sidecar.metrics.pending"


def on_commit(owner: Session | object | None, action: Callable[[], None]) -> None:
    """Run action after the transaction of owner (a session, or a row in one) commits.

    Without a session (a detached row) the action runs at once.
    """
    session = owner if isinstance(owner, Session) else \
        (object_session(owner) if owner is not None else None)
    if session is None:
        action()
        return
    session.info.setdefault(_PENDING, []).append((session.get_nested_transaction(), action))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the outer transaction may still fail
        return
    for _, action in session.info.pop(_PENDING, ()):
        action()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if previous.parent is None:
        session.info.pop(_PENDING, None)
        return
    session.info[_PENDING] = [(where, action) for where, action in pending
                              if not _inside(where, previous)]


def _inside(where: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while where is not None:
        if where is savepoint:
            return True
        where = where.parent
    return False
