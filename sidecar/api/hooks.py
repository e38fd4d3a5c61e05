"""Webhooks: POST /hooks/{github|gitlab|bitbucket|harbor|dockerhub}?pipeline=<project>:<name>.

The pipeline is named in the query, since every provider lets the hook URL be chosen
freely; the credential is the provider's signature or token (see
``sidecar.intake.signatures``), not the API's bearer token.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sidecar.api.context import sidecar
from sidecar.errors import ConfigError, Problem
from sidecar.intake import service, signatures
from sidecar.metrics import record
from sidecar.services.pipelines import NotFound

bp = Blueprint("hooks", __name__, url_prefix="/hooks")


@bp.post("/<provider>")
def deliver(provider: str):
    """Take one delivery. :raise 400: no pipeline or bad body; :raise 401: bad signature;
    :raise 404: unknown provider; :raise 502: the provider's API failed"""
    if provider not in signatures.PROVIDERS:
        record.webhook_rejected("unknown", "not_found")  # the label stays bounded
        raise NotFound(f"no webhook provider {provider!r}; known are "
                       f"{', '.join(signatures.PROVIDERS)}")
    record.webhook_received(provider)
    try:
        return _deliver(provider)
    except service.BadSignature:
        record.webhook_rejected(provider, "signature")
        raise
    except ConfigError:
        record.webhook_rejected(provider, "bad_request")
        raise
    except Exception:
        record.webhook_rejected(provider, "error")
        raise


def _deliver(provider: str):
    pipeline_id = request.args.get("pipeline", "")
    if not pipeline_id:
        raise ConfigError(Problem("name the pipeline: ?pipeline=<project>:<name>"))
    delivery = service.Delivery(provider=provider, pipeline_id=pipeline_id,
                                headers=request.headers, body=request.get_data(cache=True),
                                query=request.args)
    outcome = service.receive(sidecar().store, delivery, sidecar().outbound)
    return jsonify(outcome.body), outcome.status
