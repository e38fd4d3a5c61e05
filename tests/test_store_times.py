"""Times read back from the store carry their UTC offset on every backend.

We test these aspects, on SQLite and PostgreSQL:
- a datetime column reads back timezone-aware, in UTC, whatever offset it was written with;
- the native API shows execution times as ISO 8601 with the offset.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sidecar.services import executions, pipelines
from sidecar.store.models import Execution

CONFIG = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"


def test_times_read_back_aware_and_in_utc(store):
    written = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": CONFIG})
        execution = executions.trigger(session, "shop:api", executions.TriggerRequest())
        execution.started_at = written
        execution_id = execution.id
    with store.session() as session:
        execution = session.get(Execution, execution_id)
        assert execution.started_at == written
        assert execution.started_at.utcoffset() == timedelta(0)
        assert execution.created_at.tzinfo is not None


def test_the_api_shows_offsets(client):
    client.post("/api/v1/pipelines", json={"project": "shop", "name": "api",
                                           "inlineConfig": CONFIG})
    created = client.post("/api/v1/pipelines/shop:api/executions", json={}).json
    shown = client.get(f"/api/v1/executions/{created['id']}").json["createdAt"]
    assert shown.endswith("+00:00") and datetime.fromisoformat(shown).tzinfo is not None
