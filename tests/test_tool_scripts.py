"""The built-in tools' scripts assemble their commands from the step's variables alone.

We test kaniko's, run by a POSIX shell with a recording stand-in for the executor:
without a cache no cache flag; with a cache the node directory is kaniko's base-image
cache (--cache-dir) and the layer cache (--cache=true, kept in the registry beside the
image) is asked for only when the image is pushed, since a build that does not push has
no repository to keep it in.
"""

from __future__ import annotations

import os
import subprocess

import pytest

BASE = {"PLUGIN_DOCKERFILE": "Dockerfile", "PLUGIN_CONTEXT": ".",
        "PLUGIN_DESTINATION": "registry.example/shop/app:1"}


def _kaniko_args(templates, tmp_path, **env) -> list[str]:
    stand_in = tmp_path / "executor"
    stand_in.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stand_in.chmod(0o755)
    script = templates.tools["kaniko"]["script"].replace("/kaniko/executor", str(stand_in))
    done = subprocess.run(["sh", "-c", script], env={"PATH": os.environ["PATH"], **BASE, **env},
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@pytest.mark.parametrize("push,cache,flags", [
    ("true", None, []),
    ("false", None, ["--no-push"]),
    ("true", "/cache", ["--cache-dir=/cache", "--cache=true"]),
    ("false", "/cache", ["--no-push", "--cache-dir=/cache"])])
def test_kaniko_asks_for_the_layer_cache_only_when_it_pushes(templates, tmp_path, push, cache,
                                                             flags):
    env = {"PLUGIN_PUSH": push, **({"PLUGIN_CACHE_DIR": cache} if cache else {})}
    args = _kaniko_args(templates, tmp_path, **env)
    assert args[:3] == ["--dockerfile=Dockerfile", f"--context=dir://{tmp_path}/.",
                        "--destination=registry.example/shop/app:1"]
    assert args[3:] == flags
