"""Signing and sending webhook deliveries the way each provider does, for the tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path

PAYLOADS = Path(__file__).parent / "webhook_payloads"
SECRET = "s3cret-webhook-key"
CONFIG = ("stages:\n- name: Build\n  steps:\n"
          "  - runScriptConfig: {image: alpine, shellScript: 'true'}\n")


def sample(name: str) -> bytes:
    """The bytes of a stored sample payload, e.g. 'github/push.json'."""
    return (PAYLOADS / name).read_bytes()


def hub_signature(secret: str, body: bytes) -> str:
    """'sha256=' + HMAC-SHA256 hex, computed here independently of the sidecar."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(provider: str, body: bytes, event: str = "", secret: str = SECRET,
                delivery: str | None = None) -> dict[str, str]:
    """The headers a provider sends with a delivery."""
    delivery = delivery or str(uuid.uuid4())
    if provider == "github":
        return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": hub_signature(secret, body)}
    if provider == "gitlab":
        return {"X-Gitlab-Event": event, "X-Gitlab-Token": secret,
                "X-Gitlab-Event-UUID": delivery}
    if provider == "bitbucket":
        return {"X-Event-Key": event, "X-Request-UUID": delivery,
                "X-Hub-Signature": hub_signature(secret, body)}
    if provider == "harbor":
        return {"Authorization": secret}
    return {}


def deliver(client, provider: str, pipeline: str, body: bytes, headers: dict[str, str],
            token: str | None = SECRET):
    """POST a delivery; Docker Hub's token goes in the query."""
    query = f"?pipeline={pipeline}"
    if provider == "dockerhub" and token is not None:
        query += f"&token={token}"
    return client.post(f"/hooks/{provider}{query}", data=body, headers={
        "Content-Type": "application/json", **headers})


def create_pipeline(client, name: str = "app", **fields) -> str:
    """A pipeline of project 'shop' with the webhook secret; returns its id."""
    body = {"project": "shop", "name": name, "webhookSecret": SECRET, **fields}
    if "inlineConfig" not in fields and "providerToken" not in fields:
        body["inlineConfig"] = CONFIG
    response = client.post("/api/v1/pipelines", json=body)
    assert response.status_code == 201, response.json
    return f"shop:{name}"


def executions(client, pipeline: str) -> list[dict]:
    """The pipeline's executions, newest first."""
    return client.get(f"/api/v1/executions?pipeline={pipeline}").json


def body_of(name: str) -> dict:
    """A sample payload as an object."""
    return json.loads(sample(name))
