"""The ``/metrics`` text: this process' metrics or every process' files, plus the database."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from sidecar.metrics import families, multiprocess
from sidecar.metrics.state import DatabaseState
from sidecar.store import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Recorded:
    """This process' own registry, for single-process use (tests, ``flask run``)."""

    def collect(self):
        """The families recorded in this process."""
        return families.REGISTRY.collect()


def render(store: Store) -> bytes:
    """The exposition text of every process of this start and of the database."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess.enabled():
        MultiProcessCollector(registry)
    else:
        registry.register(_Recorded())
    registry.register(DatabaseState(store))
    return generate_latest(registry)
