"""Persistence (DESIGN §6): SQLAlchemy 2 on SQLite by default, PostgreSQL by URL.

The schema is owned by Alembic migrations (``sidecar/store/migrations``), applied at
start-up, so an upgraded sidecar migrates its own database.
"""

from __future__ import annotations

import fcntl
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from sidecar.errors import SidecarError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5_1DEC_A2  # the advisory lock key of schema changes (any fixed number)
SQLITE_BUSY_MS = 5000
"""How long a SQLite connection waits for another's write lock."""
SQLITE_ASIDE_MS = 50
"""How long a write aside a read waits for SQLite's write lock, at most."""


class StoreError(SidecarError):
    """The database cannot be reached or used."""


class Store:
    """An engine, its sessions and its migrations."""

    def __init__(self, url: str, *, pool_size: int = 5,
                 idle_transaction_timeout: float | None = None):
        # pool_size: connections kept per process (one per request thread is enough);
        # as many again may open on a burst and close when returned.
        options: dict = {} if url.startswith("sqlite") and ":memory:" in url else \
            {"pool_size": pool_size, "max_overflow": pool_size}
        if idle_transaction_timeout and url.startswith("postgresql"):
            # A process frozen inside a transaction (SIGSTOP, a paused VM) would hold its
            # row locks for ever; the server ends such a session after this long instead.
            options["connect_args"] = {"options": "-c idle_in_transaction_session_timeout="
                                                  f"{int(idle_transaction_timeout * 1000)}"}
        try:
            self.engine = create_engine(url, pool_pre_ping=True, **options)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot use database URL {_redact(url)}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # A read needs no transaction of its own: on PostgreSQL it runs in autocommit, one
        # round trip a statement instead of BEGIN, the statement and COMMIT. (SQLite's
        # driver begins only before a write, so its reads are already like this.)
        reading = self.engine.execution_options(isolation_level="AUTOCOMMIT") \
            if self.engine.dialect.name == "postgresql" else self.engine
        self._reads = sessionmaker(reading, class_=_ReadSession, expire_on_commit=False)

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to a migration, the newest by default (one process at a time)."""
        with self.exclusive():
            self.upgrade(revision)

    def upgrade(self, revision: str = "head") -> None:
        """Migrate without taking the start-up lock: call it inside `exclusive()`."""
        self._alembic(command.upgrade, revision)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the database's start-up lock: concurrent starts migrate one after another.

        PostgreSQL: a session advisory lock on a connection of its own; SQLite: an OS
        lock on a file beside the database. The others wait, then find the schema current.
        """
        if self.engine.dialect.name == "postgresql":
            with _advisory_lock(self.engine):
                yield
        else:
            with file_lock(self.lock_path("migrate")):
                yield

    def lock_path(self, purpose: str) -> Path | None:
        """A lock file beside a SQLite database file; None for other databases or memory."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        return Path(f"{database}.{purpose}.lock")

    def downgrade(self, revision: str) -> None:
        """Undo migrations down to a revision (``-1``: the newest one)."""
        self._alembic(command.downgrade, revision)

    def _alembic(self, action, revision: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                action(config, revision)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate {_redact(str(self.engine.url))}: {exc}") from exc

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session that only reads; each statement sees the rows committed before it."""
        session = self._reads()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def write_aside(engine: Engine, statement: Executable, rows: list[dict]) -> bool:
    """Store rows a read produced, in a transaction of its own; False when it failed.

    What a read stores this way (a built document, a log mark) can always be built
    again, so a failure (SQLite busy, the run just discarded) only means the next read
    stores it; on SQLite the read does not queue behind the engine's writes.
    """
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.begin() as connection:
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_ASIDE_MS}")
            try:
                connection.execute(statement, rows)
            finally:
                if sqlite:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    except SQLAlchemyError as exc:
        log.info("%d %s not stored now: %s", len(rows), statement.table.name,
                 type(exc).__name__)
        return False
    return True


class _ReadSession(Session):
    """A session of :meth:`Store.reader`: flushing a change is an error, not an
    autocommitted half of a transaction."""


@event.listens_for(_ReadSession, "before_flush")
def _refuse_writes(session, _context, _instances) -> None:
    raise StoreError("a read session cannot write")


@contextmanager
def _advisory_lock(engine) -> Iterator[None]:
    try:
        connection = engine.connect()
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot lock {_redact(str(engine.url))} to migrate: {exc}") from exc
    try:
        yield
    finally:
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        finally:
            connection.close()  # a lost connection takes its session lock with it


@contextmanager
def file_lock(path: Path | None, *, blocking: bool = True) -> Iterator[bool]:
    """An exclusive OS lock on path (fcntl), held while the block runs; True when held.

    blocking=False yields False at once when another process holds it. No path: no lock
    is needed (a database in memory belongs to one process), True.
    """
    if path is None:
        yield True
        return
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            held = True
        except BlockingIOError:
            held = False
        try:
            yield held
        finally:
            if held:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the sync thread write while API requests read; foreign keys are off
    # by default in SQLite.
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown without its credentials part
        return url.split("@")[-1]
