"""Names, links and dates as Blue Ocean writes them.

A sidecar pipeline ``project:name`` is the Blue Ocean pipeline ``sidecar.project.name``:
the Jenkins job the sidecar drives (``render.naming.job_name``), so Blue Ocean and the sidecar
show the same name. Project and pipeline names are lowercase letters, digits and '-',
so the dotted form is URL-safe and splits back unambiguously. URLs also accept the
folder form ``pipelines/project/pipelines/name`` (what KubeSphere clients send) and the
sidecar id itself; links always use the dotted form.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sidecar.render.naming import job_name
from sidecar.services.pipelines import NAME, NotFound

ORGANIZATION = "jenkins"
ROOT = f"/blue/rest/organizations/{ORGANIZATION}/pipelines/"
LINK_CLASS = "io.jenkins.blueocean.rest.hal.Link"
FOLDER_SEPARATOR = "/pipelines/"


def bo_name(pipeline_id: str) -> str:
    """The Blue Ocean pipeline name of a sidecar pipeline id."""
    return job_name(pipeline_id)


def pipeline_id(name: str) -> str:
    """The sidecar pipeline id of a Blue Ocean name (any accepted form). :raise NotFound:"""
    if FOLDER_SEPARATOR in name:
        project, _, rest = name.partition(FOLDER_SEPARATOR)
        parts = ["sidecar", project, rest]
    elif ":" in name:
        parts = ["sidecar", *name.split(":", 1)]
    else:
        parts = name.split(".")
    if len(parts) != 3 or parts[0] != "sidecar" or not all(NAME.match(p) for p in parts[1:]):
        raise NotFound(f"Pipeline {name} not found")
    return f"{parts[1]}:{parts[2]}"


def pipeline_href(pipeline_id: str) -> str:
    """The self link of a pipeline."""
    return f"{ROOT}{bo_name(pipeline_id)}/"


def run_href(pipeline_id: str, run: int) -> str:
    """The self link of a run."""
    return f"{pipeline_href(pipeline_id)}runs/{run}/"


def link(href: str | None) -> dict | None:
    """A HAL link; every href ends in '/'."""
    if href is None:
        return None
    return {"_class": LINK_CLASS, "href": href if href.endswith("/") else href + "/"}


def links(base: str, *names: str, **extra: str) -> dict:
    """``self`` plus one link per name below base, plus explicit ones."""
    result = {name: link(base + name + "/") for name in names}
    result["self"] = link(base)
    result.update({name: link(href) for name, href in extra.items()})
    return result


def date(value: datetime | None) -> str | None:
    """``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` in UTC, e.g. 2016-09-01T16:36:51.540+0000."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives naive datetimes back; they were stored in UTC
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def millis(start: datetime | None, end: datetime | None) -> int | None:
    """Milliseconds from start to end; None when either is unknown."""
    if start is None or end is None:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    if end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    return max(0, int((end - start).total_seconds() * 1000))
