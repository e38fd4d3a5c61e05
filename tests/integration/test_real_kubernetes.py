"""Against a real Kubernetes API, when IT_KUBERNETES_NAMESPACE names a namespace to read.

The credentials come from in-cluster config or kubeconfig, as in the service. We test
that agent pods are listed by the execution label without error and that every pod
listed carries it; the namespace may hold none.
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
