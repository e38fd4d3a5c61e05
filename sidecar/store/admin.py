"""Database administration: schema revision, history, backup and restore.

SQLite is backed up with its online backup API, which copies a consistent snapshot while
the service keeps writing (WAL included). PostgreSQL is dumped with ``pg_dump`` in its
custom format and restored with ``pg_restore``; the password travels in the environment
(``PGPASSWORD``), never on a command line where ``ps`` would show it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url

from sidecar.store import MIGRATIONS, Store, StoreError


@dataclass(frozen=True)
class Revision:
    """One migration: its id, the one before it, and what it does."""

    id: str
    down: str | None
    doc: str


def current_revision(store: Store) -> str | None:
    """The revision the database is at; None for an empty database."""
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def history() -> list[Revision]:
    """Every migration the sidecar ships, oldest first."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    return [Revision(s.revision, s.down_revision, (s.doc or "").strip())
            for s in reversed(list(scripts.walk_revisions()))]


def head() -> str:
    """The newest migration."""
    return history()[-1].id


def backup(url: str, target: Path) -> None:
    """Write a consistent copy of the database to target. :raise StoreError:"""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(parsed), str(target), must_exist=True)
    elif parsed.get_backend_name() == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}"], parsed)
    else:
        raise StoreError(f"no backup for {parsed.get_backend_name()} databases")


def restore(url: str, source: Path) -> None:
    """Replace the database's content with a backup made by :func:`backup`. :raise StoreError:"""
    if not source.is_file():
        raise StoreError(f"{source}: no such backup file")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_backup(source)
        _sqlite_copy(str(source), _sqlite_path(parsed), must_exist=False)
    elif parsed.get_backend_name() == "postgresql":
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              str(source)], parsed)
    else:
        raise StoreError(f"no restore for {parsed.get_backend_name()} databases")


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise StoreError("an in-memory SQLite database has nothing to back up or restore")
    return url.database


def _sqlite_copy(source: str, target: str, *, must_exist: bool) -> None:
    if must_exist and not Path(source).is_file():
        raise StoreError(f"{source}: no such database file")
    try:
        # The backup API copies page by page under SQLite's own locking, so writers in
        # other processes are never shown a torn file.
        with sqlite3.connect(f"file:{source}?mode=ro" if must_exist else source,
                             uri=must_exist) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot copy {source} to {target}: {exc}") from exc


def _check_sqlite_backup(source: Path) -> None:
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as connection:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"{source} is not a jenkins-sidecar SQLite backup: {exc}") from exc
    if found is None:
        raise StoreError(f"{source} is not a jenkins-sidecar SQLite backup: no schema revision")


def _run(command: list[str], url: URL) -> None:
    if shutil.which(command[0]) is None:
        raise StoreError(f"{command[0]} is not installed (Debian: postgresql-client)")
    env = {**os.environ, "PGPASSWORD": url.password or os.environ.get("PGPASSWORD", "")}
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False)
    done = subprocess.run([*command, f"--dbname={conninfo}"], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise StoreError(f"{command[0]} failed: {done.stderr.strip()[-500:]}")
