"""One bad execution never stalls the others.

Every phase of the engine (admit, render and start, follow) handles one execution at a
time and catches whatever that execution raises, so the rest of the cycle goes on. What
happens to the culprit depends on what went wrong:

- a Jenkins outage (``JenkinsUnavailable``): nothing; it is tried again next cycle;
- a fault of the execution itself that no retry can mend (its config or parameters
  cannot be read, rendered or encoded): it fails at once, with the reason;
- anything else (a bug met on odd data, a refusal for this one build): it is counted and
  retried later, each wait twice the last, and fails with the reason at the limit.

The reason is stored on the execution: one line, bounded, no traceback, and storable in
any database (no lone surrogates, no NUL); the traceback goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sidecar.errors import ConfigError, RenderError, SidecarError
from sidecar.services import executions
from sidecar.store import Store
from sidecar.store.models import END_STATES, Execution, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

PERMANENT = (ConfigError, RenderError, UnicodeError)
REASON_LIMIT = 500


@dataclass(frozen=True)
class Retries:
    """How often an execution that fails unexpectedly is tried again, and how soon."""

    limit: int = 5
    """Failures in a row after which the execution fails."""
    backoff: float = 3.0
    """Seconds before the first retry; each further wait doubles."""

    def record(self, execution: Execution, phase: str, exc: BaseException,
               now: datetime | None = None) -> bool:
        """Count a failure, or fail the execution; True when it has failed."""
        if execution.state in END_STATES:
            return False
        if isinstance(exc, PERMANENT) or execution.errors + 1 >= self.limit:
            executions.finish(execution, "Failed", reason(phase, exc))
            return True
        execution.errors += 1
        wait = self.backoff * 2 ** (execution.errors - 1)
        execution.retry_at = (now or utcnow()) + timedelta(seconds=wait)
        return False


def recorded(store: Store, execution_id: str, action: Callable[[Execution], T]) -> T | None:
    """Apply action to the execution in a session of its own; None if the store failed."""
    try:
        with store.session() as session:
            return action(executions.get(session, execution_id))
    except Exception:  # the store itself may be the trouble; the next cycle tries again
        log.exception("could not record what happened to %s", execution_id)
        return None


def cleared(execution: Execution) -> None:
    """The execution went through a phase without trouble: forget earlier failures."""
    if execution.errors or execution.retry_at is not None:
        execution.errors, execution.retry_at = 0, None


def reason(phase: str, exc: BaseException) -> str:
    """'could not <phase>: <what went wrong>', fit to show and to store."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, SidecarError):  # ours say what they are; others need their kind
        text = f"{type(exc).__name__}: {text}"
    text = f"could not {phase}: {text}".replace("\x00", "\\x00")
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT - 1] + "…"


def logged(phase: str, execution_id: str, exc: BaseException) -> None:
    """Log a failure with its traceback, unless it is an expected kind."""
    if isinstance(exc, PERMANENT):
        log.warning("could not %s %s: %s", phase, execution_id, reason(phase, exc))
    else:
        log.error("could not %s %s", phase, execution_id, exc_info=exc)
