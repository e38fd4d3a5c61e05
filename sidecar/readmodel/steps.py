"""Look-ups of one run's nodes and steps by their Blue Ocean ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sidecar.readmodel import graph, names, queries
from sidecar.services.pipelines import NotFound
from sidecar.store.models import Approval, Execution


@dataclass
class RunGraph:
    """A run with its stages, branches, step infos and pending approvals."""

    execution: Execution
    stages: list[graph.StageNode]
    infos: dict[tuple[int, int], graph.StepInfo]
    approvals: dict[tuple[int, int], Approval]

    @property
    def href(self) -> str:
        """The run's self link."""
        return names.run_href(self.execution.pipeline_id, self.execution.run)

    def nodes(self) -> list[dict[str, Any]]:
        """Every node document."""
        return graph.node_documents(self.execution, self.stages)

    def node(self, node_id: str) -> dict[str, Any]:
        """One node document. :raise NotFound:"""
        for document in self.nodes():
            if document["id"] == node_id:
                return document
        raise self._no_node(node_id)

    def branches(self, node_id: str | None = None) -> list[graph.Branch]:
        """The branches of a node (a stage: all of its own), or of the whole run.

        :raise NotFound: no such node (every stage has a branch, so a node has one)
        """
        found = [branch for stage in self.stages for branch in stage.branches
                 if node_id in (None, stage.node_id, branch.node_id)]
        if node_id is not None and not found:
            raise self._no_node(node_id)
        return found

    def _no_node(self, node_id: str) -> NotFound:
        return NotFound(f"Stage {node_id} not found in pipeline "
                        f"{names.bo_name(self.execution.pipeline_id)}.")

    def steps(self, node_id: str | None = None) -> list[dict[str, Any]]:
        """The step documents of a node, or of the run."""
        return [self._step(branch, node_id) for branch in self.branches(node_id)]

    def step(self, step_id: str, node_id: str | None = None) -> dict[str, Any]:
        """One step document, under a node or the run. :raise NotFound:"""
        return self._step(self.branch(step_id, node_id), node_id)

    def branch(self, step_id: str, node_id: str | None = None) -> graph.Branch:
        """The branch whose step has step_id. :raise NotFound:"""
        for branch in self.branches(node_id):
            if branch.step_id == step_id:
                return branch
        raise NotFound(f"Step {step_id} not found")

    def _step(self, branch: graph.Branch, node_id: str | None) -> dict[str, Any]:
        key = (branch.row.stage_index, branch.row.step_index)
        base = self.href + (f"nodes/{node_id}/" if node_id else "")
        return graph.step_document(f"{base}steps/{branch.step_id}/", branch,
                                   self.infos.get(key, graph.StepInfo()),
                                   self.approvals.get(key))


def run_shape(session: Session, pipeline_id: str, number: str) -> RunGraph:
    """A run's stages and branches only, in two queries (run, steps): enough to find a
    step and read its log, not to describe it. :raise NotFound:"""
    execution = queries.run(session, pipeline_id, number, log=True)
    return RunGraph(execution, graph.layout(execution), {}, {})


def run_graph(session: Session, pipeline_id: str, number: str) -> RunGraph:
    """A run's graph, in three queries (run with pipeline, steps, approvals). :raise NotFound:"""
    execution = queries.run(session, pipeline_id, number, steps=True)
    return RunGraph(execution, graph.layout(execution), graph.step_infos(execution),
                    queries.pending_approvals(session, execution.id))
