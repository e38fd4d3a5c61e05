"""deploy/: every overlay renders with `kubectl kustomize`, is valid, and holds together.

We test these aspects, for each overlay (single-sqlite, ha-postgresql):
- the untouched checkout does not render: the Secrets come only from the operator's files;
- every rendered document passes `kubernetes-validate --strict` for the pinned version;
- the Secrets are exactly the reserved names (plus Jenkins' own and the database URL);
- every Secret, ConfigMap, ServiceAccount and PVC a pod, binding or budget names exists,
  with the keys it reads; every Service selects pods that serve its target ports;
- probes hit ports the containers serve, /healthz and /readyz on the sidecar's listen port;
- the URLs the pieces use to find each other (Jenkins URL, callback URL, the gc report URL,
  the Kubernetes cloud's Jenkins URL and tunnel) name rendered Services and their ports;
- the sidecar's rendered environment is accepted by its own settings parser, its token
  file by its own loader, and the gc DaemonSet's token is a cache-report token;
- product defaults match the manifests: the agent service account and the cache root;
- JCasC reads only Secrets the StatefulSet mounts, its sidecar user is the one the sidecar
  logs in as; every plugin is pinned, the images carry the Jenkins and package versions;
- the overlays' shapes: SQLite one replica on a PVC, PostgreSQL two replicas spread,
  with a budget; a new sidecar image or setting changes nothing in Jenkins.
"""

from __future__ import annotations

import re
import shutil
from configparser import ConfigParser
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from manifests import (DEPLOY, KUBERNETES_VERSION, OVERLAYS, container, container_port,
                       environment, filled_tree, kustomize, matches, pod_spec, rendered)
from sidecar.config.inputs import ProjectSettings
from sidecar.services.access import TokenTable, load_tokens
from sidecar.settings import settings_from

RESERVED_SECRETS = {"jenkins-sidecar-api-tokens", "jenkins-sidecar-jenkins-token",
                    "jenkins-sidecar-webhook-secrets", "jenkins-sidecar-notifier-secrets",
                    "jenkins-sidecar-cache-report-token", "jenkins-sidecar-ui-key"}
SIDECAR = ("Deployment", "jenkins-sidecar", "jenkins")
JENKINS = ("StatefulSet", "jenkins", "jenkins")
GC = ("DaemonSet", "jenkins-sidecar-cache-gc", "jenkins-agents")


@pytest.fixture(params=OVERLAYS)
def manifests(request):
    """The rendered manifests of each overlay."""
    return rendered(request.param)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkout_without_secret_files_does_not_render(overlay):
    operator_files = ("secrets/api-tokens.yaml", "overlays/ha-postgresql/database.env")
    if any((DEPLOY / name).exists() for name in operator_files):
        pytest.skip("this checkout holds an operator's secret files")
    result = kustomize(DEPLOY / "overlays" / overlay)
    assert result.returncode != 0
    assert re.search(r"(api-tokens\.yaml|database\.env).*no such file", result.stderr), \
        result.stderr


def test_every_manifest_is_valid(manifests):
    for document in manifests.documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_secrets_are_the_reserved_names(manifests):
    names = {doc["metadata"]["name"] for doc in manifests.of("Secret")}
    assert RESERVED_SECRETS <= names
    assert names - RESERVED_SECRETS <= {"jenkins-controller-secrets", "jenkins-sidecar-database"}
    for document in manifests.of("Secret"):
        assert not document["metadata"]["name"].endswith(tuple("0123456789")), \
            "generated Secrets keep their exact names (no hash suffix)"


def _references(spec: dict):
    """(kind, name, key or None, optional) for every object a pod spec names."""
    yield "ServiceAccount", spec.get("serviceAccountName", "default"), None, False
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            for item in volume["secret"].get("items") or [{}]:
                yield "Secret", volume["secret"]["secretName"], item.get("key"), False
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"], None, False
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"], None, False
    for item in spec["containers"] + spec.get("initContainers", []):
        for source in item.get("envFrom", []):
            for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if ref in source:
                    yield kind, source[ref]["name"], None, False
        for env in item.get("env", []):
            for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if ref in env.get("valueFrom", {}):
                    target = env["valueFrom"][ref]
                    yield kind, target["name"], target["key"], target.get("optional", False)


def test_everything_a_pod_names_exists(manifests):
    for workload in manifests.workloads():
        namespace = workload["metadata"]["namespace"]
        for kind, name, key, optional in _references(pod_spec(workload)):
            if kind == "ServiceAccount" and name == "default":
                raise AssertionError(f"{workload['metadata']['name']} runs as the default account")
            document = manifests.get(kind, name, namespace)
            if key is not None and not optional:
                assert key in (document.get("data") or {}), f"{kind} {name} has no key {key}"


def test_bindings_and_budgets_name_what_exists(manifests):
    for binding in manifests.of("RoleBinding") + manifests.of("ClusterRoleBinding"):
        ref = binding["roleRef"]
        manifests.get(ref["kind"], ref["name"], binding["metadata"].get("namespace")
                      if ref["kind"] == "Role" else None)
        for subject in binding["subjects"]:
            manifests.get("ServiceAccount", subject["name"], subject["namespace"])
    for budget in manifests.of("PodDisruptionBudget"):
        assert manifests.selected(budget["metadata"]["namespace"], budget["spec"]["selector"])


def test_services_select_pods_serving_their_ports(manifests):
    for service in manifests.of("Service"):
        selected = manifests.selected(service["metadata"]["namespace"],
                                      {"matchLabels": service["spec"]["selector"]})
        assert selected, f"Service {service['metadata']['name']} selects no pods"
        for port in service["spec"]["ports"]:
            for workload in selected:
                assert container_port(workload, port.get("targetPort", port["port"])), \
                    f"{workload['metadata']['name']} does not serve {port}"


def test_probes_hit_served_ports(manifests):
    for workload in manifests.workloads():
        for item in pod_spec(workload)["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe in item:
                    assert container_port(workload, item[probe]["httpGet"]["port"])
    sidecar = container(manifests.get(*SIDECAR))
    bind_port = int(environment(manifests, manifests.get(*SIDECAR))["SIDECAR_BIND"]
                    .rsplit(":", 1)[1])
    assert container_port(manifests.get(*SIDECAR), "http") == bind_port
    assert sidecar["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz"


def _service_behind(manifests, url: str) -> tuple[dict, list[dict]]:
    """The Service an in-cluster URL (or host:port) names, and the workloads behind it."""
    parts = urlsplit(url if "//" in url else f"tcp://{url}")
    name, namespace, *_ = parts.hostname.split(".")
    service = manifests.get("Service", name, namespace)
    assert parts.port in [p["port"] for p in service["spec"]["ports"]], url
    return service, manifests.selected(namespace, {"matchLabels": service["spec"]["selector"]})


def _strings(node):
    """Every string value in a parsed YAML document."""
    if isinstance(node, dict):
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _casc(manifests) -> dict:
    return yaml.safe_load(manifests.config_map("jenkins-casc", "jenkins")["casc.yaml"])


def test_urls_name_services_of_the_right_pods(manifests):
    sidecar, jenkins = manifests.get(*SIDECAR), manifests.get(*JENKINS)
    env = environment(manifests, sidecar)
    gc_args = container(manifests.get(*GC))["args"]
    (cloud,) = [item["kubernetes"] for item in _casc(manifests)["jenkins"]["clouds"]]
    for url, expected in ((env["SIDECAR_JENKINS_URL"], jenkins),
                          (env["SIDECAR_CALLBACK_URL"], sidecar),
                          (gc_args[gc_args.index("--report-url") + 1], sidecar),
                          (cloud["jenkinsUrl"], jenkins), (cloud["jenkinsTunnel"], jenkins)):
        _, behind = _service_behind(manifests, url)
        assert behind == [expected], url
    assert cloud["namespace"] == env["SIDECAR_AGENT_NAMESPACE"] == GC[2]


def test_sidecar_environment_passes_its_own_settings_check(manifests):
    env = environment(manifests, manifests.get(*SIDECAR))
    # The image sets what the manifests leave out (Dockerfile ENV); the check is strict:
    # an unknown SIDECAR_* name or a bad value raises.
    settings = settings_from(env)
    assert settings.bind == "0.0.0.0:8080" and settings.api_tokens_file
    assert settings.jenkins_user == "jenkins-sidecar" and settings.jenkins_password
    mounts = container(manifests.get(*SIDECAR))["volumeMounts"]
    mount = {m["mountPath"]: m["name"] for m in mounts}
    assert mount[str(PurePosixPath(settings.api_tokens_file).parent)] == "api-tokens"


def test_the_leader_lease_is_the_one_the_role_lets_the_sidecar_renew(manifests):
    settings = settings_from(environment(manifests, manifests.get(*SIDECAR)))
    assert settings.leader_election == "kubernetes"
    namespace, name = settings.leader_lease.split("/")
    role = manifests.get("Role", "jenkins-sidecar-leases", namespace)
    (renew,) = [rule for rule in role["rules"] if "update" in rule["verbs"]]
    assert renew["resourceNames"] == [name]


def test_token_file_loads_and_gc_reports_with_cache_report_token(manifests, tmp_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(manifests.secret("jenkins-sidecar-api-tokens", "jenkins")["tokens.yaml"])
    table: TokenTable = load_tokens(str(tokens))
    gc_env = container(manifests.get(*GC))["env"]
    (token_ref,) = [e["valueFrom"]["secretKeyRef"] for e in gc_env
                    if e["name"] == "SIDECAR_GC_TOKEN"]
    assert token_ref["name"] == "jenkins-sidecar-cache-report-token"
    token = manifests.secret(token_ref["name"], GC[2])[token_ref["key"]]
    principal = table.principal(token)
    assert principal.access == "cache-report" and not principal.can_read


def test_product_defaults_match_the_manifests(manifests):
    defaults = ProjectSettings()
    manifests.get("ServiceAccount", defaults.service_account, "jenkins-agents")
    gc = manifests.get(*GC)
    (volume,) = pod_spec(gc)["volumes"]
    args = container(gc)["args"]
    assert volume["hostPath"]["path"] == args[args.index("--root") + 1] == defaults.cache_dir


def test_casc_reads_only_mounted_secrets(manifests):
    jenkins = manifests.get(*JENKINS)
    spec, item = pod_spec(jenkins), container(jenkins)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in item["volumeMounts"]
              if m["name"] in volumes}
    paths = [path for value in _strings(_casc(manifests))
             for path in re.findall(r"\$\{readFile:([^}]+)\}", value)]
    assert paths
    for path in map(PurePosixPath, paths):
        secret = mounts[str(path.parent)]["secret"]
        keys = {i["path"]: i["key"] for i in secret.get("items", [])} or None
        key = keys[path.name] if keys else path.name
        assert key in manifests.secret(secret["secretName"], "jenkins"), path
    casc_file = PurePosixPath(environment(manifests, jenkins)["CASC_JENKINS_CONFIG"])
    assert casc_file.name in manifests.config_map(
        mounts[str(casc_file.parent)]["configMap"]["name"], "jenkins")
    sidecar_user = environment(manifests, manifests.get(*SIDECAR))["SIDECAR_JENKINS_USER"]
    entries = _casc(manifests)["jenkins"]["authorizationStrategy"]["globalMatrix"]["entries"]
    (grant,) = [e["user"] for e in entries if e["user"]["name"] == sidecar_user]
    assert "Overall/Administer" not in grant["permissions"]
    assert {"Job/Create", "Job/Configure", "Job/Build", "Job/Cancel"} <= set(grant["permissions"])


def test_plugins_and_images_are_pinned():
    lines = [line for line in (DEPLOY / "jenkins" / "plugins.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    plugins = dict(line.split(":", 1) for line in lines)
    assert {"kubernetes", "workflow-aggregator", "git", "pipeline-rest-api",
            "configuration-as-code", "matrix-auth"} <= set(plugins)
    assert all(re.fullmatch(r"[0-9][\w.]*", v) for v in plugins.values()), plugins
    base = (DEPLOY / "jenkins" / "Dockerfile").read_text()
    (tag,) = re.findall(r"^FROM jenkins/jenkins:(\S+)$", base, re.M)
    images = yaml.safe_load((DEPLOY / "base" / "kustomization.yaml").read_text())["images"]
    assert {"name": "jenkins-sidecar-controller", "newTag": tag} in images
    setup = ConfigParser()
    setup.read(DEPLOY.parent / "setup.cfg")
    assert {"name": "jenkins-sidecar", "newTag": setup["metadata"]["version"]} in images


def test_sqlite_overlay_is_one_replica_on_a_volume():
    manifests = rendered("single-sqlite")
    sidecar = manifests.get(*SIDECAR)
    assert sidecar["spec"]["replicas"] == 1
    assert sidecar["spec"]["strategy"] == {"type": "Recreate"}
    assert not manifests.of("PodDisruptionBudget")
    url = environment(manifests, sidecar)["SIDECAR_DATABASE_URL"]
    assert url.startswith("sqlite:////")
    mounts = {m["mountPath"]: m["name"] for m in container(sidecar)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(sidecar)["volumes"]}
    data = volumes[mounts[str(PurePosixPath(url.removeprefix("sqlite:///")).parent)]]
    manifests.get("PersistentVolumeClaim", data["persistentVolumeClaim"]["claimName"], "jenkins")


def test_postgresql_overlay_is_two_replicas_spread_with_a_budget():
    manifests = rendered("ha-postgresql")
    sidecar = manifests.get(*SIDECAR)
    assert sidecar["spec"]["replicas"] == 2
    assert sidecar["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (budget,) = manifests.of("PodDisruptionBudget", "jenkins")
    assert budget["spec"]["minAvailable"] == 1
    assert manifests.selected("jenkins", budget["spec"]["selector"]) == [sidecar]
    (spread,) = [c for c in pod_spec(sidecar)["topologySpreadConstraints"]
                 if c["topologyKey"] == "kubernetes.io/hostname"]
    assert spread["whenUnsatisfiable"] == "DoNotSchedule" and spread["maxSkew"] == 1
    assert matches(spread["labelSelector"], sidecar["spec"]["template"]["metadata"]["labels"])
    (url,) = [e for e in container(sidecar)["env"] if e["name"] == "SIDECAR_DATABASE_URL"]
    assert url["valueFrom"]["secretKeyRef"]["name"] == "jenkins-sidecar-database"
    assert environment(manifests, sidecar)["SIDECAR_DATABASE_URL"].startswith(
        "postgresql+psycopg://")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sidecar_upgrade_leaves_jenkins_untouched(overlay):
    upgrade = filled_tree() / "overlays" / f"{overlay}-upgrade"
    upgrade.mkdir(exist_ok=True)
    (upgrade / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [f"../{overlay}"],
        "images": [{"name": "jenkins-sidecar", "newTag": "0.2.0"}],
        "configMapGenerator": [{"name": "jenkins-sidecar-settings", "namespace": "jenkins",
                                "behavior": "merge", "literals": ["SIDECAR_SYNC_INTERVAL=5"]}]}))
    try:
        after = rendered(upgrade.name)
    finally:
        shutil.rmtree(upgrade)
    before = rendered(overlay)
    changed = {(d["kind"], d["metadata"]["name"]) for d in after.documents
               if d not in before.documents}
    assert changed == {("Deployment", "jenkins-sidecar"), ("DaemonSet", GC[1]),
                       ("ConfigMap", after.get(*SIDECAR)["spec"]["template"]["spec"]
                        ["containers"][0]["envFrom"][0]["configMapRef"]["name"])}
    assert after.get(*JENKINS) == before.get(*JENKINS)
