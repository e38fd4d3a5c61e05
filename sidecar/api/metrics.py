"""GET /metrics: Prometheus' text format, open like the health endpoints.

No label carries a project, pipeline, branch or run, so the page tells no tenant's
business; it is served without a token, as ``/healthz`` is, and the network decides
who may scrape (deploy/: the monitoring namespace's NetworkPolicy).
"""

from __future__ import annotations

from flask import Blueprint, Response

from sidecar.api.context import sidecar
from sidecar.metrics import exposition

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    """Every process' metrics and the database's counts."""
    return Response(exposition.render(sidecar().store), content_type=exposition.CONTENT_TYPE)
