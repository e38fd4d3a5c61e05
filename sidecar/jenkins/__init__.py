"""The Jenkins client: the only package that talks to Jenkins (DESIGN section 7).

Callers use ``JenkinsClient`` and catch ``JenkinsError``; ``JenkinsUnavailable`` means try
again later and never fails a build by itself.
"""

import logging

from sidecar.jenkins.client import JenkinsClient, build_url
from sidecar.jenkins.errors import (JenkinsAuthError, JenkinsError, JenkinsNotFound,
                                    JenkinsRequestError, JenkinsUnavailable)
from sidecar.jenkins.models import (FlowNode, InputField, InputRequest, LogChunk, QueueState,
                                    RunState, StageState)
from sidecar.settings import ServiceSettings

__all__ = [
    "JenkinsClient", "build_url", "client_from", "status",
    "JenkinsError", "JenkinsUnavailable", "JenkinsAuthError", "JenkinsNotFound",
    "JenkinsRequestError",
    "QueueState", "RunState", "StageState", "FlowNode", "LogChunk", "InputRequest", "InputField",
]


def client_from(settings: ServiceSettings) -> JenkinsClient:
    """The client of the Jenkins the settings name (every process builds its own)."""
    return JenkinsClient(url=settings.jenkins_url, user=settings.jenkins_user,
                         token=settings.jenkins_token, password=settings.jenkins_password,
                         timeout=settings.jenkins_timeout)


def status(jenkins: JenkinsClient | None) -> str:
    """'not configured', 'unreachable', or 'ok' with Jenkins' version."""
    if jenkins is None:
        return "not configured"
    try:
        return f"ok ({jenkins.ping()})"
    except JenkinsError as exc:
        logging.getLogger(__name__).warning("Jenkins is not reachable: %s", exc)
        return "unreachable"
