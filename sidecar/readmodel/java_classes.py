"""The Java classes behind every ``_class`` the Blue Ocean API names, as their sources declare them.

Each entry is one class: the superclass it ``extends`` (``None`` for ``java.lang.Object``)
and the values of its own ``@Capability`` annotation (Blue Ocean's annotation is not
``@Inherited``, so only the class's own). Interfaces are left out on purpose: Blue Ocean's
``ExtensionClassImpl`` never reports them (see ``sidecar.readmodel.classes``).

Every entry names the file it was read from; the revisions are these:
"""

from __future__ import annotations

from dataclasses import dataclass

BLUEOCEAN = "jenkinsci/blueocean-plugin b25280348e2633f8e8a6a9e13e13183858346143 (1.27.26)"
JENKINS = "jenkinsci/jenkins ff9430ee1dc6e319349a488650d914444fe141f3 (2.579)"
WORKFLOW_API = "jenkinsci/workflow-api-plugin cbc88d9c87cea80ec921111c102b927d289e4ef1"
WORKFLOW_SUPPORT = "jenkinsci/workflow-support-plugin 3ea02551ef074ab9b4df23d5b766811249292543"

_MODEL = "io.jenkins.blueocean.rest.model."
_EMBEDDED = "io.jenkins.blueocean.service.embedded.rest."
_PIPELINE = "io.jenkins.blueocean.rest.impl.pipeline."
_REST = "blueocean-rest/src/main/java/io/jenkins/blueocean/rest/"
_REST_IMPL = "blueocean-rest-impl/src/main/java/io/jenkins/blueocean/service/embedded/rest/"
_PIPELINE_IMPL = "blueocean-pipeline-api-impl/src/main/java/" \
    "io/jenkins/blueocean/rest/impl/pipeline/"
_CORE = "core/src/main/java/hudson/model/"


@dataclass(frozen=True)
class JavaClass:
    """One class as declared: its superclass, its own @Capability values, its source."""

    extends: str | None
    capabilities: tuple[str, ...]
    revision: str
    path: str


def _bo(extends: str | None, path: str, *capabilities: str) -> JavaClass:
    return JavaClass(extends, capabilities, BLUEOCEAN, path)


def _core(extends: str | None, name: str) -> JavaClass:
    return JavaClass(extends, (), JENKINS, f"{_CORE}{name}.java")


CLASSES: dict[str, JavaClass] = {
    # blueocean-rest: the model
    _MODEL + "Resource": _bo(None, _REST + "model/Resource.java", _MODEL + "Resource"),
    _MODEL + "BluePipeline": _bo(_MODEL + "Resource", _REST + "model/BluePipeline.java",
                                 _MODEL + "BluePipeline"),
    _MODEL + "BlueRun": _bo(_MODEL + "Resource", _REST + "model/BlueRun.java", _MODEL + "BlueRun"),
    _MODEL + "BlueRun$BlueCause": _bo(None, _REST + "model/BlueRun.java"),
    _MODEL + "BlueQueueItem": _bo(_MODEL + "Resource", _REST + "model/BlueQueueItem.java",
                                  _MODEL + "BlueQueueItem"),
    _MODEL + "BluePipelineStep": _bo(_MODEL + "Resource", _REST + "model/BluePipelineStep.java",
                                     _MODEL + "BluePipelineStep"),
    _MODEL + "BluePipelineNode": _bo(_MODEL + "BluePipelineStep",
                                     _REST + "model/BluePipelineNode.java",
                                     _MODEL + "BluePipelineNode"),
    _MODEL + "BluePipelineNode$Edge": _bo(None, _REST + "model/BluePipelineNode.java"),
    _MODEL + "BlueInputStep": _bo(_MODEL + "Resource", _REST + "model/BlueInputStep.java"),
    _MODEL + "BlueExtensionClass": _bo(_MODEL + "Resource", _REST + "model/BlueExtensionClass.java",
                                       _MODEL + "BlueExtensionClass"),
    _MODEL + "BlueExtensionClassMap": _bo(_MODEL + "Resource",
                                          _REST + "model/BlueExtensionClassMap.java"),
    _MODEL + "BlueChangeSetEntry": _bo(_MODEL + "Resource",
                                       _REST + "model/BlueChangeSetEntry.java"),
    _MODEL + "BlueUser": _bo(_MODEL + "Resource", _REST + "model/BlueUser.java",
                             _MODEL + "BlueUser"),
    _MODEL + "BlueTestSummary": _bo(_MODEL + "Resource", _REST + "model/BlueTestSummary.java"),
    _MODEL + "BlueTrend": _bo(_MODEL + "Resource", _REST + "model/BlueTrend.java"),
    _MODEL + "BlueTableRow": _bo(None, _REST + "model/BlueTableRow.java"),
    "io.jenkins.blueocean.rest.hal.Link": _bo(None, _REST + "hal/Link.java"),
    # blueocean-rest-impl
    _EMBEDDED + "AbstractPipelineImpl": _bo(_MODEL + "BluePipeline",
                                            _REST_IMPL + "AbstractPipelineImpl.java",
                                            "hudson.model.Job"),
    _EMBEDDED + "AbstractRunImpl": _bo(_MODEL + "BlueRun", _REST_IMPL + "AbstractRunImpl.java"),
    _EMBEDDED + "AbstractRunImpl$BlueCauseImpl": _bo(_MODEL + "BlueRun$BlueCause",
                                                     _REST_IMPL + "AbstractRunImpl.java"),
    _EMBEDDED + "QueuedBlueRun": _bo(_MODEL + "BlueRun", _REST_IMPL + "QueuedBlueRun.java"),
    _EMBEDDED + "QueueItemImpl": _bo(_MODEL + "BlueQueueItem", _REST_IMPL + "QueueItemImpl.java"),
    _EMBEDDED + "ExtensionClassImpl": _bo(_MODEL + "BlueExtensionClass",
                                          _REST_IMPL + "ExtensionClassImpl.java"),
    _EMBEDDED + "ExtensionClassContainerImpl$BlueExtensionClassMapImpl": _bo(
        _MODEL + "BlueExtensionClassMap", _REST_IMPL + "ExtensionClassContainerImpl.java"),
    _EMBEDDED + "ChangeSetResource": _bo(_MODEL + "BlueChangeSetEntry",
                                         _REST_IMPL + "ChangeSetResource.java"),
    _EMBEDDED + "UserImpl": _bo(_MODEL + "BlueUser", _REST_IMPL + "UserImpl.java"),
    _EMBEDDED + "junit.BlueJUnitTrend": _bo(_MODEL + "BlueTrend",
                                            _REST_IMPL + "junit/BlueJUnitTrend.java"),
    _EMBEDDED + "junit.BlueJUnitTrend$BlueJUnitTrendRow": _bo(
        _MODEL + "BlueTableRow", _REST_IMPL + "junit/BlueJUnitTrend.java"),
    # blueocean-pipeline-api-impl
    _PIPELINE + "PipelineImpl": _bo(_EMBEDDED + "AbstractPipelineImpl",
                                    _PIPELINE_IMPL + "PipelineImpl.java",
                                    "org.jenkinsci.plugins.workflow.job.WorkflowJob"),
    _PIPELINE + "PipelineRunImpl": _bo(_EMBEDDED + "AbstractRunImpl",
                                       _PIPELINE_IMPL + "PipelineRunImpl.java",
                                       "org.jenkinsci.plugins.workflow.job.WorkflowRun"),
    _PIPELINE + "PipelineNodeImpl": _bo(_MODEL + "BluePipelineNode",
                                        _PIPELINE_IMPL + "PipelineNodeImpl.java"),
    _PIPELINE + "PipelineNodeImpl$EdgeImpl": _bo(_MODEL + "BluePipelineNode$Edge",
                                                 _PIPELINE_IMPL + "PipelineNodeImpl.java"),
    _PIPELINE + "PipelineStepImpl": _bo(_MODEL + "BluePipelineStep",
                                        _PIPELINE_IMPL + "PipelineStepImpl.java"),
    _PIPELINE + "InputStepImpl": _bo(_MODEL + "BlueInputStep",
                                     _PIPELINE_IMPL + "InputStepImpl.java"),
    _PIPELINE + "StageDurationTrend": _bo(_MODEL + "BlueTrend",
                                          _PIPELINE_IMPL + "StageDurationTrend.java"),
    _PIPELINE + "StageDurationTrend$StageDurationTrendRow": _bo(
        _MODEL + "BlueTableRow", _PIPELINE_IMPL + "StageDurationTrend.java"),
    # Jenkins core: parameter definitions and values, actions
    "hudson.model.ParameterDefinition": _core(None, "ParameterDefinition"),
    "hudson.model.SimpleParameterDefinition": _core("hudson.model.ParameterDefinition",
                                                    "SimpleParameterDefinition"),
    "hudson.model.StringParameterDefinition": _core("hudson.model.SimpleParameterDefinition",
                                                    "StringParameterDefinition"),
    "hudson.model.TextParameterDefinition": _core("hudson.model.StringParameterDefinition",
                                                  "TextParameterDefinition"),
    "hudson.model.BooleanParameterDefinition": _core("hudson.model.SimpleParameterDefinition",
                                                     "BooleanParameterDefinition"),
    "hudson.model.ChoiceParameterDefinition": _core("hudson.model.SimpleParameterDefinition",
                                                    "ChoiceParameterDefinition"),
    "hudson.model.PasswordParameterDefinition": _core("hudson.model.SimpleParameterDefinition",
                                                      "PasswordParameterDefinition"),
    "hudson.model.ParameterValue": _core(None, "ParameterValue"),
    "hudson.model.StringParameterValue": _core("hudson.model.ParameterValue",
                                               "StringParameterValue"),
    "hudson.model.TextParameterValue": _core("hudson.model.StringParameterValue",
                                             "TextParameterValue"),
    "hudson.model.BooleanParameterValue": _core("hudson.model.ParameterValue",
                                                "BooleanParameterValue"),
    "hudson.model.PasswordParameterValue": _core("hudson.model.ParameterValue",
                                                 "PasswordParameterValue"),
    "hudson.model.InvisibleAction": _core(None, "InvisibleAction"),
    # Pipeline plugins: the flow node actions a step carries
    "org.jenkinsci.plugins.workflow.actions.LogAction": JavaClass(
        None, (), WORKFLOW_API,
        "src/main/java/org/jenkinsci/plugins/workflow/actions/LogAction.java"),
    "org.jenkinsci.plugins.workflow.support.actions.LogActionImpl": JavaClass(
        "org.jenkinsci.plugins.workflow.actions.LogAction", (), WORKFLOW_SUPPORT,
        "src/main/java/org/jenkinsci/plugins/workflow/support/actions/LogActionImpl.java"),
    "org.jenkinsci.plugins.workflow.support.actions.LogStorageAction": JavaClass(
        "org.jenkinsci.plugins.workflow.actions.LogAction", (), WORKFLOW_SUPPORT,
        "src/main/java/org/jenkinsci/plugins/workflow/support/actions/LogStorageAction.java"),
    "org.jenkinsci.plugins.workflow.support.actions.PauseAction": JavaClass(
        "hudson.model.InvisibleAction", (), WORKFLOW_SUPPORT,
        "src/main/java/org/jenkinsci/plugins/workflow/support/actions/PauseAction.java"),
}
