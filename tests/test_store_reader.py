"""The store's read sessions, which GET and HEAD requests use.

We test these aspects, on SQLite and PostgreSQL:
- an object added in a read session is refused when flushed, and nothing is stored;
- a read session sees what another session committed after its first read (it holds no
  snapshot);
- on PostgreSQL a read leaves no transaction open: the server shows the reader's
  connection idle, not idle in a transaction, while the reader still holds it;
- through the API, a GET answers from the reader and a POST still writes.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from sidecar.services import pipelines
from sidecar.store import StoreError
from sidecar.store.models import Pipeline

CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"


def test_a_read_session_refuses_to_write(store):
    with pytest.raises(StoreError, match="cannot write"):
        with store.reader() as session:
            session.add(Pipeline(id="shop:api", project="shop", name="api", inline_config=CONFIG))
            session.flush()
    with store.session() as session:
        assert session.scalars(select(Pipeline)).all() == []


def test_a_read_session_sees_later_commits(store):
    with store.reader() as reading:
        assert reading.scalars(select(Pipeline.id)).all() == []
        with store.session() as writing:
            pipelines.create(writing, {"project": "shop", "name": "api", "inlineConfig": CONFIG})
        assert reading.scalars(select(Pipeline.id)).all() == ["shop:api"]


def test_a_read_on_postgresql_holds_no_transaction(store):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's driver opens no transaction for a read in either session")
    states = {}
    for name, opener in (("reader", store.reader), ("session", store.session)):
        with opener() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with store.engine.connect() as observer:
                states[name] = observer.execute(
                    text("SELECT state FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": pid}).scalar_one()
    assert states == {"reader": "idle", "session": "idle in transaction"}


def test_gets_read_and_posts_write_through_the_api(app, client):
    store, opened = app.extensions["sidecar"].store, []
    for kind in ("reader", "session"):
        def spy(original=getattr(store, kind), kind=kind):
            opened.append(kind)
            return original()
        setattr(store, kind, spy)
    created = client.post("/api/v1/pipelines", json={"project": "shop", "name": "api",
                                                     "inlineConfig": CONFIG})
    assert created.status_code == 201, created.get_json()
    assert "session" in opened and "reader" not in opened
    opened.clear()
    listed = client.get("/api/v1/pipelines")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.get_json()] == ["shop:api"]
    assert opened == ["reader"]
