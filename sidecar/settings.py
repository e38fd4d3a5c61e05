"""Service settings: typed, documented, read from ``SIDECAR_*`` environment variables.

Each field's metadata carries its meaning; ``SIDECAR_<FIELD_NAME_UPPER>`` sets it. A
bad value stops start-up with one line per problem rather than falling back silently.
Secrets (Jenkins token and password) never appear in ``repr``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from sidecar.errors import ConfigError, Problem
from sidecar.logs import FORMATS, LEVELS

PREFIX = "SIDECAR_"
MIN_SECRET_KEY = 32
ELECTIONS = ("database", "kubernetes")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
LEASE_NAME = re.compile(rf"{_DNS_LABEL}/{_DNS_LABEL}(\.{_DNS_LABEL})*")
"""namespace/name: a namespace is a DNS label, a Lease's name a DNS subdomain."""
MAX_WORKERS = 16  # each worker holds its own database pool; more rarely helps on one node


def _setting(default: Any, doc: str, *, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"doc": doc})


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the running service needs to know about its surroundings."""

    bind: str = _setting("127.0.0.1:8080", "address:port the HTTP service listens on")
    database_url: str = _setting("sqlite:///jenkins-sidecar.db",
                                 "SQLAlchemy URL; SQLite by default, "
                                 "postgresql+psycopg://… supported")
    database_pool_size: int = _setting(8, "database connections each process keeps open, "
                                       "as many again on a burst: one per request thread "
                                       "(gunicorn threads) suffices; every process of every "
                                       "replica holds its own, so workers × replicas × 2 × "
                                       "this must fit PostgreSQL's max_connections")
    jenkins_url: str = _setting("", "Jenkins base URL; empty means not configured")
    jenkins_user: str = _setting("", "Jenkins user the sidecar acts as")
    jenkins_token: str = _setting("", "API token of that user (preferred: no crumb needed)",
                                  secret=True)
    jenkins_password: str = _setting("", "password, if no token (crumb + session cookie)",
                                     secret=True)
    jenkins_timeout: float = _setting(10.0, "seconds per Jenkins request")
    sync_interval: float = _setting(3.0, "seconds between two sync cycles")
    sync_reconcile: float = _setting(30.0, "seconds between two looks at a running build that "
                                     "announced no change (no push, not ended); at most the "
                                     "interval: every build every cycle")
    callback_url: str = _setting("", "base URL at which agent pods reach the sidecar, e.g. "
                                 "http://jenkins-sidecar.jenkins.svc:8080; empty: no node reports")
    agent_namespace: str = _setting("jenkins-agents", "namespace of the agent pods")
    kubernetes_api: str = _setting("", "'' = in-cluster config, else kubeconfig, else off; "
                                   "'off'; or the API server URL")
    kubernetes_token: str = _setting("", "bearer token for an explicit API server URL",
                                     secret=True)
    pod_lost_grace: float = _setting(120.0, "seconds an agent pod may be missing before its "
                                     "running execution fails")
    jenkinsfile_templates_dir: str = _setting("", "directory of Jenkinsfile.j2 and config.xml.j2")
    podtemplates_dir: str = _setting("", "directory of base.yaml and tools.yaml")
    examples_dir: str = _setting("", "load every *.yml here as a pipeline at start (demo)")
    api_tokens_file: str = _setting("", "YAML file of API bearer tokens (user, groups, read or "
                                    "write); empty: no tokens, anonymous access")
    approval_webhook_url: str = _setting("", "process centre URL told about each pending "
                                         "approval (signed POST); empty: no webhook")
    approval_webhook_secret: str = _setting("", "HMAC-SHA256 key that signs those webhooks",
                                            secret=True)
    public_url: str = _setting("", "base URL of this service as callers reach it, for the "
                               "links in approval webhooks")
    retention_interval: float = _setting(600.0, "seconds between two retention sweeps of the "
                                         "engine (discarded runs, old webhook ids); 0 = never")
    log_level: str = _setting("INFO", "DEBUG, INFO, WARNING or ERROR")
    log_format: str = _setting("text", "text (one escaped line each) or json (one object a "
                               "line: time, level, logger, message, request and execution ids)")
    allow_anonymous: bool = _setting(False, "allow anonymous API access on a non-loopback "
                                     "address when no token file is set")
    secret_key: str = _setting("", "key that signs the web UI's session cookies and form "
                               "tokens, the same in every process and replica (at least 32 "
                               "characters); empty: a random key per process, loopback only",
                               secret=True)
    max_content_length: int = _setting(5 * 1024 * 1024, "largest request body in bytes, "
                                       "chunked bodies included; larger ones get a 413")
    workers: int = _setting(0, "API worker processes of `serve`; 0 = 2 × CPU cores + 1, at "
                            f"most {MAX_WORKERS}")
    leader_ttl: float = _setting(15.0, "seconds the engine's leader lease lasts without renewal; "
                                 "a standby takes over within twice this after the leader dies")
    leader_election: str = _setting("database", "who elects the engine's leader: database (a "
                                    "lease row on PostgreSQL, a file lock on SQLite) or "
                                    "kubernetes (a coordination.k8s.io Lease; the database "
                                    "still fences every write)")
    leader_lease: str = _setting("jenkins/jenkins-sidecar-engine", "namespace/name of that "
                                 "Lease when the election is kubernetes")
    instance_id: str = _setting("", "name of this replica in the leader lease, /readyz and the "
                                "logs (e.g. the pod name); empty: host name and process id")
    cache_root: str = _setting("/var/lib/jenkins-sidecar-cache", "host directory every "
                               "project's cacheDir must be in (or be): a project cannot point "
                               "its hostPath caches anywhere else on the nodes")
    outbound_allow: str = _setting("", "comma-separated hosts and CIDRs that outbound calls "
                                   "(SCM API, webhooks) may reach although private, loopback "
                                   "or link-local, e.g. 127.0.0.1/32,git.internal")

    def validate(self) -> None:
        """Fail with every problem at once when a value cannot work."""
        problems = []
        if self.jenkins_timeout <= 0:
            problems.append(_problem("jenkins_timeout", "must be more than 0 seconds"))
        if self.pod_lost_grace <= 0:
            problems.append(_problem("pod_lost_grace", "must be more than 0 seconds"))
        if self.kubernetes_api not in ("", "off") and \
                not self.kubernetes_api.startswith(("http://", "https://")):
            problems.append(_problem("kubernetes_api", "must be empty, 'off' or an http(s) URL"))
        if self.retention_interval < 0:
            problems.append(_problem("retention_interval", "must be 0 (never) or more"))
        if self.log_level not in LEVELS:
            problems.append(_problem("log_level", f"must be one of {', '.join(LEVELS)}"))
        if self.log_format not in FORMATS:
            problems.append(_problem("log_format", "must be text or json"))
        if self.sync_interval <= 0:
            problems.append(_problem("sync_interval", "must be more than 0 seconds"))
        if not self.sync_reconcile >= 0:  # NaN fails too
            problems.append(_problem("sync_reconcile", "must be 0 or more seconds"))
        if self.jenkins_url and not self.jenkins_url.startswith(("http://", "https://")):
            problems.append(_problem("jenkins_url", "must start with http:// or https://"))
        if self.callback_url and not self.callback_url.startswith(("http://", "https://")):
            problems.append(_problem("callback_url", "must start with http:// or https://"))
        for name in ("approval_webhook_url", "public_url"):
            if getattr(self, name) and not getattr(self, name).startswith(("http://", "https://")):
                problems.append(_problem(name, "must start with http:// or https://"))
        if self.database_pool_size < 1:
            problems.append(_problem("database_pool_size", "must be at least 1"))
        if not self.cache_root.startswith("/") or \
                posixpath.normpath(self.cache_root) != self.cache_root:
            problems.append(_problem("cache_root", "must be an absolute, normalised path"))
        if self.max_content_length < 1024:
            problems.append(_problem("max_content_length", "must be at least 1024 bytes"))
        if self.approval_webhook_url and not self.approval_webhook_secret:
            problems.append(_problem("approval_webhook_secret",
                                     "is needed with an approval webhook URL"))
        if self.approval_webhook_url and not self.public_url:
            # The engine sends the links, with no request whose host it could use.
            problems.append(_problem("public_url", "is needed with an approval webhook URL: "
                                     "the process centre follows the links it is sent"))
        if self.jenkins_url and not (self.jenkins_token or self.jenkins_password):
            problems.append(_problem("jenkins_token",
                                     "is needed (or a password) with a Jenkins URL"))
        if not self.api_tokens_file and not self.allow_anonymous and \
                not _loopback(self.bind):
            problems.append(_problem("api_tokens_file", "is needed when binding to a "
                                     f"non-loopback address ({self.bind}); or set "
                                     f"{env_name('allow_anonymous')}=true"))
        if not self.secret_key and not _loopback(self.bind):
            problems.append(_problem("secret_key", "is needed when binding to a non-loopback "
                                     f"address ({self.bind}): every process and replica must "
                                     "sign the web UI's cookies with the same key"))
        if self.secret_key and len(self.secret_key) < MIN_SECRET_KEY:
            problems.append(_problem("secret_key", f"must be at least {MIN_SECRET_KEY} "
                                     "characters"))
        problems += self._process_problems()
        if problems:
            raise ConfigError(problems)

    def _process_problems(self) -> list[Problem]:
        problems = []
        if not 0 <= self.workers <= MAX_WORKERS:
            problems.append(_problem("workers", f"must be 0 (automatic) to {MAX_WORKERS}"))
        if not self.leader_ttl >= 1:  # NaN fails too
            problems.append(_problem("leader_ttl", "must be at least 1 second"))
        if self.leader_election not in ELECTIONS:
            problems.append(_problem("leader_election", "must be database or kubernetes"))
        if self.leader_election == "kubernetes":
            if self.kubernetes_api == "off":
                problems.append(_problem("leader_election", "kubernetes needs the Kubernetes "
                                         f"API ({env_name('kubernetes_api')} is off)"))
            if not LEASE_NAME.fullmatch(self.leader_lease):
                problems.append(_problem("leader_lease", "must be namespace/name, both "
                                         "lower-case DNS names"))
        return problems

    def worker_count(self, cores: int | None = None) -> int:
        """The API worker processes to run: the setting, or 2 × cores + 1 capped."""
        if self.workers:
            return self.workers
        cores = cores or os.cpu_count() or 1
        return min(2 * cores + 1, MAX_WORKERS)


def _loopback(bind: str) -> bool:
    host = bind.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_name(name: str) -> str:
    """The environment variable that sets a field."""
    return PREFIX + name.upper()


def _problem(name: str, message: str) -> Problem:
    return Problem(f"{env_name(name)} {message}")


def settings_from(environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
                  ) -> ServiceSettings:
    """Settings from SIDECAR_* variables, then explicit overrides (tests); validated."""
    values: dict[str, Any] = {}
    problems = []
    for item in dataclasses.fields(ServiceSettings):
        raw = environ.get(env_name(item.name))
        if raw is None:
            continue
        try:
            values[item.name] = _convert(raw, item.type)
        except ValueError as exc:
            problems.append(_problem(item.name, f"{exc}, got {raw!r}"))
    unknown = sorted(k for k in environ if k.startswith(PREFIX) and k[len(PREFIX):].lower()
                     not in {f.name for f in dataclasses.fields(ServiceSettings)})
    problems += [Problem(f"{name} is not a setting") for name in unknown]
    if problems:
        raise ConfigError(problems)
    settings = dataclasses.replace(ServiceSettings(), **values, **(overrides or {}))
    settings.validate()
    return settings


def _convert(raw: str, declared: str) -> Any:
    if declared == "bool":
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("must be true or false")
        return raw.lower() in ("true", "1", "yes")
    if declared == "int":
        if not raw.isascii() or not raw.isdigit():
            raise ValueError("must be a whole number")
        return int(raw)
    if declared == "float":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):  # NaN passes every comparison in validate()
            raise ValueError("must be a finite number")
        return number
    return raw
