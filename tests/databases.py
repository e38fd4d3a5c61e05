"""Databases for tests: a fresh SQLite file, and a fresh PostgreSQL database when reachable.

PostgreSQL is found through TEST_POSTGRES_URL (an admin URL, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). `make test` makes sure one runs;
without it (a bare `pytest`) the PostgreSQL variants are skipped, unless
TEST_REQUIRE_POSTGRES=1, as in CI, turns that into a failure.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def sqlite_url(tmp_path) -> str:
    """A new SQLite database file under tmp_path."""
    return f"sqlite:///{tmp_path / 'sidecar.db'}"


def postgres_database():
    """Create a throw-away PostgreSQL database; yields its URL and drops it afterwards."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sidecar_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable: {exc.orig}")
        pytest.skip("PostgreSQL not reachable")
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
