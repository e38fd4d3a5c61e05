"""Secrets in webhook URLs stay out of the access log.

Docker Hub cannot sign, so its hook carries the secret in ``?token=``; the access log
format of ``jenkins-sidecar serve`` records the path without its query.
"""

from __future__ import annotations

import datetime
import logging
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

from sidecar import server


def test_the_access_log_leaves_out_query_strings(monkeypatch, caplog):
    options = {}
    monkeypatch.setattr(server._Gunicorn, "run", lambda self: options.update(self._options))
    server.run_gunicorn(None, bind="127.0.0.1:0", threads=1)
    config = Config()
    config.set("access_log_format", options["access_log_format"])
    config.set("accesslog", "-")
    logger = Logger(config)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/hooks/dockerhub",
               "QUERY_STRING": "pipeline=shop:app&token=s3cret-webhook-key",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
               "RAW_URI": "/hooks/dockerhub?pipeline=shop:app&token=s3cret-webhook-key"}
    response = SimpleNamespace(status="202 ACCEPTED", sent=10, headers=[], response_length=10)
    request = SimpleNamespace(headers=[], method="POST", path="/hooks/dockerhub",
                              query="pipeline=shop:app&token=s3cret-webhook-key",
                              uri=environ["RAW_URI"], version=(1, 1))
    line = config.access_log_format % logger.atoms(response, request, environ,
                                                   datetime.timedelta(seconds=0.01))
    assert "/hooks/dockerhub" in line and "202" in line
    assert "s3cret" not in line and "token=" not in line
    logging.getLogger("gunicorn.access").handlers.clear()
