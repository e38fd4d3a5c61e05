"""Configs name only the Secrets their project allows, never the sidecar's own.

We test these attacks through the HTTP API (SQLite and PostgreSQL):
- a pipeline registered (POST) or changed (PUT) with an envFrom or a credentialSecret
  naming a Secret outside the project's `secrets` list is a 400 that gives the file,
  line and column of the name, and nothing is stored;
- a Secret of the sidecar (its API tokens, Jenkins token, webhook secrets, the gc's
  report token) is refused even when the operator lists it;
- a run triggered with a config naming a foreign Secret is a 400 and starts nothing;
- a Secret removed from the list after registration stops the next trigger;
- listed Secrets are accepted.
"""

from __future__ import annotations

import pytest

CONFIG = """stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: env}
    envFrom:
    - {sourceName: SECRET_A, sourceKey: token}
  - publishImageConfig: {tag: "a:1", credentialSecret: SECRET_B}
"""
OWN = ("jenkins-sidecar-api-tokens", "jenkins-sidecar-jenkins-token",
       "jenkins-sidecar-webhook-secrets", "jenkins-sidecar-cache-report-token")


def _config(a: str = "team-a-npm", b: str = "team-a-registry") -> str:
    return CONFIG.replace("SECRET_A", a).replace("SECRET_B", b)


def _allow(client, *names: str) -> None:
    answer = client.put("/api/v1/settings/shop", json={"secrets": list(names)})
    assert answer.status_code == 200, answer.json


def _messages(answer) -> list[str]:
    return [f"{e['position']}: {e['message']}" for e in answer.json["errors"]]


def test_foreign_secrets_are_refused_at_registration_with_their_position(client):
    _allow(client, "team-a-npm")
    answer = client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "app", "inlineConfig": _config(b="team-b-registry")})
    assert answer.status_code == 400
    assert _messages(answer) == [
        "inlineConfig:7:56: Secret 'team-b-registry' is not in the project's allowed "
        "secrets (settings 'secrets': team-a-npm)"]
    assert client.get("/api/v1/pipelines/shop:app").status_code == 404


def test_foreign_secrets_are_refused_on_change(client):
    _allow(client, "team-a-npm", "team-a-registry")
    assert client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "app", "inlineConfig": _config()}).status_code == 201
    answer = client.put("/api/v1/pipelines/shop:app",
                        json={"inlineConfig": _config(a="team-b-npm")})
    assert answer.status_code == 400
    assert _messages(answer)[0].startswith("inlineConfig:6:20: Secret 'team-b-npm'")
    assert client.get("/api/v1/pipelines/shop:app").json["inlineConfig"] == _config()


@pytest.mark.parametrize("own", OWN)
def test_the_sidecars_own_secrets_can_never_be_named(client, own):
    _allow(client, own, "team-a-registry")
    answer = client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "app", "inlineConfig": _config(a=own)})
    assert answer.status_code == 400
    assert "belongs to jenkins-sidecar and can never be used" in _messages(answer)[0]


def test_a_trigger_with_a_foreign_secret_starts_nothing(client):
    _allow(client, "team-a-npm", "team-a-registry")
    assert client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "app", "inlineConfig": _config()}).status_code == 201
    answer = client.post("/api/v1/pipelines/shop:app/executions",
                         json={"config": _config(b="jenkins-sidecar-api-tokens")})
    assert answer.status_code == 400 and _messages(answer)[0].startswith("config:7:")
    assert client.get("/api/v1/executions?pipeline=shop:app").json == []


def test_a_secret_taken_off_the_list_stops_the_next_trigger(client):
    _allow(client, "team-a-npm", "team-a-registry")
    assert client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "app", "inlineConfig": _config()}).status_code == 201
    assert client.post("/api/v1/pipelines/shop:app/executions", json={}).status_code == 201
    _allow(client, "team-a-npm")
    answer = client.post("/api/v1/pipelines/shop:app/executions", json={})
    assert answer.status_code == 400 and "'team-a-registry'" in _messages(answer)[0]
    assert len(client.get("/api/v1/executions?pipeline=shop:app").json) == 1
