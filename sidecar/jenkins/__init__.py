"""The Jenkins client: the only package that talks to Jenkins (DESIGN section 7).

Callers use ``JenkinsClient`` and catch ``JenkinsError``; ``JenkinsUnavailable`` means try
again later and never fails a build by itself.
"""

from sidecar.jenkins.client import JenkinsClient, build_url
from sidecar.jenkins.errors import (JenkinsAuthError, JenkinsError, JenkinsNotFound,
                                    JenkinsRequestError, JenkinsUnavailable)
from sidecar.jenkins.models import (FlowNode, InputField, InputRequest, LogChunk, QueueState,
                                    RunState, StageState)

__all__ = [
    "JenkinsClient", "build_url",
    "JenkinsError", "JenkinsUnavailable", "JenkinsAuthError", "JenkinsNotFound",
    "JenkinsRequestError",
    "QueueState", "RunState", "StageState", "FlowNode", "LogChunk", "InputRequest", "InputField",
]
