"""Blue Ocean–compatible REST API under /blue/rest, served from the store (thin routes).

The documents are built in ``sidecar.readmodel``; input submission (POST on the
step URLs) lives in ``sidecar.api.blueocean_input``.
"""

from sidecar.api.blueocean import classes, nodes, runs

BLUEPRINTS = (runs.bp, nodes.bp, classes.bp)
