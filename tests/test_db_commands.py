"""``jenkins-sidecar db …``: revision, history, upgrade, backup and restore.

We test these aspects, on SQLite and PostgreSQL (the database named by
SIDECAR_DATABASE_URL, as an operator runs them):
- ``current`` says ``<empty>`` on a new database and the head revision after ``upgrade``;
  ``history`` lists every migration oldest first;
- a backup restored after later changes brings back exactly the backed-up rows;
- on SQLite a backup taken while another connection keeps writing (WAL) is consistent:
  it passes the integrity check and holds no execution without its steps;
- a missing or foreign backup file is one clear line and exit status 2, not a traceback.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import select

from sidecar.cli import main
from sidecar.services import executions, pipelines
from sidecar.store import Store, admin
from sidecar.store.models import Execution, Pipeline

CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"


@pytest.fixture
def operator(database_url, monkeypatch):
    """The database URL, set as the service would read it."""
    monkeypatch.setenv("SIDECAR_DATABASE_URL", database_url)
    return database_url


def _trigger(store, count=1) -> list[str]:
    ids = []
    with store.session() as session:
        if session.get(Pipeline, "shop:api") is None:
            pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": CONFIG})
    for _ in range(count):
        with store.session() as session:
            ids.append(executions.trigger(session, "shop:api", executions.TriggerRequest()).id)
    return ids


def _ids(url) -> list[str]:
    store = Store(url)
    try:
        with store.session() as session:
            return session.scalars(select(Execution.id).order_by(Execution.run)).all()
    finally:
        store.dispose()


def test_current_upgrade_and_history(operator, capsys):
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == "<empty>"
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"{admin.head()} (head)"
    assert main(["db", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("<base> -> 0001:")
    assert [line.split(" -> ")[1].split(":")[0] for line in lines] == \
        [r.id for r in admin.history()]


def test_backup_then_restore_brings_back_the_backed_up_rows(operator, tmp_path, capsys):
    store = Store(operator)
    store.migrate()
    before = _trigger(store, 3)
    store.dispose()
    backup = tmp_path / "sidecar.backup"
    assert main(["db", "backup", str(backup)]) == 0
    store = Store(operator)
    after = _trigger(store, 2)
    store.dispose()
    assert _ids(operator) == before + after
    assert main(["db", "restore", str(backup)]) == 0
    assert _ids(operator) == before
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip().endswith("(head)")


def test_sqlite_backup_is_consistent_while_another_writer_works(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    monkeypatch.setenv("SIDECAR_DATABASE_URL", url)
    store = Store(url)
    store.migrate()
    _trigger(store, 1)
    stop, under_way = threading.Event(), threading.Event()

    def write() -> None:
        for count in range(1_000_000):
            if stop.is_set():
                return
            _trigger(store, 1)
            if count == 5:
                under_way.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert under_way.wait(60)  # the writer is busy before and during the copies
        for n in range(3):
            assert main(["db", "backup", str(tmp_path / f"copy{n}.db")]) == 0
    finally:
        stop.set()
        writer.join()
        store.dispose()
    for n in range(3):
        with sqlite3.connect(tmp_path / f"copy{n}.db") as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            orphans = copy.execute("SELECT count(*) FROM executions e WHERE NOT EXISTS "
                                   "(SELECT 1 FROM step_states s WHERE s.execution_id = e.id)")
            assert orphans.fetchone() == (0,)
            assert copy.execute("SELECT count(*) FROM executions").fetchone()[0] >= 1


@pytest.mark.parametrize("content", [None, b"not a database", "empty sqlite"])
def test_a_missing_or_foreign_backup_is_one_clear_line(tmp_path, monkeypatch, capsys, content):
    monkeypatch.setenv("SIDECAR_DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    source = tmp_path / "backup"
    if content == "empty sqlite":
        sqlite3.connect(source).close()
    elif content is not None:
        source.write_bytes(content)
    assert main(["db", "restore", str(source)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "backup" in err
