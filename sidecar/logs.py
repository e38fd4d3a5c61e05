"""Logging: one configuration for every process, text or JSON lines, with request context.

Every line the service prints goes through the root logger's one handler — the
sidecar's own loggers, gunicorn's (``gunicorn.error``) and the access log — so with
``SIDECAR_LOG_FORMAT=json`` each line is one JSON object. The request id and the
execution and pipeline being worked on are context variables, set by the HTTP layer and
the engine, and land on every line logged while they are set.

No line can be forged: JSON escapes control characters by itself, and the text format
writes them as ``\\n``, ``\\x1b``…, so a ``%0a`` in a URL or a newline in a branch name
stays inside its own line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")
ACCESS_LOGGER = "sidecar.access"

_CONTEXT = {"requestId": contextvars.ContextVar("request_id", default=None),
            "executionId": contextvars.ContextVar("execution_id", default=None),
            "pipelineId": contextvars.ContextVar("pipeline_id", default=None)}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """Control characters (newlines included) as visible escapes."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@contextmanager
def bound(*, request_id: str | None = None, execution_id: str | None = None,
          pipeline_id: str | None = None) -> Iterator[None]:
    """Attach ids to every line logged inside the block (in this thread or task)."""
    values = {"requestId": request_id, "executionId": execution_id, "pipelineId": pipeline_id}
    tokens = [(_CONTEXT[key], _CONTEXT[key].set(value))
              for key, value in values.items() if value is not None]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def bind_request(request_id: str | None) -> None:
    """Set the request id for the rest of this request; None clears it."""
    _CONTEXT["requestId"].set(request_id)


def current_request_id() -> str | None:
    """The request id of the line being handled, if any."""
    return _CONTEXT["requestId"].get()


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, variable in _CONTEXT.items():
            if not hasattr(record, key):
                setattr(record, key, variable.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the context ids."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc)
                .isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        line.update({key: getattr(record, key) for key in _CONTEXT
                     if getattr(record, key, None)})
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger [ids] message``, control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one text line (a traceback follows, escaped, on the same line)."""
        ids = " ".join(f"{key}={getattr(record, key)}" for key in _CONTEXT
                       if getattr(record, key, None))
        fields = " ".join(f"{k}={v}" for k, v in (getattr(record, "fields", None) or {}).items())
        message = " ".join(part for part in (record.getMessage(), fields) if part)
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        when = datetime.fromtimestamp(record.created, timezone.utc).isoformat(
            timespec="milliseconds")
        prefix = f"{when} {record.levelname} {record.name}" + (f" [{ids}]" if ids else "")
        return f"{prefix} {escape(message)}"


def handler(fmt: str) -> logging.Handler:
    """A stderr handler with the formatter of fmt and the context filter."""
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    out.addFilter(_Context())
    return out


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Route every logger of this process to one handler (idempotent)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt))
    root.setLevel(level)
    for name in ("gunicorn.error", "gunicorn.access"):
        # gunicorn's loggers keep no handlers of their own: their lines take ours.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def gunicorn_logconfig(level: str, fmt: str) -> dict:
    """gunicorn's ``logconfig_dict``: its own lines through our formatter, no access log.

    The access log is written by the app (``sidecar.access``), so each line carries the
    request id and the user; gunicorn's access logger is left without a handler.
    """
    formatter = "sidecar.logs.JsonFormatter" if fmt == "json" else "sidecar.logs.TextFormatter"
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"sidecar": {"()": formatter}},
            "filters": {"context": {"()": "sidecar.logs._Context"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                    "formatter": "sidecar", "filters": ["context"]}},
            "root": {"level": level, "handlers": ["stderr"]},
            "loggers": {"gunicorn.error": {"level": level, "handlers": [], "propagate": True},
                        "gunicorn.access": {"level": "CRITICAL", "handlers": [],
                                            "propagate": False}}}
