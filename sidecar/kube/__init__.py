"""The Kubernetes client: the only package that imports `kubernetes` (DESIGN §2).

The sidecar reads, never writes, its cluster: which node each agent pod runs on, found by
the pod labels the renderer sets; the agent namespace's Pod Security labels; which nodes
exist; and, for locality-aware admission, how much CPU and memory nodes have left. The
one object it writes is its own leader-election Lease, when elected that way
(`sidecar.kube.lease`). Errors of the client library become `KubeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.errors import SidecarError
from sidecar.kube.room import Room, free_room, pod_total

__all__ = ["EXECUTION_LABEL", "AgentPod", "KubeError", "PodLocator", "Room"]

EXECUTION_LABEL = "sidecar.jenkins.io/execution"
LIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"


class KubeError(SidecarError):
    """The Kubernetes API could not be asked or refused to answer."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status
        """The HTTP status the API answered (None: no answer)."""


@dataclass(frozen=True)
class AgentPod:
    """An agent pod of an execution and where it runs (node None while pending)."""

    execution_label: str
    name: str
    node_name: str | None
    phase: str


class PodLocator:
    """Lists agent pods in one namespace, one request per call."""

    def __init__(self, *, namespace: str, host: str | None = None, token: str | None = None,
                 verify_ssl: bool = True):
        self._namespace = namespace
        from kubernetes import client
        self._api = client.CoreV1Api(api_client(host=host, token=token, verify_ssl=verify_ssl))

    @property
    def namespace(self) -> str:
        """The agent namespace."""
        return self._namespace

    def agent_pods(self) -> list[AgentPod]:
        """Every pod carrying the execution label, with its node."""
        pods = call(self._api.list_namespaced_pod, self._namespace,
                    label_selector=EXECUTION_LABEL)
        return [AgentPod(execution_label=pod.metadata.labels[EXECUTION_LABEL],
                         name=pod.metadata.name, node_name=pod.spec.node_name if pod.spec else None,
                         phase=pod.status.phase if pod.status else "Unknown")
                for pod in pods.items]

    def namespace_labels(self) -> dict[str, str]:
        """Labels of the agent namespace (Pod Security levels live there)."""
        namespace = call(self._api.read_namespace, self._namespace)
        return dict(namespace.metadata.labels or {})

    def node_names(self) -> set[str]:
        """Names of the cluster's nodes (a cluster-scoped read: RBAC `nodes: list`)."""
        nodes = call(self._api.list_node)
        return {node.metadata.name for node in nodes.items}

    def node_room(self, names: set[str] | None = None) -> dict[str, Room]:
        """Free CPU and memory of the nodes (all, or those named), from two list reads.

        Cluster-scoped: RBAC `nodes: list` and `pods: list` in all namespaces. Pods
        that ended (Succeeded, Failed) or are not yet bound to a node request nothing.
        """
        nodes = call(self._api.list_node)
        # A node that reports no allocatable resources has unknown room, not none.
        allocatable = {node.metadata.name: dict(node.status.allocatable)
                       for node in nodes.items if node.status and node.status.allocatable
                       and (names is None or node.metadata.name in names)}
        pods = call(self._api.list_pod_for_all_namespaces, field_selector=LIVE_PODS)
        try:
            bound = [(pod.spec.node_name, pod_total(_requests(pod.spec.containers),
                                                    _requests(pod.spec.init_containers)))
                     for pod in pods.items if pod.spec and pod.spec.node_name in allocatable]
            return free_room(allocatable, bound)
        except ValueError as exc:  # a quantity the API should never send
            raise KubeError(f"Kubernetes API sent an unreadable quantity: {exc}") from exc

def call(method, *args, **kwargs):
    """One request with a timeout; library errors become KubeError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError
    try:
        return method(*args, _request_timeout=10, **kwargs)
    except ApiException as exc:
        raise KubeError(f"Kubernetes API answered {exc.status} {exc.reason}",
                        status=exc.status) from exc
    except (HTTPError, OSError) as exc:
        raise KubeError(f"Kubernetes API unreachable: {type(exc).__name__}") from exc


def _requests(containers) -> list[dict | None]:
    """The `resources.requests` of each container (None where it sets none)."""
    return [c.resources.requests if c.resources else None for c in containers or ()]


def api_client(*, host: str | None, token: str | None, verify_ssl: bool):
    """An ApiClient: an explicit host, else in-cluster config, else kubeconfig."""
    from kubernetes import client, config
    if host:
        configuration = client.Configuration()
        configuration.host, configuration.verify_ssl = host, verify_ssl
        if token:
            configuration.api_key = {"authorization": f"Bearer {token}"}
        return client.ApiClient(configuration)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as exc:
            raise KubeError("cannot authenticate to Kubernetes neither in-cluster nor "
                            "via kubeconfig") from exc
    return client.ApiClient()
