"""Anonymous loopback mode (`make run`, no token file) against a browser-borne attacker.

We test these attacks, through the HTTP API (and through a real socket to
``jenkins-sidecar serve``):
- DNS rebinding: a request whose Host is the attacker's name (resolving to 127.0.0.1)
  is refused, by the API and by the web UI's pages; loopback names and literals (with
  ports, IPv6) are served;
- a peer that is not a loopback address is refused, judged by parsing the address
  (``::ffff:127.0.0.1`` is loopback, ``::ffff:10.0.0.1`` is not);
- a bind address such as ``127.0.0.1.nip.io`` does not count as loopback;
- CSRF: a cross-origin form POST, a form POST without Origin and a text/plain POST
  change nothing; JSON from a non-browser client and a same-origin form post work;
- a blueprint that checks its own CSRF token may take form posts, but still never a
  cross-origin one.
"""

from __future__ import annotations

import http.client

import pytest
from flask import Blueprint

from sidecar.api.auth import checks_its_own_csrf
from sidecar.app import create_app
from sidecar.errors import ConfigError
from sidecar.settings import settings_from

CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"


@pytest.fixture
def anonymous(database_url):
    """The `make run` app, called as a plain (non-browser) client on loopback."""
    app = create_app({"TESTING": True, "database_url": database_url})
    yield app
    app.extensions["sidecar"].store.dispose()


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8080",
                                  "127.0.0.1.attacker.example", "localhost.attacker.example",
                                  "[::2]", "10.0.0.1:8080"])
def test_a_rebinding_host_is_refused(anonymous, host):
    response = anonymous.test_client().get("/api/v1/pipelines", headers={"Host": host})
    assert response.status_code == 403 and "loopback Host" in response.json["message"]


@pytest.mark.parametrize("path", ["/ui/", "/ui/approvals", "/ui/static/ui.css"])
def test_a_rebinding_host_gets_no_ui_page(anonymous, path):
    client = anonymous.test_client()
    assert client.get(path, headers={"Host": "attacker.example"}).status_code == 403
    assert client.get(path, headers={"Host": "attacker.example"},
                      environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 403
    with client.get(path, headers={"Host": "localhost:8080"}) as served:
        assert served.status_code in (200, 302)


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080",
                                  "127.1.2.3", "[::1]:8080", "app.localhost"])
def test_loopback_hosts_are_served(anonymous, host):
    assert anonymous.test_client().get("/api/v1/pipelines",
                                       headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("peer, status", [("10.0.0.5", 403), ("::ffff:10.0.0.1", 403),
                                          ("::ffff:127.0.0.1", 200), ("::1", 200),
                                          ("127.0.0.9", 200)])
def test_the_peer_address_is_parsed(anonymous, peer, status):
    client = anonymous.test_client()
    assert client.get("/api/v1/pipelines",
                      environ_base={"REMOTE_ADDR": peer}).status_code == status


def test_a_dotted_name_is_not_a_loopback_bind():
    with pytest.raises(ConfigError, match="SIDECAR_API_TOKENS_FILE"):
        settings_from({"SIDECAR_BIND": "127.0.0.1.nip.io:8080"})
    assert settings_from({"SIDECAR_BIND": "[::1]:8080"}).bind == "[::1]:8080"


@pytest.mark.parametrize("headers, data", [
    ({"Origin": "https://attacker.example",
      "Content-Type": "application/x-www-form-urlencoded"}, "name=evil&project=x"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, "name=evil"),
    ({"Content-Type": "text/plain"}, '{"project": "shop", "name": "evil"}'),
    ({"Origin": "null", "Content-Type": "text/plain"}, '{"project": "shop", "name": "evil"}'),
    ({"Origin": "https://attacker.example", "Content-Type": "application/json"},
     '{"project": "shop", "name": "evil"}')])
def test_cross_site_writes_are_refused(anonymous, headers, data):
    client = anonymous.test_client()
    response = client.post("/api/v1/pipelines", data=data, headers=headers)
    assert response.status_code == 403
    assert client.get("/api/v1/pipelines").json == []


def test_bodyless_cross_site_posts_are_refused(anonymous):
    client = anonymous.test_client()
    client.post("/api/v1/pipelines", json={"project": "shop", "name": "web",
                                           "inlineConfig": CONFIG})
    run = client.post("/api/v1/pipelines/shop:web/executions", json={}).json["id"]
    stop = client.post(f"/api/v1/executions/{run}/stop",
                       headers={"Origin": "https://attacker.example"})
    assert stop.status_code == 403
    assert client.post(f"/api/v1/executions/{run}/rerun").status_code == 403
    assert client.get(f"/api/v1/executions/{run}").json["state"] == "Waiting"
    same_origin = client.post(f"/api/v1/executions/{run}/stop",
                              headers={"Origin": "http://localhost"})
    assert same_origin.status_code == 200 and same_origin.json["state"] == "Aborted"


def test_json_from_a_plain_client_works(anonymous):
    response = anonymous.test_client().post("/api/v1/pipelines",
                                            json={"project": "shop", "name": "web"})
    assert response.status_code == 201


def test_a_blueprint_with_its_own_csrf_check_takes_same_origin_forms(database_url):
    forms = checks_its_own_csrf(Blueprint("forms", __name__))
    forms.add_url_rule("/forms/post", "post", lambda: "taken", methods=["POST"])
    app = create_app({"TESTING": True, "database_url": database_url})
    app.register_blueprint(forms)
    client = app.test_client()
    assert client.post("/forms/post", data={"a": "b"}).status_code == 200
    assert client.post("/forms/post", data={"a": "b"},
                       headers={"Origin": "https://attacker.example"}).status_code == 403
    assert client.post("/api/v1/pipelines", data={"name": "x"}).status_code == 403
    app.extensions["sidecar"].store.dispose()


def test_rebinding_through_a_real_socket_is_refused(served):
    for host, status in (("attacker.example", 403), (f"localhost:{served.port}", 200)):
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        connection.request("GET", "/api/v1/pipelines", headers={"Host": host})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == status
