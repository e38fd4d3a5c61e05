"""Hostile HTTP input: every one a 4xx with the error envelope, never a 500 or a big buffer.

We test these attacks, through the HTTP API (and, where the server matters, a real
socket to ``jenkins-sidecar serve``):
- a 50 MiB chunked body is refused with 413 while it is read: the server stops taking
  it long before the end and its memory does not grow by the body;
- a declared 50 MiB Content-Length is refused before anything is read;
- JSON of more values than the budget (5 MiB of ``{}`` would be hundreds of MiB parsed);
- JSON nested 65 and 100,000 levels deep (validate, pipelines, trigger, Blue Ocean
  start, approval decision, a signed webhook), served by gunicorn too;
- NUL, lone surrogates, NaN and 1e999 in JSON; control characters in JSON names;
- NUL and CR/LF in the URL, CR/LF echoed into the Blue Ocean ``Link`` header;
- non-ASCII digits where a number is expected (path and query);
- callbacks and webhooks check their credential before they parse the body.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading

import pytest
from hostile_inputs import drain
from webhook_helpers import create_pipeline, headers_for

BO = "/blue/rest/organizations/jenkins/pipelines"
CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"
MIB = 1024 * 1024


def _envelope_400(response, words: str = "") -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.json
    assert body["code"] == 400 and body["requestId"]
    text = body["message"] + " ".join(e["message"] for e in body["errors"])
    assert words in text, text


@pytest.fixture
def pipeline(client):
    """A pipeline shop:web with one run."""
    client.post("/api/v1/pipelines", json={"project": "shop", "name": "web",
                                           "inlineConfig": CONFIG})
    client.post("/api/v1/pipelines/shop:web/executions", json={})
    return "shop:web"


def test_a_chunked_50_mib_body_is_refused_while_read(served):
    before = served.rss()
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=60)
    sock.sendall(b"POST /api/v1/validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    answer = bytearray()
    reader = threading.Thread(target=drain, args=(sock, answer), daemon=True)
    reader.start()
    chunk = b"[" * (64 * 1024)
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent = 0
    try:
        while sent < 50 * MIB and not answer:
            sock.sendall(frame)
            sent += len(chunk)
    except OSError:   # the server closed the connection: it takes no more
        pass
    reader.join(60)
    sock.close()
    assert bytes(answer).startswith(b"HTTP/1.1 413"), bytes(answer[:200])
    assert b'"code":413' in bytes(answer)
    assert sent < 20 * MIB                      # refused long before the end
    assert served.rss() - before < 20 * MIB     # and never buffered


def test_a_declared_50_mib_body_is_refused_before_reading(served):
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    connection.putrequest("POST", "/api/v1/validate")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(50 * MIB))
    connection.endheaders()
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 413 and body["code"] == 413


def test_deep_json_through_gunicorn_is_a_400(served):
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    connection.request("POST", "/api/v1/validate", body="[" * 100_000 + "]" * 100_000,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 400
    assert "nested deeper than 64" in body["errors"][0]["message"]


DEEP = ["[" * 65 + "]" * 65, '{"config":' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"a":' * 70 + "1" + "}" * 70]


@pytest.mark.parametrize("body", DEEP, ids=["65", "100000", "objects"])
@pytest.mark.parametrize("method, path", [
    ("POST", "/api/v1/validate"), ("POST", "/api/v1/pipelines"),
    ("POST", "/api/v1/pipelines/shop:web/executions"), ("POST", f"{BO}/sidecar.shop.web/runs/"),
    ("POST", "/api/v1/approvals/1/decision"), ("PUT", "/api/v1/settings/shop")])
def test_deep_json_is_a_400(client, pipeline, method, path, body):
    response = client.open(path, method=method, data=body, content_type="application/json")
    _envelope_400(response, "nested deeper than 64")


def test_json_of_too_many_values_is_refused_before_parsing(client):
    response = client.post("/api/v1/validate", data="[" + ",".join(["{}"] * 1_000_000) + "]",
                           content_type="application/json")
    _envelope_400(response, "more than 200000 values")


@pytest.mark.parametrize("text, words", [
    ('{"project": "shop", "name": "a\\u0000b"}', "NUL"),
    ('{"project": "shop", "name": "x", "inlineConfig": "stages: []\\u0000"}', "NUL"),
    ('{"project": "shop", "name": "\\ud800"}', "surrogate"),
    ('{"project": "shop", "name": "x", "repositoryUrl": "https://\\udfff"}', "surrogate"),
    ('{"project": "shop", "name": "x", "web\\nhook": 1}', "control character"),
    ('{"project": "shop", "name": "x", "triggers": {"e\\u0007": []}}', "control character"),
    ('{"project": NaN}', "NaN"), ('{"project": -Infinity}', "Infinity"),
    ('{"project": 1e999}', "too large"), (b'{"project": "\xff"}', "UTF-8")])
def test_json_values_a_store_cannot_keep_are_400(client, text, words):
    response = client.post("/api/v1/pipelines", data=text, content_type="application/json")
    _envelope_400(response, words)
    assert client.get("/api/v1/pipelines").json == []


def test_a_lone_surrogate_in_a_trigger_is_400(client, pipeline):
    response = client.post(f"/api/v1/pipelines/{pipeline}/executions",
                           data='{"message": "fix \\udc80", "branch": "main"}',
                           content_type="application/json")
    _envelope_400(response, "surrogate")
    response = client.post(f"{BO}/sidecar.shop.web/runs/", content_type="application/json",
                           data='{"parameters": [{"name": "\\ud83d", "value": "x"}]}')
    _envelope_400(response, "surrogate")


@pytest.mark.parametrize("url", [
    "/api/v1/executions?pipeline=%00", "/api/v1/executions?state=Building%00",
    "/api/v1/pipelines/shop%00web", f"{BO}/sidecar.shop.web/runs/?x=%0d%0aSet-Cookie:%20a=b",
    f"{BO}/?start=0%0d%0aX-Injected:%201", "/api/v1/approvals?pipeline=a%0ab"])
def test_control_characters_in_the_url_are_400(client, pipeline, url):
    response = client.get(url)
    _envelope_400(response, "control characters")
    assert "Set-Cookie" not in response.headers and "X-Injected" not in response.headers


def test_the_link_header_quotes_what_it_echoes(client, pipeline):
    response = client.get(f"{BO}/sidecar.shop.web/runs/?branch=a%3Eb%20c&limit=1")
    assert response.status_code == 200
    assert response.headers["Link"] == (f'<{BO}/sidecar.shop.web/runs/?branch=a%3Eb+c&start=1'
                                        '&limit=1>; rel="next"')


@pytest.mark.parametrize("url", [
    "/api/v1/approvals/\u0661\u0662", "/api/v1/executions?limit=\u0661\u0660",
    "/api/v1/pipelines/shop:web/history?limit=\u00b2", f"{BO}/?start=\u00b2",
    f"{BO}/sidecar.shop.web/runs/\u0661/", f"{BO}/sidecar.shop.web/runs/\u00b2/nodes/",
    "/api/v1/executions/shop:web-1/steps/\u0660/0/log", f"{BO}/?limit=\uff11"])
def test_non_ascii_digits_where_a_number_is_expected_are_400(client, pipeline, url):
    _envelope_400(client.get(url), "ASCII digits")


def test_callbacks_check_the_token_before_the_body(client, pipeline):
    response = client.post("/api/v1/callbacks/executions/shop:web-1/node",
                           data="[" * 100_000, content_type="application/json",
                           headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


def test_webhooks_check_the_signature_before_the_body(client):
    pipeline = create_pipeline(client)
    body = ("[" * 100_000).encode()
    unsigned = client.post(f"/hooks/github?pipeline={pipeline}", data=body,
                           content_type="application/json",
                           headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=0"})
    assert unsigned.status_code == 401
    signed = client.post(f"/hooks/github?pipeline={pipeline}", data=body,
                         content_type="application/json",
                         headers=headers_for("github", body, "push"))
    _envelope_400(signed, "nested deeper than 64")
