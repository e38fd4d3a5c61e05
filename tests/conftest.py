"""Shared fixtures: golden scenarios, loaded templates and one Groovy 2.4 process."""

from __future__ import annotations

from operator import attrgetter

import pytest

from databases import postgres_database, sqlite_url
from groovy_recorder import GroovyRecorder
from same_origin import SameOriginClient
from scenarios import scenario_list
from sidecar.app import create_app
from sidecar.config.templates import load_templates
from sidecar.store import Store

SCENARIOS = scenario_list()


@pytest.fixture(scope="session")
def templates():
    """The shipped templates, read once."""
    return load_templates()


@pytest.fixture(scope="session")
def groovy():
    """A Groovy 2.4 process that compiles and records Jenkinsfiles."""
    recorder = GroovyRecorder()
    yield recorder
    recorder.close()


@pytest.fixture(params=SCENARIOS, ids=attrgetter("name"))
def scenario(request):
    """Each golden case in turn."""
    return request.param


@pytest.fixture(params=[s for s in SCENARIOS if not s.expects_error], ids=attrgetter("name"))
def rendering_scenario(request):
    """Each golden case that renders."""
    return request.param


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database of each supported kind."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        yield from postgres_database()


@pytest.fixture
def store(database_url):
    """A migrated store on a fresh database of each supported kind."""
    store = Store(database_url)
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def app(database_url):
    """An app on a fresh database, without Jenkins."""
    app = create_app({"TESTING": True, "database_url": database_url})
    app.test_client_class = SameOriginClient
    yield app
    app.extensions["sidecar"].store.dispose()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()
