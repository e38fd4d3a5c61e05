"""Names and label values Kubernetes accepts, derived deterministically from any text."""

from __future__ import annotations

import hashlib
import re

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def short_hash(text: str, length: int = 8) -> str:
    """Stable hex digest prefix of text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def label_value(text: str) -> str:
    """text itself when it is a valid label value, else a readable prefix plus a hash."""
    if len(text) <= 63 and _LABEL_VALUE.match(text):
        return text
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:40].strip("-_.")
    return f"{readable}-{short_hash(text)}" if readable else f"h-{short_hash(text)}"


def path_segment(text: str) -> str:
    """One safe directory name for text: itself when plain, else sanitised plus a hash."""
    if len(text) <= 63 and _SEGMENT.match(text):
        return text
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:40].strip("._-")
    return f"{readable}-{short_hash(text)}" if readable else short_hash(text, 16)


def job_name(pipeline_id: str) -> str:
    """The Jenkins job of a pipeline: its id with ':' (not allowed in job names) as '.'."""
    return "sidecar." + pipeline_id.replace(":", ".")
