"""Blue Ocean's capability look-up (``/blue/rest/classes/``): what each class is.

Blue Ocean's ``ExtensionClassImpl.getClasses`` lists, in this order: the class's own
``@Capability`` values, then for each superclass up the chain its name followed by its
own ``@Capability`` values. It stops at ``java.*``, ``javax.*`` and ``com.sun.*`` and at
a superclass whose name is listed already; interfaces are never listed. The same walk
runs here over the declarations in ``sidecar.readmodel.java_classes``, so the answer for
every ``_class`` the sidecar emits is the one Jenkins gives (the UI's step log link, for
one, needs ``LogActionImpl`` to be a ``LogAction``).

A class nobody declared answers an empty list, as Blue Ocean does for a class it cannot
load; blueocean-core-js needs a ``map`` entry for every class it asks about.
"""

from __future__ import annotations

from typing import Any, Iterable

from sidecar.readmodel import names
from sidecar.readmodel.java_classes import CLASSES

MAP_CLASS = "io.jenkins.blueocean.service.embedded.rest.ExtensionClassContainerImpl" \
    "$BlueExtensionClassMapImpl"
EXTENSION_CLASS = "io.jenkins.blueocean.service.embedded.rest.ExtensionClassImpl"
ROOT = "/blue/rest/classes/"
NOT_LISTED = ("java.", "javax.", "com.sun.")


def ancestry(name: str) -> list[str]:
    """The classes list of name, as Blue Ocean computes it."""
    found: list[str] = []
    current = CLASSES.get(name)
    _add(found, current.capabilities if current else ())
    while current is not None and current.extends and \
            not current.extends.startswith(NOT_LISTED) and current.extends not in found:
        found.append(current.extends)
        current = CLASSES.get(current.extends)
        _add(found, current.capabilities if current else ())
    return found


def _add(found: list[str], capabilities: Iterable[str]) -> None:
    found.extend(c for c in capabilities if c not in found)


def class_document(name: str) -> dict[str, Any]:
    """One ExtensionClassImpl."""
    return {"_class": EXTENSION_CLASS, "_links": {"self": names.link(f"{ROOT}{name}/")},
            "classes": ancestry(name)}


def classes_document(wanted: Iterable[str]) -> dict[str, Any]:
    """The class map Blue Ocean answers a look-up of several classes with."""
    return {"_class": MAP_CLASS, "_links": {"self": names.link(ROOT)},
            "map": {name: class_document(name) for name in dict.fromkeys(wanted)}}
