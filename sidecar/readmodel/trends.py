"""A run's test summary and a pipeline's trends, as Blue Ocean serves them.

The sidecar keeps no test reports, so a run's test summary counts nothing (Blue Ocean's
own answer for a run without tests) and the JUnit trend's rows are zeros. The stage
duration trend is real: each run's node durations, from the store.
"""

from __future__ import annotations

from typing import Any

from sidecar.readmodel import graph, names
from sidecar.store.models import Execution

TEST_SUMMARY_CLASS = "io.jenkins.blueocean.rest.model.BlueTestSummary"
JUNIT_TREND = ("io.jenkins.blueocean.service.embedded.rest.junit.BlueJUnitTrend", "junit",
               "JUnit")
STAGE_TREND = ("io.jenkins.blueocean.rest.impl.pipeline.StageDurationTrend", "stageDuration",
               "Stage Duration")
TREND_IDS = (JUNIT_TREND[1], STAGE_TREND[1])
# BlueJUnitTrend's columns, in its order.
JUNIT_COLUMNS = {"total": "Total", "passed": "Passed", "fixed": "Fixed", "failed": "Failed",
                 "existingFailed": "Existing Failed", "regressions": "Regressions",
                 "skipped": "Skipped"}


def test_summary_document(run_href: str) -> dict[str, Any]:
    """A BlueTestSummary of a run without test results."""
    return {"_class": TEST_SUMMARY_CLASS,
            "_links": {"self": names.link(run_href + "blueTestSummary/")},
            "existingFailed": 0, "failed": 0, "fixed": 0, "passed": 0, "regressions": 0,
            "skipped": 0, "total": 0}


def trends(pipeline_id: str) -> list[dict[str, Any]]:
    """The trends Blue Ocean offers for a pipeline: JUnit and stage durations."""
    return [trend(pipeline_id, trend_id) for trend_id in TREND_IDS]


def trend(pipeline_id: str, trend_id: str) -> dict[str, Any]:
    """One trend (trend_id one of TREND_IDS)."""
    kind, _, display = JUNIT_TREND if trend_id == JUNIT_TREND[1] else STAGE_TREND
    href = f"{names.pipeline_href(pipeline_id)}trends/{trend_id}/"
    return {"_class": kind, "_links": names.links(href, "rows"),
            "columns": JUNIT_COLUMNS if trend_id == JUNIT_TREND[1] else {},
            "displayName": display, "id": trend_id}


def trend_row(trend_id: str, execution: Execution) -> dict[str, Any]:
    """One run's row of a trend: test counts (none), or each node's duration."""
    if trend_id == JUNIT_TREND[1]:
        return {"_class": JUNIT_TREND[0] + "$BlueJUnitTrendRow", "id": str(execution.run),
                **{column: 0 for column in JUNIT_COLUMNS}}
    nodes = graph.node_documents(execution, graph.layout(execution))
    return {"_class": STAGE_TREND[0] + "$StageDurationTrendRow", "id": str(execution.run),
            "nodes": {node["displayName"]: node["durationInMillis"] for node in nodes
                      if node["durationInMillis"] is not None}}
