"""Prometheus metrics (DESIGN §9): what the processes record, what the database says.

- `sidecar.metrics.record`: one function per event, called where the event happens
  (engine, Jenkins transport, webhooks, notifications, the request hook);
- `sidecar.metrics.state`: the families read from the database at scrape time;
- `sidecar.metrics.exposition`: the ``/metrics`` text, merging every process;
- `sidecar.metrics.multiprocess`: the per-start directory of prometheus_client's
  multiprocess mode, set before any metric exists (this package's ``__init__`` imports
  nothing for that reason).
"""
