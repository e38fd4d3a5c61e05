"""Render one execution: Jenkinsfile, pod template and job config.xml."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import Discarder, Pipeline, Stage, Step
from sidecar.config.templates import TemplateSet
from sidecar.config.trust import is_trusted
from sidecar.errors import RenderError, SidecarError
from sidecar.render import limits
from sidecar.render.groovy import groovy_string
from sidecar.render.jenkinsfile import render_jenkinsfile
from sidecar.render.jobxml import render_job_xml
from sidecar.render.placement import Placement
from sidecar.render.pod import assign_containers, build_pod, pod_yaml
from sidecar.render.steps import StepPlan, plan_step


REPORT_LABEL = "jenkins-sidecar report"
"""The label of the steps' report calls; sync tells their flow nodes from the step's own."""


@dataclass(frozen=True)
class Rendered:
    """Everything Jenkins needs for one execution."""

    jenkinsfile: str
    pod_yaml: str
    config_xml: str
    pod: dict[str, Any]


def prepare(pipeline: Pipeline, context: RenderContext) -> Pipeline:
    """The pipeline as it runs: a clone stage first when the repository is known."""
    if pipeline.has_source:
        if not context.git_url:
            raise RenderError("sourceCodeConfig needs the repository URL (context gitUrl)")
        return pipeline
    if not context.git_url:
        return pipeline
    taken = {stage.name for stage in pipeline.stages}
    name = "Clone" if "Clone" not in taken else "Clone-0"
    clone = Stage(name=name, steps=(Step(kind="sourceCodeConfig", options={}),))
    return replace(pipeline, stages=(clone, *pipeline.stages))


def render(pipeline: Pipeline, context: RenderContext, settings: ProjectSettings,
           placement: Placement, templates: TemplateSet) -> Rendered:
    """Render a prepared pipeline for one execution; pure, no I/O."""
    given, pipeline = pipeline, prepare(pipeline, context)
    trusted = is_trusted(context, settings, pipeline)
    plans = [plan_step(stage, (s, i), step, context=context, settings=settings,
                       placement=placement, tools=templates.tools, trusted=trusted)
             for s, stage in enumerate(pipeline.stages) for i, step in enumerate(stage.steps)]
    plans, containers = assign_containers(plans)
    pod = build_pod(templates.base_pod, pipeline, plans, containers,
                    context=context, settings=settings, placement=placement,
                    tools=templates.tools)
    pod_text = pod_yaml(pod)
    report = templates.tools["report-node"]["script"] if context.callback_url else None
    step_report = (templates.tools.get("report-step") or {}).get("script") \
        if context.callback_url else None
    jenkinsfile = render_jenkinsfile(
        templates.jenkinsfile, pod_yaml=pod_text, timeout=total_timeout(pipeline),
        segments=_segments(pipeline, plans, step_report, context.jenkins_user),
        report_node=report,
        report_label=REPORT_LABEL)
    added = len(pipeline.stages) - len(given.stages)  # the clone stage prepare() put first
    limits.check(jenkinsfile, [(stage.name, str(groovy_string(stage.name)))
                               for stage in pipeline.stages[added:]],
                 split=settings.script_splitting)
    config_xml = render_job_xml(templates.job_xml, pipeline=pipeline, jenkinsfile=jenkinsfile,
                                context=context, default_discarder=Discarder(
                                    settings.days_to_keep or None, settings.num_to_keep or None))
    return Rendered(jenkinsfile, pod_text, config_xml, pod)


def check_fits(pipeline: Pipeline, templates: TemplateSet,
               settings: ProjectSettings | None = None) -> None:
    """Raise limits.SizeError when the config would not fit Jenkins' limits in a usual run.

    A trial render of a run with a repository (so with its clone stage) and step reports,
    catalogs resolved to a placeholder: what validation can say before any run exists.
    """
    settings = settings or ProjectSettings()
    catalogs = {step.options["catalogTemplate"].split(":")[-1].split("-")[0]: "https://invalid"
                for stage in pipeline.stages for step in stage.steps
                if "catalogTemplate" in step.options and step.kind == "applyAppConfig"}
    trial = replace(settings, catalogs={**catalogs, **settings.catalogs})
    context = RenderContext(git_url="https://git.invalid/repository.git",
                            callback_url="https://sidecar.invalid/node")
    try:
        render(pipeline, context, trial, Placement(), templates)
    except limits.SizeError:
        raise
    except SidecarError:
        pass  # what depends on the run (secrets, contexts) is checked when it renders


def total_timeout(pipeline: Pipeline) -> int:
    """Minutes the whole run may take: the pipeline timeout plus every approval's wait."""
    waits = sum(stage.steps[0].options["timeout"] for stage in pipeline.stages if stage.is_approval)
    return pipeline.timeout + waits


def _segments(pipeline: Pipeline, plans: list[StepPlan], step_report: str | None,
              approver: str) -> list[dict]:
    """Agent segments separated by approval stages, as the template walks them."""
    by_stage: dict[int, list[StepPlan]] = {}
    for plan in plans:
        by_stage.setdefault(plan.key[0], []).append(plan)
    clone = next((p.checkout for p in plans if p.checkout), None)
    segments: list[dict] = []
    for index, stage in enumerate(pipeline.stages):
        view = _stage_view(stage, by_stage[index], step_report, approver)
        if stage.is_approval:
            segments.append({"kind": "approval", "stage": view})
            continue
        if not segments or segments[-1]["kind"] != "agent":
            number = sum(1 for s in segments if s["kind"] == "agent") + 1
            segments.append({"kind": "agent", "name": f"agent-{number}", "stages": [],
                             "reclone": clone if number > 1 else None,
                             "reclone_name": f"Clone-{number}",
                             "report_name": f"node-{number}"})
        segments[-1]["stages"].append(view)
    for segment in segments:
        if segment["kind"] == "agent":
            segment["runs"] = any(stage["runs"] for stage in segment["stages"])
            # A skipped scope evaluates nothing inside: it says why its steps are withheld.
            segment["notes"] = [] if segment["runs"] else \
                [note for stage in segment["stages"] for note in stage["notes"]]
    return segments


def _stage_view(stage: Stage, plans: list[StepPlan], step_report: str | None,
                approver: str) -> dict:
    steps = []
    for plan in plans:
        view = plan.__dict__.copy()
        view["reports"] = None
        if plan.approval:
            view["approval"] = _approval_view(plan, approver)
        elif step_report and plan.runs:  # approvals have no agent to report from
            view["reports"] = {event: _step_report(step_report, plan, event)
                               for event in ("start", "end")}
        steps.append(view)
    runs = any(p.runs for p in plans)
    notes = [] if runs else [p.withheld for p in plans if p.withheld]
    return {"name": stage.name, "runs": runs, "steps": steps, "notes": notes}


def _step_report(script: str, plan: StepPlan, event: str) -> str:
    """The report script of one step and event; only our own indices go into it."""
    stage_index, step_index = plan.key
    return script.replace("@STEP@", f"{int(stage_index)}/{int(step_index)}") \
        .replace("@EVENT@", event)


def _approval_view(plan: StepPlan, approver: str) -> dict:
    # The sidecar checks the listed submitters itself and answers Jenkins as `approver`,
    # so Jenkins is told of that user alone: it refuses anyone else, and without it the
    # sidecar's own answers would need Overall/Administer.
    options = plan.approval
    return {
        "id": options.get("id") or f"approval-{plan.key[0]}-{plan.key[1]}",
        "message": options["message"], "ok": options["ok"],
        "submitter": approver or ",".join(options["submitters"]),
        "timeout": options["timeout"],
        "parameters": [parameter.__dict__ for parameter in options["parameters"]],
    }
