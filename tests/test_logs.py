"""Logs: text or JSON lines, request ids, an access line per request, no forged lines.

We test these aspects:
- the text format escapes control characters, so a newline in a message stays on its
  line; the JSON format is one object a line with time (offset included), level, logger,
  message and the request, execution and pipeline ids bound while it was logged;
- a caller's plain ``X-Request-Id`` is kept and returned; one with CR/LF or too long is
  replaced, never echoed; the error envelope carries the same id as the header;
- every request writes one access line with method, path (without the query string, which
  may hold a Docker Hub secret), status, duration and the id;
- `jenkins-sidecar serve` with ``SIDECAR_LOG_FORMAT=json`` (a real process): every line it
  prints on stderr parses as JSON — gunicorn's own included — INFO lines show, and a
  ``%0a`` in a URL forges no line.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from sidecar import logs

ROOT = Path(__file__).resolve().parents[1]


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("sidecar.test", logging.WARNING, __file__, 1, message, args, None)


def _formatted(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    logs._Context().filter(record)
    return formatter.format(record)


def test_text_lines_escape_control_characters():
    line = _formatted(logs.TextFormatter(), _record("branch %s built", "main\nFORGED 500\x1b[2J"))
    assert "\n" not in line and "\x1b" not in line
    assert line.endswith("branch main\\nFORGED 500\\x1b[2J built")


def test_json_lines_carry_the_bound_ids():
    with logs.bound(request_id="r-1", execution_id="shop:api-7", pipeline_id="shop:api"):
        line = _formatted(logs.JsonFormatter(), _record("started %s", "x\ny"))
    record = json.loads(line)
    assert "\n" not in line
    assert record["message"] == "started x\ny" and record["level"] == "WARNING"
    assert record["logger"] == "sidecar.test"
    assert (record["requestId"], record["executionId"], record["pipelineId"]) == \
        ("r-1", "shop:api-7", "shop:api")
    assert datetime.fromisoformat(record["time"]).utcoffset() is not None
    outside = json.loads(_formatted(logs.JsonFormatter(), _record("later")))
    assert "executionId" not in outside and "requestId" not in outside


def test_a_plain_request_id_is_kept_and_returned(client):
    response = client.get("/api/v1/pipelines", headers={"X-Request-Id": "portal-42.a:b"})
    assert response.headers["X-Request-Id"] == "portal-42.a:b"


@pytest.mark.parametrize("offered", ["bad\r\nSet-Cookie: x=1", "x" * 129, "", "ünïcode"])
def test_an_unsafe_request_id_is_replaced(client, offered):
    # Set in the WSGI environ: a raw header as a proxy might pass it on.
    response = client.get("/api/v1/pipelines", environ_overrides={"HTTP_X_REQUEST_ID": offered})
    returned = response.headers["X-Request-Id"]
    assert returned != offered and len(returned) == 32 and "Set-Cookie" not in response.headers


def test_the_error_envelope_carries_the_header_id(client):
    response = client.get("/api/v1/executions/nope:none-1")
    assert response.status_code == 404
    assert response.json["requestId"] == response.headers["X-Request-Id"]


def test_one_access_line_per_request_without_the_query(client, caplog):
    caplog.set_level(logging.INFO, logger=logs.ACCESS_LOGGER)
    client.get("/healthz?token=secret-in-query", headers={"X-Request-Id": "abc"})
    (line,) = [r for r in caplog.records if r.name == logs.ACCESS_LOGGER]
    assert line.fields["path"] == "/healthz" and line.fields["status"] == 200
    assert line.fields["method"] == "GET" and line.fields["durationMs"] >= 0
    assert "secret" not in line.getMessage() and "secret" not in json.dumps(line.fields)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_prints_only_json_lines(tmp_path):
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")},
           "SIDECAR_BIND": f"127.0.0.1:{port}", "SIDECAR_LOG_FORMAT": "json",
           "SIDECAR_DATABASE_URL": f"sqlite:///{tmp_path / 'sidecar.db'}",
           "SIDECAR_EXAMPLES_DIR": str(ROOT / "examples")}
    server = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        lines = []
        for line in server.stderr:  # the first lines tell when it listens
            lines.append(line)
            if "Listening at" in line or "Booting worker" in line:
                break
        for path in ("/healthz", "/api/v1/pipelines", "/api/v1/executions/x%0aFORGED%20line"):
            try:
                urllib.request.urlopen(base + path, timeout=30).read()
            except urllib.error.HTTPError as answer:
                assert answer.code == 400   # no URL with a control character is taken
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, rest = server.communicate(timeout=60)
    lines += rest.splitlines(keepends=True)
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    loggers = {r["logger"] for r in records}
    assert "gunicorn.error" in loggers and logs.ACCESS_LOGGER in loggers
    assert any(r["level"] == "INFO" and r["logger"].startswith("sidecar") and
               "example pipelines" in r["message"] for r in records)
    access = [r for r in records if r["logger"] == logs.ACCESS_LOGGER]
    assert [r["path"] for r in access] == ["/healthz", "/api/v1/pipelines",
                                           "/api/v1/executions/x\nFORGED line"]
    assert all(r["requestId"] for r in access)
    assert not any(line.startswith("FORGED") for line in lines)
