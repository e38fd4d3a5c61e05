"""Blue Ocean's capability look-up (``/blue/rest/classes/``): each class and its ancestry.

blueocean-core-js asks for the classes of every ``_class`` it receives and needs a
``map`` entry for each, so a class it does not know still gets one, with no classes.
"""

from __future__ import annotations

from typing import Any, Iterable

from sidecar.services.pipelines import NotFound

CONTAINER_CLASS = "io.jenkins.blueocean.service.embedded.rest.ExtensionClassContainerImpl$1"
EXTENSION_CLASS = "io.jenkins.blueocean.service.embedded.rest.ExtensionClassImpl"
ROOT = "/blue/rest/classes/"
_MODEL = "io.jenkins.blueocean.rest.model."
_RESOURCE = _MODEL + "Resource"
CLASSES = {
    "io.jenkins.blueocean.rest.impl.pipeline.PipelineImpl": [
        "org.jenkinsci.plugins.workflow.job.WorkflowJob", "hudson.model.Job",
        "io.jenkins.blueocean.service.embedded.rest.AbstractPipelineImpl",
        _MODEL + "BluePipeline", _RESOURCE],
    "io.jenkins.blueocean.rest.impl.pipeline.PipelineRunImpl": [
        "org.jenkinsci.plugins.workflow.job.WorkflowRun",
        "io.jenkins.blueocean.service.embedded.rest.AbstractRunImpl", _MODEL + "BlueRun",
        _RESOURCE],
    "io.jenkins.blueocean.service.embedded.rest.QueuedBlueRun": [_MODEL + "BlueRun", _RESOURCE],
    "io.jenkins.blueocean.service.embedded.rest.QueueItemImpl": [
        _MODEL + "BlueQueueItem", _RESOURCE],
    "io.jenkins.blueocean.rest.impl.pipeline.PipelineNodeImpl": [
        _MODEL + "BluePipelineNode", _MODEL + "BluePipelineStep", _RESOURCE],
    "io.jenkins.blueocean.rest.impl.pipeline.PipelineStepImpl": [
        _MODEL + "BluePipelineStep", _RESOURCE],
    "io.jenkins.blueocean.rest.impl.pipeline.InputStepImpl": [_MODEL + "BlueInputStep", _RESOURCE],
    "io.jenkins.blueocean.service.embedded.rest.OrganizationImpl": [
        _MODEL + "BlueOrganization", _RESOURCE],
}


def class_document(name: str, *, strict: bool = True) -> dict[str, Any]:
    """One ExtensionClassImpl. :raise NotFound: an unknown class, when strict."""
    if strict and name not in CLASSES:
        raise NotFound(f"Class {name} not found")
    return {"_class": EXTENSION_CLASS,
            "_links": {"self": _link(f"{ROOT}{name}/")}, "classes": CLASSES.get(name, [])}


def classes_document(names: Iterable[str]) -> dict[str, Any]:
    """The ExtensionClassContainer map for the classes asked for."""
    names = list(dict.fromkeys(names))
    return {"_class": CONTAINER_CLASS,
            "_links": {"self": _link(f"{ROOT}?q={','.join(names)}/")},
            "map": {name: class_document(name, strict=False) for name in names}}


def _link(href: str) -> dict[str, str]:
    return {"_class": "io.jenkins.blueocean.rest.hal.Link", "href": href}
