"""Secrets in webhook URLs stay out of the access log.

Docker Hub cannot sign, so its hook carries the secret in ``?token=``; the access line
the app writes for each request records the path without its query, and gunicorn's own
access log, which would print the raw URI, is switched off.
"""

from __future__ import annotations

import json
import logging

from sidecar import logs


def test_the_access_log_leaves_out_query_strings(client, caplog):
    caplog.set_level(logging.INFO, logger=logs.ACCESS_LOGGER)
    client.post("/hooks/dockerhub?pipeline=shop:app&token=s3cret-webhook-key", json={})
    (line,) = [r for r in caplog.records if r.name == logs.ACCESS_LOGGER]
    shown = line.getMessage() + json.dumps(line.fields)
    assert "/hooks/dockerhub" in shown
    assert "s3cret" not in shown and "token=" not in shown


def test_gunicorn_writes_no_access_log_of_its_own():
    config = logs.gunicorn_logconfig("INFO", "json")
    access = config["loggers"]["gunicorn.access"]
    assert access["handlers"] == [] and access["propagate"] is False
