"""Outbound calls aimed where they must not go, against real local servers.

We test these attacks, through a webhook that makes the sidecar read its config from
``triggers.apiUrl`` (SQLite and PostgreSQL), and through the approval webhook sender:
- apiUrl on 127.0.0.1 is refused unless the operator allows 127.0.0.1/32;
- cloud metadata and unspecified addresses (169.254.169.254, fd00:ec2::254,
  ::ffff:169.254.169.254, 0.0.0.0) are refused even when every range is allowed, and
  nothing is sent (0.0.0.0 would reach a loopback server);
- a name is resolved once and the connection made to that address; HTTPS still
  verifies the certificate for the name and sends it as SNI;
- a redirect is not followed with the pipeline's credential (the target sees nothing);
  without a credential it is followed, and checked again hop by hop;
- a 100 MiB answer is stopped at 1 MiB with flat memory; a declared one is not read;
- a server trickling its body or its headers meets one total deadline;
- a remote body (an error page, a file that is no config) is never echoed back in the
  webhook's answer nor in the log;
- the approval webhook goes through the same guard: no loopback unless allowed, no
  redirect followed.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
import tracemalloc

import pytest
from remote import MIB, Remote, certificate, endless, redirect, text, trickle
from webhook_helpers import CONFIG, create_pipeline, deliver, executions, headers_for, sample

from sidecar import outbound, scm
from sidecar.notify import NotifyError, WebhookSender

TOKEN = "ghp-provider-token"
REPOSITORY = "https://github.com/baxterthehacker/public-repo.git"
EVERYTHING = "0.0.0.0/0,::/0,169.254.0.0/16"


@pytest.fixture
def allow(app):
    """Set the app's outbound allow-list (and resolver) as the operator would."""
    def set_policy(text: str, resolver=None) -> outbound.Client:
        client = outbound.Client(outbound.Policy.parse(text), resolver=resolver)
        app.extensions["sidecar"].outbound = client
        return client
    return set_policy


@pytest.fixture
def remotes():
    servers = []

    def start(answer, tls=None) -> Remote:
        servers.append(Remote(answer, tls))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def push(client, api_url: str):
    """A GitHub push to a pipeline whose config is read from api_url."""
    pipeline = create_pipeline(client, repositoryUrl=REPOSITORY, providerToken=TOKEN,
                               triggers={"apiUrl": api_url})
    body = sample("github/push.json")
    return deliver(client, "github", pipeline, body, headers_for("github", body, "push"))


def test_loopback_api_url_is_refused_unless_allowed(client, allow, remotes):
    remote = remotes(text(CONFIG))
    refused = push(client, remote.url)
    assert refused.status_code == 502 and "SIDECAR_OUTBOUND_ALLOW" in refused.json["message"]
    assert remote.requests == []
    allow("127.0.0.1/32")
    assert deliver_again(client).status_code == 202
    [(_, headers)] = remote.requests
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def deliver_again(client):
    body = sample("github/push.json")
    return deliver(client, "github", "shop:app", body, headers_for("github", body, "push"))


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]",
                                  "[::ffff:169.254.169.254]", "0.0.0.0"])
def test_metadata_and_unspecified_addresses_are_always_refused(client, allow, remotes, host):
    remote = remotes(text(CONFIG))
    allow(EVERYTHING)
    response = push(client, f"http://{host}:{remote.port}/api/v3")
    assert response.status_code == 502
    assert "never called" in response.json["message"]
    assert remote.requests == [] and executions(client, "shop:app") == []


def test_a_name_resolving_to_the_metadata_address_is_refused(client, allow):
    allow(EVERYTHING, resolver=lambda host, port: [ipaddress.ip_address("169.254.169.254")])
    response = push(client, "https://metadata.attacker.example/")
    assert response.status_code == 502 and "never called" in response.json["message"]


def test_a_name_is_resolved_once_and_that_address_called(client, allow, remotes):
    remote = remotes(text(CONFIG))
    asked = []

    def resolver(host, port):
        asked.append(host)
        return [ipaddress.ip_address("127.0.0.1")]
    allow("scm.test", resolver=resolver)
    assert push(client, f"http://scm.test:{remote.port}").status_code == 202
    assert asked == ["scm.test"]
    assert remote.requests[0][1]["Host"] == f"scm.test:{remote.port}"


def test_https_verifies_the_name_and_sends_it_as_sni(tmp_path, remotes):
    ca, cert, key = certificate(tmp_path, "scm.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    remote = remotes(text("ok"), tls=server_tls)
    trusted = ssl.create_default_context(cafile=str(ca))
    client = outbound.Client(outbound.Policy.parse("127.0.0.1/32,scm.test"), tls=trusted,
                             resolver=lambda host, port: [ipaddress.ip_address("127.0.0.1")])
    answer = client.get(f"https://scm.test:{remote.port}/", max_bytes=100, timeout=10)
    assert answer.body == b"ok" and remote.server_names == ["scm.test"]
    with pytest.raises(outbound.OutboundError, match="SSLCertVerificationError"):
        client.get(f"https://127.0.0.1:{remote.port}/", max_bytes=100, timeout=10)


def test_a_redirect_does_not_carry_the_credential(client, allow, remotes):
    target = remotes(text(CONFIG))
    bouncer = remotes(redirect(target.url + "/steal"))
    allow("127.0.0.1/32")
    response = push(client, bouncer.url)
    assert response.status_code == 502 and "redirect" in response.json["message"]
    assert target.requests == [] and len(bouncer.requests) == 1


def test_without_a_credential_redirects_are_followed_and_checked_each_hop(remotes):
    target = remotes(text("hello"))
    client = outbound.Client(outbound.Policy.parse("127.0.0.1/32"))
    bouncer = remotes(redirect(target.url + "/next"))
    assert client.get(bouncer.url, max_bytes=100, timeout=10).body == b"hello"
    to_metadata = remotes(redirect("http://169.254.169.254/latest/meta-data/"))
    with pytest.raises(outbound.Refused, match="never called"):
        client.get(to_metadata.url, max_bytes=100, timeout=10)


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "declared"])
def test_a_100_mib_answer_is_stopped_at_the_limit(client, allow, remotes, declare):
    remote = remotes(endless(100 * MIB, declare=declare))
    allow("127.0.0.1/32")
    tracemalloc.start()
    try:
        response = push(client, remote.url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 502
    assert f"larger than {scm.MAX_CONFIG_BYTES} bytes" in response.json["message"]
    assert peak < 8 * MIB
    assert remote.sent < 40 * MIB


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_trickling_server_meets_one_total_deadline(client, allow, remotes, monkeypatch,
                                                     in_headers):
    monkeypatch.setattr(scm, "TIMEOUT", 1.0)
    remote = remotes(trickle(in_headers=in_headers))
    allow("127.0.0.1/32")
    started = time.monotonic()
    response = push(client, remote.url)
    took = time.monotonic() - started
    assert response.status_code == 502 and "deadline" in response.json["message"]
    assert remote.sent > 3          # each byte came within any per-read timeout
    assert took < 6                 # the 1 s deadline plus generous slack, not a minute


@pytest.mark.parametrize("answer", [text("TOPSECRET-REMOTE internal page", 500),
                                    text("TOPSECRET-REMOTE: [unclosed", 200),
                                    text("stages:\n- TOPSECRET-REMOTE\n", 200)])
def test_a_remote_body_is_never_echoed(client, allow, remotes, caplog, answer):
    remote = remotes(answer)
    allow("127.0.0.1/32")
    response = push(client, remote.url)
    assert response.status_code in (400, 502)
    assert "TOPSECRET" not in response.get_data(as_text=True)
    assert "TOPSECRET" not in caplog.text


def test_the_approval_webhook_is_guarded_too(remotes):
    receiver = remotes(text("ok"))
    refused = WebhookSender(url=receiver.url, secret="s", client=outbound.Client())
    with pytest.raises(NotifyError, match="SIDECAR_OUTBOUND_ALLOW"):
        refused.send("approval.pending", "approval-1", {"id": 1})
    assert receiver.requests == []
    allowed = outbound.Client(outbound.Policy.parse("127.0.0.1/32"))
    WebhookSender(url=receiver.url, secret="s", client=allowed).send("approval.pending",
                                                                     "approval-1", {"id": 1})
    assert len(receiver.requests) == 1
    bouncer = remotes(redirect(receiver.url + "/again"))
    with pytest.raises(NotifyError, match="HTTP 302"):
        WebhookSender(url=bouncer.url, secret="s", client=allowed).send(
            "approval.pending", "approval-1", {"id": 1})
    assert len(receiver.requests) == 1
