"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL.

We test these aspects:
- after every migration has run, Alembic's comparison of the database with the models
  finds nothing to add, drop or change (so a model change without its migration fails);
- the newest migration can be undone and redone.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sidecar.store import Store
from sidecar.store.models import Base


def _differences(store: Store) -> list:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return compare_metadata(context, Base.metadata)


def test_migrated_schema_equals_the_models(database_url):
    store = Store(database_url)
    store.migrate()
    try:
        assert _differences(store) == []
    finally:
        store.dispose()


def test_newest_migration_goes_down_and_up(database_url):
    store = Store(database_url)
    store.migrate()
    try:
        store.downgrade("-1")
        store.migrate()
        assert _differences(store) == []
    finally:
        store.dispose()
