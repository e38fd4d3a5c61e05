"""API authentication: bearer tokens mapped to users and groups, read vs write.

We test these aspects:
- with a token file, a request without a token, or with an unknown one, is a 401 envelope
  with a WWW-Authenticate header; a read token reads but a write is a 403; a write
  token writes; health and webhook paths need no token;
- the token file is checked at start-up: a malformed entry stops the app with a clear
  message; only digests are kept, and a plain token in the file works too;
- without a token file the settings refuse a non-loopback address unless anonymous
  access is asked for.
"""

from __future__ import annotations

import pytest

from sidecar.app import create_app
from sidecar.errors import ConfigError
from sidecar.services.access import Principal, digest_of, load_tokens
from sidecar.settings import settings_from

TOKENS = f"""
tokens:
- {{user: alice, groups: [release-managers], access: write, sha256: {digest_of("alice-token")}}}
- {{user: rita, access: read, token: rita-token}}
"""


@pytest.fixture
def secured(database_url, tmp_path):
    path = tmp_path / "tokens.yaml"
    path.write_text(TOKENS)
    app = create_app({"TESTING": True, "database_url": database_url,
                      "api_tokens_file": str(path)})
    yield app.test_client()
    app.extensions["sidecar"].store.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Basic YTpi"},
                                     bearer("")])
def test_missing_or_unknown_token_is_401(secured, headers):
    response = secured.get("/api/v1/pipelines", headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_read_token_reads_but_cannot_write(secured):
    assert secured.get("/api/v1/pipelines", headers=bearer("rita-token")).status_code == 200
    response = secured.post("/api/v1/pipelines", json={"name": "web"},
                            headers=bearer("rita-token"))
    assert response.status_code == 403
    assert "read-only" in response.json["message"]
    # Rendering is a POST that only reads.
    assert secured.post("/api/v1/validate", data="stages: []",
                        headers=bearer("rita-token")).status_code != 403


def test_write_token_writes(secured):
    response = secured.post("/api/v1/pipelines", json={"name": "web"},
                            headers=bearer("alice-token"))
    assert response.status_code == 201


def test_open_paths_need_no_token(secured):
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/openapi.json").status_code == 200


def test_token_file_entries_are_checked(tmp_path):
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n- {user: '', access: admin, sha256: xyz, projects: []}\n")
    with pytest.raises(ConfigError) as caught:
        load_tokens(str(path))
    messages = " | ".join(p.message for p in caught.value.problems)
    assert "tokens[0].user" in messages and "read, write or cache-report" in messages \
        and "sha256" in messages and "tokens[0].projects" in messages


def test_principals_by_group():
    path_principal = Principal(user="bob", groups=("release-managers",))
    assert path_principal.is_one_of(["alice", "release-managers"])
    assert not path_principal.is_one_of(["alice"])


def test_non_loopback_bind_needs_tokens_or_explicit_anonymous():
    with pytest.raises(ConfigError) as caught:
        settings_from({"SIDECAR_BIND": "0.0.0.0:8080"})
    assert "SIDECAR_API_TOKENS_FILE" in caught.value.problems[0].message
    assert settings_from({"SIDECAR_BIND": "0.0.0.0:8080", "SIDECAR_ALLOW_ANONYMOUS": "true",
                          "SIDECAR_SECRET_KEY": "k" * 32}).allow_anonymous
    assert settings_from({"SIDECAR_BIND": "127.0.0.1:9000"}).bind == "127.0.0.1:9000"
