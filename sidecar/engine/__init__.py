"""The engine process: admit under quota, start in Jenkins, follow runs to their end.

Only the one active engine runs this code; the API workers never import it (an
import-linter contract in setup.cfg). What both need lives in ``sidecar.services``.
"""
