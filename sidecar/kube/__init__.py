"""The Kubernetes client: the only package that imports `kubernetes` (DESIGN §2).

The sidecar reads, never writes: which node each agent pod runs on, found by the pod
labels the renderer sets; the agent namespace's Pod Security labels; and which nodes
exist. Errors of the client library become `KubeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.errors import SidecarError

EXECUTION_LABEL = "sidecar.jenkins.io/execution"


class KubeError(SidecarError):
    """The Kubernetes API could not be asked or refused to answer."""


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
        self._api = _core_api(host=host, token=token, verify_ssl=verify_ssl)

    @property
    def namespace(self) -> str:
        """The agent namespace."""
        return self._namespace

    def agent_pods(self) -> list[AgentPod]:
        """Every pod carrying the execution label, with its node."""
        pods = self._call(self._api.list_namespaced_pod, self._namespace,
                          label_selector=EXECUTION_LABEL)
        return [AgentPod(execution_label=pod.metadata.labels[EXECUTION_LABEL],
                         name=pod.metadata.name, node_name=pod.spec.node_name if pod.spec else None,
                         phase=pod.status.phase if pod.status else "Unknown")
                for pod in pods.items]

    def namespace_labels(self) -> dict[str, str]:
        """Labels of the agent namespace (Pod Security levels live there)."""
        namespace = self._call(self._api.read_namespace, self._namespace)
        return dict(namespace.metadata.labels or {})

    def node_names(self) -> set[str]:
        """Names of the cluster's nodes (a cluster-scoped read: RBAC `nodes: list`)."""
        nodes = self._call(self._api.list_node)
        return {node.metadata.name for node in nodes.items}

    @staticmethod
    def _call(method, *args, **kwargs):
        """One request with a timeout; library errors become KubeError."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError
        try:
            return method(*args, _request_timeout=10, **kwargs)
        except ApiException as exc:
            raise KubeError(f"Kubernetes API answered {exc.status} {exc.reason}") from exc
        except (HTTPError, OSError) as exc:
            raise KubeError(f"Kubernetes API unreachable: {type(exc).__name__}") from exc


def _core_api(*, host: str | None, token: str | None, verify_ssl: bool):
    """A CoreV1Api: an explicit host, else in-cluster config, else kubeconfig."""
    from kubernetes import client, config
    if host:
        configuration = client.Configuration()
        configuration.host, configuration.verify_ssl = host, verify_ssl
        if token:
            configuration.api_key = {"authorization": f"Bearer {token}"}
        return client.CoreV1Api(client.ApiClient(configuration))
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as exc:
            raise KubeError("cannot authenticate to Kubernetes neither in-cluster nor "
                            "via kubeconfig") from exc
    return client.CoreV1Api()
