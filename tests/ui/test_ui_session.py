"""The web UI's session, CSRF and access rules through HTTP, without a browser.

We test these aspects (those that read or write runs on SQLite and PostgreSQL):
- the session cookie is HttpOnly, SameSite=Strict, path /ui, and holds the token's digest,
  never the token; another app (a replica, or another worker process) with the same
  SIDECAR_SECRET_KEY accepts it, one with another key does not; a tampered cookie and a
  token taken out of the token file sign the user out;
- the secret key is required on a non-loopback address, must be long, and never shows in
  the settings' repr;
- every form is refused without the session's CSRF token (sign-in included), also with a
  token of another session; with it, the action happens;
- a read-only token may look and validate but every change is 403; a cache-report token
  cannot sign in; a token of another project finds shop's pipeline, runs, logs and
  approvals missing (404) on every route, reading or writing;
- after sign-in only paths inside the UI are followed (no open redirect);
- without a token file (loopback) the UI needs no sign-in but still checks CSRF;
- a start refused for a bad parameter says why and uses up no run number;
- the runs list pages by run number and filters by branch, state and event;
- errors are HTML pages, never a traceback; pages carry a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
import re

import pytest
from flask.sessions import SecureCookieSessionInterface
from ui_world import SECRET_KEY, USERS, add_pipelines, token_file

from databases import sqlite_url
from scenarios import CASES

from sidecar.app import create_app
from sidecar.errors import ConfigError
from sidecar.services import approvals, executions
from sidecar.services.access import digest_of
from sidecar.settings import settings_from
from sidecar.store.models import Approval, utcnow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _factory(database_url: str, tmp_path):
    made = []

    def make(**overrides):
        config = {"TESTING": True, "database_url": database_url,
                  "api_tokens_file": str(token_file(tmp_path / "tokens.yml")),
                  "secret_key": SECRET_KEY, **overrides}
        app = create_app({k: v for k, v in config.items() if v is not None})
        if not made:
            add_pipelines(app.extensions["sidecar"].store)
        made.append(app)
        return app

    return make, made


@pytest.fixture
def make_app(database_url, tmp_path):
    """Apps on one database of each kind: make_app(**settings) -> app."""
    make, made = _factory(database_url, tmp_path)
    yield make
    for app in made:
        app.extensions["sidecar"].store.dispose()


@pytest.fixture
def make_sqlite_app(tmp_path):
    """The same on SQLite alone, for what does not depend on the database."""
    make, made = _factory(sqlite_url(tmp_path), tmp_path)
    yield make
    for app in made:
        app.extensions["sidecar"].store.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


def _csrf(client, path="/ui/signin") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def _sign_in(client, user: str, next_path: str = ""):
    return client.post("/ui/signin", data={"token": USERS[user][0], "next": next_path,
                                           "csrf_token": _csrf(client)})


def _client(app, user: str):
    client = app.test_client()
    assert _sign_in(client, user).status_code == 302
    return client


def _run(app, **fields) -> int:
    with app.extensions["sidecar"].store.session() as session:
        return executions.trigger(session, "shop:web",
                                  executions.TriggerRequest(**fields)).run


def _signed_in_as(response) -> str | None:
    found = re.search(r"Signed in as <strong>([^<]+)</strong>", response.get_data(as_text=True))
    return found.group(1) if found else None


def test_the_session_cookie_keeps_a_digest_and_holds_across_replicas(make_sqlite_app):
    first = make_sqlite_app()
    client = first.test_client()
    response = _sign_in(client, "alice")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    assert USERS["alice"][0] not in cookie
    value = client.get_cookie("sidecar_ui", path="/ui").value
    serializer = SecureCookieSessionInterface().get_signing_serializer(first)
    assert serializer.loads(value)["token"] == digest_of(USERS["alice"][0])

    replica = make_sqlite_app().test_client()
    replica.set_cookie("sidecar_ui", value, path="/ui")
    assert _signed_in_as(replica.get("/ui/")) == "alice"

    other_key = make_sqlite_app(secret_key="another-key-0123456789abcdef01234567"
                                ).test_client()
    other_key.set_cookie("sidecar_ui", value, path="/ui")
    assert other_key.get("/ui/").headers["Location"] == "/ui/signin?next=/ui/"

    tampered = make_sqlite_app().test_client()
    tampered.set_cookie("sidecar_ui", value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"),
                        path="/ui")
    assert tampered.get("/ui/").status_code == 302


def test_without_a_shared_key_another_process_does_not_know_the_session(make_sqlite_app):
    client = make_sqlite_app(secret_key=None).test_client()
    _sign_in(client, "alice")
    assert _signed_in_as(client.get("/ui/")) == "alice"
    value = client.get_cookie("sidecar_ui", path="/ui").value
    second = make_sqlite_app(secret_key=None).test_client()  # its own random key
    second.set_cookie("sidecar_ui", value, path="/ui")
    assert second.get("/ui/").status_code == 302


def test_a_token_taken_out_of_the_token_file_ends_its_sessions(make_sqlite_app, tmp_path):
    client = _client(make_sqlite_app(), "alice")
    value = client.get_cookie("sidecar_ui", path="/ui").value
    fewer = tmp_path / "fewer.yml"
    fewer.write_text(json.dumps({"tokens": [{"user": "bob", "token": USERS["bob"][0]}]}))
    after = make_sqlite_app(api_tokens_file=str(fewer)).test_client()
    after.set_cookie("sidecar_ui", value, path="/ui")
    assert after.get("/ui/").status_code == 302


def test_the_secret_key_is_required_off_loopback_and_kept_secret(tmp_path):
    tokens = str(token_file(tmp_path / "tokens.yml"))
    with pytest.raises(ConfigError) as error:
        settings_from({"SIDECAR_BIND": "0.0.0.0:8080", "SIDECAR_API_TOKENS_FILE": tokens})
    assert "SIDECAR_SECRET_KEY is needed" in str(error.value)
    with pytest.raises(ConfigError, match="SIDECAR_SECRET_KEY must be at least 32"):
        settings_from({"SIDECAR_SECRET_KEY": "short"})
    settings = settings_from({"SIDECAR_BIND": "0.0.0.0:8080", "SIDECAR_API_TOKENS_FILE": tokens,
                              "SIDECAR_SECRET_KEY": SECRET_KEY})
    assert SECRET_KEY not in repr(settings)
    assert settings_from({}).secret_key == ""  # loopback: a key per process will do


def test_every_form_needs_the_sessions_csrf_token(app):
    anonymous = app.test_client()
    response = anonymous.post("/ui/signin", data={"token": USERS["alice"][0]})
    assert response.status_code == 400 and "did not come from this site" in response.text
    run = _run(app)
    alice, bob = _client(app, "alice"), _client(app, "bob")
    stop = f"/ui/pipelines/shop:web/runs/{run}/stop"
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": _csrf(bob, "/ui/")}):
        response = alice.post(stop, data=data)
        assert response.status_code == 400, data
        assert response.mimetype == "text/html"
    with app.extensions["sidecar"].store.session() as session:
        assert executions.get(session, f"shop:web-{run}").state == "Waiting"
    response = alice.post(stop, data={"csrf_token": _csrf(alice, "/ui/")})
    assert response.status_code == 303
    with app.extensions["sidecar"].store.session() as session:
        assert executions.get(session, f"shop:web-{run}").state == "Aborted"


def _pending_approval(app, run: int) -> int:
    with app.extensions["sidecar"].store.session() as session:
        approval = Approval(execution_id=f"shop:web-{run}", stage_index=1, step_index=0,
                            input_id="ship-it", message="Ship it?", submitters=["alice"],
                            parameters=[], state="Pending", created_at=utcnow())
        session.add(approval)
        session.flush()
        return approval.id


def _writes(run: int, approval_id: int) -> list[tuple[str, dict]]:
    return [(f"/ui/pipelines/shop:web/runs/{run}/stop", {}),
            (f"/ui/pipelines/shop:web/runs/{run}/rerun", {}),
            ("/ui/pipelines/shop:web/runs", {"branch": "main"}),
            (f"/ui/approvals/{approval_id}/decision", {"decision": "approve"})]


def test_a_read_only_token_reads_and_validates_but_changes_nothing(app):
    run = _run(app)
    approval_id = _pending_approval(app, run)
    reader = _client(app, "reader")
    page = reader.get(f"/ui/pipelines/shop:web/runs/{run}").text
    assert "Stop</button>" not in page and "Rerun</button>" not in page
    assert "Start a run" not in reader.get("/ui/pipelines/shop:web").text
    token = _csrf(reader, "/ui/validate")
    assert reader.post("/ui/validate", data={"config": "stages: []", "csrf_token": token}
                       ).status_code == 200
    too_many = (CASES / "error_limits_one_stage_too_many.yml").read_text()
    assert "does not fit" in reader.post("/ui/validate", data={
        "config": too_many, "csrf_token": token}).text
    for path, data in _writes(run, approval_id):
        assert reader.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    with app.extensions["sidecar"].store.session() as session:
        assert executions.get(session, f"shop:web-{run}").state == "Waiting"
        assert approvals.get(session, approval_id).state == "Pending"
        assert len(executions.listing(session, pipeline_id="shop:web")) == 1


def test_a_cache_report_token_cannot_sign_in(make_sqlite_app, tmp_path):
    tokens = tmp_path / "gc.yml"
    tokens.write_text(json.dumps({"tokens": [{"user": "gc", "access": "cache-report",
                                              "token": "gc-token-0123456789"}]}))
    client = make_sqlite_app(api_tokens_file=str(tokens)).test_client()
    response = client.post("/ui/signin", data={"token": "gc-token-0123456789",
                                               "csrf_token": _csrf(client)})
    assert response.status_code == 401 and "only report node caches" in response.text
    response = client.post("/ui/signin", data={"token": "x" * 100_000,
                                               "csrf_token": _csrf(client)})
    assert response.status_code == 401


def test_another_projects_objects_are_missing_on_every_route(app):
    run = _run(app)
    approval_id = _pending_approval(app, run)
    olga = _client(app, "olga")
    token = _csrf(olga, "/ui/")
    reads = ["/ui/pipelines/shop:web", f"/ui/pipelines/shop:web/runs/{run}",
             f"/ui/pipelines/shop:web/runs/{run}/live",
             f"/ui/pipelines/shop:web/runs/{run}/steps/0/0/log",
             f"/ui/approvals/{approval_id}"]
    for path in reads:
        assert olga.get(path).status_code == 404, path
    for path, data in _writes(run, approval_id):
        assert olga.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    assert "shop:web" not in olga.get("/ui/").text
    assert "Ship it?" not in olga.get("/ui/approvals?state=").text
    with app.extensions["sidecar"].store.session() as session:
        assert executions.get(session, f"shop:web-{run}").state == "Waiting"


@pytest.mark.parametrize("target", ["//evil.example/ui/", "https://evil.example/ui/",
                                    "/ui/\\evil.example", "javascript:alert(1)", "/api/v1/x"])
def test_sign_in_only_goes_on_inside_the_ui(make_sqlite_app, target):
    assert _sign_in(make_sqlite_app().test_client(), "alice", target
                    ).headers["Location"] == "/ui/"


def test_sign_in_goes_back_to_the_page_asked_for(make_sqlite_app):
    client = make_sqlite_app().test_client()
    assert client.get("/ui/approvals?state=").headers["Location"] == \
        "/ui/signin?next=/ui/approvals?state%3D"
    assert _sign_in(client, "bob", "/ui/approvals?state=").headers["Location"] == \
        "/ui/approvals?state="


def test_without_a_token_file_the_ui_is_anonymous_yet_checks_csrf(make_sqlite_app):
    app = make_sqlite_app(api_tokens_file=None, secret_key=None)
    client = app.test_client()
    page = client.get("/ui/pipelines/shop:web")
    assert page.status_code == 200 and "Anonymous (local service)" in page.text
    assert client.get("/ui/signin").headers["Location"] == "/ui/"
    assert client.post("/ui/pipelines/shop:web/runs", data={}).status_code == 400
    response = client.post("/ui/pipelines/shop:web/runs",
                           data={"csrf_token": _csrf(client, "/ui/pipelines/shop:web")})
    assert response.status_code == 303


def test_runs_are_paged_by_number_and_filtered(app):
    for n in range(30):
        _run(app, branch="main" if n % 3 else "feature/x", event="push" if n % 2 else "manual")
    alice = _client(app, "alice")

    def runs(query: str) -> list[int]:
        page = alice.get(f"/ui/pipelines/shop:web{query}")
        assert page.status_code == 200
        return [int(n) for n in re.findall(r'<th scope="row"><a href="[^"]+">#(\d+)</a>',
                                           page.text)]

    assert runs("") == list(range(30, 5, -1))
    assert runs("?before=6") == [5, 4, 3, 2, 1]
    assert runs("?after=5") == list(range(30, 5, -1))
    assert runs("?after=25") == [30, 29, 28, 27, 26]
    assert runs("?branch=feature/x") == [28, 25, 22, 19, 16, 13, 10, 7, 4, 1]
    assert runs("?branch=feature/x&event=push&state=Waiting") == [28, 22, 16, 10, 4]
    assert runs("?state=Success") == []
    page = alice.get("/ui/pipelines/shop:web?branch=feature/x")
    assert "Older runs" not in page.text
    assert "before=6" in alice.get("/ui/pipelines/shop:web").text  # the link to older runs


def test_errors_are_pages_and_pages_carry_a_strict_policy(app):
    alice = _client(app, "alice")
    for path, status in (("/ui/pipelines/shop:web?before=abc", 400),
                         ("/ui/pipelines/shop:web?state=Nope", 400),
                         ("/ui/no/such/page", 404), ("/ui/pipelines/shop:web/runs/99", 404),
                         (f"/ui/pipelines/shop:web/runs/{2**40}", 404)):
        response = alice.get(path)
        assert response.status_code == status, path
        assert response.mimetype == "text/html" and "Traceback" not in response.text
    response = alice.get("/ui/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"


def test_a_refused_start_shows_why_and_uses_no_run_number(app):
    alice = _client(app, "alice")
    token = _csrf(alice, "/ui/pipelines/shop:web")
    response = alice.post("/ui/pipelines/shop:web/runs",
                          data={"branch": "main", "p:TARGET": "moon", "csrf_token": token})
    assert response.status_code == 400
    assert "&#39;moon&#39; is not one of staging, production" in response.text
    assert 'value="main"' in response.text  # the form keeps what was typed
    response = alice.post("/ui/pipelines/shop:web/runs",
                          data={"branch": "main", "p:TARGET": "production", "csrf_token": token})
    assert response.headers["Location"] == "/ui/pipelines/shop:web/runs/1"
