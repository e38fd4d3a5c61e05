"""Blue Ocean documents built from the store: pipelines, runs, nodes, steps, logs, classes.

Everything here is a pure function of store rows (plus the queries that fetch them),
so the HTTP layer (``sidecar.api.blueocean``) only parses requests and sends answers.
Shapes follow reference/blueocean-api.md and the recorded Blue Ocean responses.
"""
