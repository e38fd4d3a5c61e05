"""The Dockerfile agrees with deploy/ and the settings; no engine builds images here.

We test these aspects:
- hadolint (with its ShellCheck of RUN lines) finds nothing in either Dockerfile;
- the image is slim: slim bases, no pip cache, no system packages, only the built
  virtual environment copied into the runtime stage;
- the runtime stage runs as the uid/gid the pods run as, and its home is the directory
  of the default SQLite database, which the SQLite overlay mounts its volume on;
- it listens (SIDECAR_BIND), exposes and is probed on the port the manifests serve;
- its health check, run as written, succeeds against the real service on the port
  SIDECAR_BIND names and fails when nothing answers there;
- `jenkins-sidecar serve` is the entry point the Deployment keeps, `cache gc` reuses it;
- the image's settings with the Deployment's environment pass the settings check, and
  alone they refuse a public address without an API token file;
- the image ships every template (setup.cfg data_files) and the build context
  (.dockerignore) holds every file a COPY needs;
- the service, as the image and `make run` install it (no test extra), imports every
  module and answers /readyz with the test extras' packages made unimportable.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import threading
from configparser import ConfigParser
from pathlib import PurePosixPath

import dockerfile
import pytest
from packaging.requirements import Requirement
from werkzeug.serving import make_server

from manifests import (DEPLOY, KUBECTL, ROOT, container, container_port, environment,
                       pod_spec, rendered)
from sidecar.app import create_app
from sidecar.errors import ConfigError
from sidecar.settings import settings_from

HADOLINT = KUBECTL.parent / "hadolint"


def _stages() -> list[list[dockerfile.Command]]:
    stages: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if command.cmd == "FROM":
            stages.append([])
        stages[-1].append(command)
    return stages


RUNTIME = _stages()[-1]


def _last(instruction: str) -> dockerfile.Command:
    return [c for c in RUNTIME if c.cmd == instruction][-1]


def _image_env() -> dict[str, str]:
    values = [v for c in RUNTIME if c.cmd == "ENV" for v in c.value]
    return {k: v for k, v in zip(values[::2], values[1::2]) if k.startswith("SIDECAR_")}


@pytest.mark.parametrize("path", [ROOT / "Dockerfile", DEPLOY / "jenkins" / "Dockerfile"],
                         ids=["sidecar", "jenkins"])
def test_hadolint_finds_nothing(path):
    result = subprocess.run([str(HADOLINT), "--no-color", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_stage_is_slim():
    build, runtime = _stages()
    assert all(stage[0].value[0].endswith("-slim-bookworm") for stage in (build, runtime))
    runs = [c.value[0] for stage in (build, runtime) for c in stage if c.cmd == "RUN"]
    assert all("--no-cache-dir" in run for run in runs if "pip install" in run)
    assert not any("apt-get" in c.value[0] for c in runtime if c.cmd == "RUN")
    assert [c.flags for c in runtime if c.cmd == "COPY"] == [("--from=build",)]


def test_user_and_home_match_the_pods():
    uid, gid = map(int, _last("USER").value[0].split(":"))
    for overlay in ("single-sqlite", "ha-postgresql"):
        sidecar = rendered(overlay).get("Deployment", "jenkins-sidecar")
        context = pod_spec(sidecar)["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (uid, gid, gid)
    home = _last("WORKDIR").value[0]
    database = _image_env()["SIDECAR_DATABASE_URL"]
    assert str(PurePosixPath(database.removeprefix("sqlite:///")).parent) == home
    sidecar = rendered("single-sqlite").get("Deployment", "jenkins-sidecar")
    assert home in [m["mountPath"] for m in container(sidecar)["volumeMounts"]]


def test_one_port_everywhere():
    port = int(_image_env()["SIDECAR_BIND"].rsplit(":", 1)[1])
    assert _last("EXPOSE").value == (str(port),)
    for overlay in ("single-sqlite", "ha-postgresql"):
        manifests = rendered(overlay)
        sidecar = manifests.get("Deployment", "jenkins-sidecar")
        assert environment(manifests, sidecar)["SIDECAR_BIND"] == f"0.0.0.0:{port}"
        assert container_port(sidecar, "http") == port
        service = manifests.get("Service", "jenkins-sidecar", "jenkins")
        assert [p["port"] for p in service["spec"]["ports"]] == [port]


def _healthcheck(bind: str) -> int:
    check = _last("HEALTHCHECK")
    assert check.json and check.value[0] == "CMD"
    program, *arguments = check.value[1:]
    assert program == "python"
    return subprocess.run([sys.executable, *arguments], env={"SIDECAR_BIND": bind},
                          capture_output=True, timeout=30, check=False).returncode


def test_health_check_probes_the_port_the_service_listens_on(tmp_path):
    app = create_app({"TESTING": True, "database_url": f"sqlite:///{tmp_path / 'db'}"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _healthcheck(f"0.0.0.0:{server.server_port}") == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert _healthcheck(f"0.0.0.0:{server.server_port}") != 0


def test_serve_is_the_entry_point_the_workloads_keep():
    entry, command = _last("ENTRYPOINT"), _last("CMD")
    assert entry.json and command.json
    assert [*entry.value, *command.value] == ["jenkins-sidecar", "serve"]
    manifests = rendered("ha-postgresql")
    sidecar = container(manifests.get("Deployment", "jenkins-sidecar"))
    assert "command" not in sidecar and sidecar["args"] == list(command.value)
    gc = container(manifests.get("DaemonSet", "jenkins-sidecar-cache-gc", "jenkins-agents"))
    assert "command" not in gc and gc["args"][:2] == ["cache", "gc"]


def test_image_settings_need_the_deployment_to_start():
    with pytest.raises(ConfigError, match="SIDECAR_API_TOKENS_FILE"):
        settings_from(_image_env())
    manifests = rendered("single-sqlite")
    deployed = environment(manifests, manifests.get("Deployment", "jenkins-sidecar"))
    assert settings_from({**_image_env(), **deployed}).database_url == \
        _image_env()["SIDECAR_DATABASE_URL"]


def test_templates_and_build_context_are_shipped():
    setup = ConfigParser()
    setup.read(ROOT / "setup.cfg")
    shipped = {name.strip() for line in setup["options.data_files"].values()
               for name in line.split(",")}
    for directory in ("jenkinsfile_templates", "podtemplates"):
        on_disk = {f"{directory}/{p.name}" for p in (ROOT / directory).iterdir() if p.is_file()}
        assert on_disk <= shipped, on_disk - shipped
    allowed = {line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    for stage in _stages():
        for copy in (c for c in stage if c.cmd == "COPY" and not c.flags):
            for source in copy.value[:-1]:
                assert (ROOT / source).exists() and source.split("/")[0] in allowed, source
    assert not {".venv", "tests", "build", "deploy"} & allowed



RUNTIME_ONLY = """
import importlib, importlib.abc, pkgutil, sys
blocked = set(sys.argv[1].split(","))
class TestOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in blocked:
            raise ImportError(f"{name} is installed by the test extras only")
sys.meta_path.insert(0, TestOnly())
import sidecar
for module in pkgutil.walk_packages(sidecar.__path__, "sidecar."):
    importlib.import_module(module.name)
from sidecar.app import create_app
app = create_app({"TESTING": True, "database_url": sys.argv[2]})
assert app.test_client().get("/readyz").status_code == 200
"""


def _test_only_modules() -> set[str]:
    setup = ConfigParser()
    setup.read(ROOT / "setup.cfg")
    names = {re.sub(r"[-_.]+", "-", Requirement(line).name).lower()
             for line in setup["options.extras_require"]["test"].splitlines()
             if line.strip() and not line.strip().startswith("#")}
    return {module for module, dists in importlib.metadata.packages_distributions().items()
            if {re.sub(r"[-_.]+", "-", d).lower() for d in dists} & names}


def test_service_needs_no_test_extra(tmp_path):
    blocked = _test_only_modules()
    assert {"pytest", "kubernetes_validate", "hypothesis"} <= blocked
    result = subprocess.run([sys.executable, "-c", RUNTIME_ONLY, ",".join(sorted(blocked)),
                             f"sqlite:///{tmp_path / 'db'}"], capture_output=True, text=True,
                            timeout=120, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
