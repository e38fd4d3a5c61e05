"""Against a real Jenkins, when JENKINS_URL (with JENKINS_USER and JENKINS_TOKEN) is set.

We test these aspects with the same client code the service uses (jenkinsapi's objects
and requester: the api/python answers it reads, its crumb requester with a password):
- the version answers, a job is created from a rendered config.xml, exists and is updated;
- a trigger is followed from its queue item to a build number and the build's wfapi
  state is read, its pending inputs listed, its step logs by offset; a second trigger's
  queue item is cancelled (or has left the queue already); the job is deleted afterwards
  and then does not exist.
The Jenkins needs the workflow-aggregator, pipeline-stage-view and kubernetes plugins;
the build itself may fail on a Jenkins without a Kubernetes cloud: this suite checks the
REST conversation, not the agent.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from sidecar import cache, config, render
from sidecar.jenkins import JenkinsClient

URL = os.environ.get("JENKINS_URL")
pytestmark = pytest.mark.skipif(not URL, reason="JENKINS_URL is not set")

CONFIG = "stages:\n- name: Hello\n  steps:\n  - runScriptConfig: {image: busybox, shellScript: echo hi}\n"


@pytest.fixture
def client():
    with JenkinsClient(url=URL, user=os.environ.get("JENKINS_USER", ""),
                       token=os.environ.get("JENKINS_TOKEN", ""),
                       password=os.environ.get("JENKINS_PASSWORD", "")) as jenkins:
        yield jenkins


def test_job_trigger_and_follow(client, templates):
    assert client.ping()
    pipeline = config.parse_pipeline(CONFIG)
    context = config.RenderContext(execution_id=f"it-{uuid.uuid4().hex[:8]}")
    settings = config.ProjectSettings()
    rendered = render.render(pipeline, context, settings,
                             cache.place(pipeline, context, settings), templates)
    job = f"sidecar-it-{uuid.uuid4().hex[:8]}"
    try:
        assert not client.job_exists(job)
        assert client.create_or_update_job(job, rendered.config_xml) is True
        assert client.job_exists(job)
        assert client.create_or_update_job(job, rendered.config_xml) is False
        queue_id = client.trigger(job, {"SIDECAR_EXECUTION_ID": context.execution_id})
        deadline = time.monotonic() + 120
        while (state := client.queue_item(queue_id)).build_number is None:
            assert not state.cancelled and time.monotonic() < deadline
            time.sleep(1)
        run = client.run_state(job, state.build_number)
        assert run.status in {"IN_PROGRESS", "SUCCESS", "FAILED", "ABORTED", "NOT_EXECUTED"}
        assert client.find_triggered(job, "SIDECAR_EXECUTION_ID", context.execution_id) == (
            queue_id, state.build_number)
        assert isinstance(client.pending_inputs(job, state.build_number), list)
        for stage in run.stages:
            for node_id in stage.log_node_ids:
                chunk = client.stage_log(job, state.build_number, node_id)
                assert chunk.next_start >= len(chunk.text.encode())  # raw bytes, annotations too
        second = client.trigger(job, {"SIDECAR_EXECUTION_ID": context.execution_id + "-2"})
        client.cancel_queue_item(second)
        left = client.queue_item(second)
        assert left.cancelled or left.build_number is not None or left.why
        client.stop(job, state.build_number)
        assert client.build_url(job, state.build_number).endswith(
            f"/job/{job}/{state.build_number}/")
    finally:
        client.delete_job(job)
    assert not client.job_exists(job)
