"""Pure rendering: a validated pipeline plus its execution context become text.

Nothing here reads files, talks to Jenkins or Kubernetes, or imports Flask. Templates
arrive already loaded (`sidecar.config.templates`), and cache volumes and node
affinity arrive as a `Placement` computed by `sidecar.cache` from the history.
"""

from sidecar.render.pipeline import (REPORT_LABEL, Rendered, prepare, render,  # noqa: F401
                                     total_timeout)
from sidecar.render.placement import CacheMount, Placement  # noqa: F401
from sidecar.render.steps import step_runs  # noqa: F401
