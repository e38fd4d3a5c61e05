"""Blue Ocean–compatible REST API under /blue/rest, served from the store (thin routes).

The documents are built in ``sidecar.readmodel``; input submission (POST on the
step URLs) lives in ``sidecar.api.blueocean_input``.
"""

from sidecar.api.blueocean import classes, nodes, resources, runs, search

BLUEPRINTS = (runs.bp, nodes.bp, resources.bp, classes.bp, search.bp)
