"""Against a real Kubernetes API, when IT_KUBERNETES_NAMESPACE names a namespace to read.

The credentials come from in-cluster config or kubeconfig, as in the service. We test
that agent pods are listed by the execution label without error and that every pod
listed carries it; the namespace may hold none. With IT_KUBERNETES_LEASES set as well
(the account may create and update Leases there), that the leader-election Lease is
taken, renewed, refused to a second candidate and handed over on release, so the API
server accepts the times and resource versions the sidecar writes.
"""

from __future__ import annotations

import os

import pytest

from sidecar.kube import PodLocator

NAMESPACE = os.environ.get("IT_KUBERNETES_NAMESPACE")
pytestmark = pytest.mark.skipif(not NAMESPACE, reason="IT_KUBERNETES_NAMESPACE is not set")


def test_agent_pods_are_listed():
    pods = PodLocator(namespace=NAMESPACE).agent_pods()
    assert all(pod.execution_label and pod.name for pod in pods)


@pytest.mark.skipif(not os.environ.get("IT_KUBERNETES_LEASES"),
                    reason="IT_KUBERNETES_LEASES is not set (the test writes a Lease)")
def test_a_lease_is_taken_renewed_and_released():
    """Writes the Lease `jenkins-sidecar-it` in the namespace (left behind, released)."""
    from sidecar.kube.lease import LeaseLock

    first = LeaseLock(namespace=NAMESPACE, name="jenkins-sidecar-it", holder="it-1", ttl=15)
    second = LeaseLock(namespace=NAMESPACE, name="jenkins-sidecar-it", holder="it-2", ttl=15)
    assert first.acquire() and first.renew()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
