"""The Kubernetes manifests (deploy/k8s): valid for Kubernetes 1.32, complete, and hardened.

Each overlay is built with kustomize and every resource validated in strict mode; custom resources
are validated against their own schemas when available, and reported as skipped otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.common.broker_admin import password_variable
from services.common.bus import principals
from services.common.devsecrets import SIGNERS
from services.common.draining import DRAIN_SECONDS
from services.common.launcher import SERVICES, service_class
from services.common.settings import GATEWAY_ONLY, SECRETS, Secret
from services.common.settings_provider import SettingsProvider
from tests.deploy.kube import (
    KUBERNETES_VERSION,
    OVERLAYS,
    ROOT,
    Manifest,
    build,
    custom_resource_schema,
    environment_set,
    is_dmp,
    is_dmp_pod,
    kubernetes_validator,
    named,
    of_kind,
    pod_specs,
    secrets_read,
    services_variables_read,
    variables_read,
)

CUSTOM_KINDS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"),
}
# Pod template fragments inside the custom resources, checked against Kubernetes' own schemas.
POD_TEMPLATE = "io.k8s.api.core.v1.PodTemplateSpec"
EMBEDDED: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "RabbitmqCluster": [(("spec", "override", "statefulSet", "spec", "template"), POD_TEMPLATE)],
    "MongoDBCommunity": [(("spec", "statefulSet", "spec", "template"), POD_TEMPLATE)],
}
SERVICE_PACKAGES = sorted(path.parent.name for path in (ROOT / "services").glob("*/service.py"))
BROKER_SETUP = "broker-setup"
PROVISION = ["python", "-m", "services.common.broker_admin", "provision", "--passwords-from-env"]


def dig(document: Manifest, path: tuple[str, ...]) -> Any:
    for key in path:
        document = document.get(key, {})
    return document


def dmp_deployments(overlay: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in of_kind(build(overlay), "Deployment") if is_dmp(d)}


def dmp_pods(overlay: str) -> dict[str, Manifest]:
    """Every workload running the DMP's image: the Deployments and the broker's set-up Job."""
    return {w["metadata"]["name"]: w for w, _ in pod_specs(build(overlay)) if is_dmp_pod(w)}


def broker_setup(overlay: str) -> Manifest:
    return named(build(overlay), "Job", BROKER_SETUP)


def container(deployment: Manifest) -> Manifest:
    containers: list[Manifest] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']} runs one container"
    return containers[0]


# Schemas


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_validates_against_kubernetes_schemas_in_strict_mode(overlay: str) -> None:
    validated, custom, invalid = 0, [], []
    for manifest in build(overlay):
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
            validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            custom.append((manifest["apiVersion"], manifest["kind"]))
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            invalid.append(
                f"{manifest['kind']}/{manifest['metadata']['name']} at {path}: {error.message}"
            )
    assert not invalid, f"{overlay}: " + "; ".join(invalid)
    assert validated >= 25, f"{overlay}: only {validated} resources validated"
    unknown = set(custom) - CUSTOM_KINDS
    assert not unknown, f"{overlay}: kinds with no schema at all: {unknown}"
    print(
        f"\n{overlay}: {validated} resources valid for Kubernetes {KUBERNETES_VERSION} (strict); "
        f"custom resources checked separately: {sorted(kind for _, kind in custom) or 'none'}"
    )


def test_prod_runs_the_broker_and_the_store_through_their_operators() -> None:
    kinds = {(m["apiVersion"], m["kind"]) for m in build("prod")}
    assert kinds >= CUSTOM_KINDS
    assert not of_kind(build("prod"), "StatefulSet"), "prod: the operators own the stateful sets"
    assert {s["metadata"]["name"] for s in of_kind(build("dev"), "StatefulSet")} == {
        "rabbitmq",
        "mongodb",
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_the_schemas_written_for_them(overlay: str) -> None:
    for manifest in build(overlay):
        if (manifest["apiVersion"], manifest["kind"]) not in CUSTOM_KINDS:
            continue
        schema = custom_resource_schema(manifest)
        assert schema is not None, f"no schema under deploy/k8s/schemas for {manifest['kind']}"
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(manifest), key=str)
        assert not errors, "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
        for path, definition in EMBEDDED[manifest["kind"]]:
            fragment = dig(manifest, path)
            assert fragment, f"{manifest['kind']}: nothing at {'.'.join(path)}"
            errors = list(kubernetes_validator(definition).iter_errors(fragment))
            assert not errors, "; ".join(
                f"{'.'.join(path)}.{'.'.join(map(str, e.path))}: {e.message}" for e in errors
            )


def test_the_custom_resource_schemas_refuse_an_unknown_field() -> None:
    """The hand-written schemas are strict: a misspelt field fails rather than passing unnoticed."""
    cluster = next(m for m in build("prod") if m["kind"] == "RabbitmqCluster")
    misspelt = {**cluster, "spec": {**cluster["spec"], "replica": 3}}
    schema = custom_resource_schema(misspelt)
    assert schema is not None
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(misspelt))


def operator_crds() -> dict[tuple[str, str], Manifest]:
    """The operators' own CRDs when DMP_OPERATOR_CRDS names a folder holding them (deploy/k8s/schemas/README.md)."""
    folder = os.environ.get("DMP_OPERATOR_CRDS")
    if not folder:
        return {}
    found: dict[tuple[str, str], Manifest] = {}
    for path in sorted(Path(folder).glob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            items = document.get("items", [document]) if document else []
            for crd in items:
                if crd.get("kind") != "CustomResourceDefinition":
                    continue
                for version in crd["spec"]["versions"]:
                    api_version = f"{crd['spec']['group']}/{version['name']}"
                    found[(api_version, crd["spec"]["names"]["kind"])] = version["schema"][
                        "openAPIV3Schema"
                    ]
    return found


@pytest.mark.parametrize("api_version,kind", sorted(CUSTOM_KINDS))
def test_custom_resources_validate_against_the_operators_own_crd(
    api_version: str, kind: str
) -> None:
    schema = operator_crds().get((api_version, kind))
    if schema is None:
        pytest.skip(
            f"{kind} ({api_version}) NOT validated against its operator's CRD: the CRD is not "
            "available here (set DMP_OPERATOR_CRDS to a folder with it; see deploy/k8s/schemas/README.md)"
        )
    manifest = next(m for m in build("prod") if (m["apiVersion"], m["kind"]) == (api_version, kind))
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(manifest))
    assert not errors, "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
    unknown = unknown_fields(manifest.get("spec", {}), schema["properties"]["spec"], "spec")
    assert not unknown, f"fields the operator would prune: {unknown}"


def test_operator_crds_are_read_from_the_folder_named_and_unknown_fields_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path taken when the operators' CRDs are available (a `kubectl get crd -o yaml` list)."""
    override = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    spec_schema: Manifest = {
        "type": "object",
        "properties": {"replicas": {"type": "integer"}, "override": override},
    }
    schema: Manifest = {"type": "object", "properties": {"spec": spec_schema}}
    version = {"name": "v1beta1", "schema": {"openAPIV3Schema": schema}}
    crd = {
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "rabbitmq.com",
            "names": {"kind": "RabbitmqCluster"},
            "versions": [version],
        },
    }
    (tmp_path / "operators.yaml").write_text(yaml.safe_dump({"kind": "List", "items": [crd]}))
    monkeypatch.setenv("DMP_OPERATOR_CRDS", str(tmp_path))
    assert operator_crds() == {("rabbitmq.com/v1beta1", "RabbitmqCluster"): schema}
    spec = {"replicas": 3, "override": {"anything": 1}, "replica": 3}
    assert unknown_fields(spec, spec_schema, "spec") == ["spec.replica"]


def unknown_fields(value: Any, schema: Manifest, where: str) -> list[str]:
    """Fields absent from a structural schema (the API server prunes them; strict validation refuses them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields") or not isinstance(value, dict | list):
        return []
    if isinstance(value, list):
        items = schema.get("items", {})
        return [
            u for i, item in enumerate(value) for u in unknown_fields(item, items, f"{where}[{i}]")
        ]
    properties, additional = schema.get("properties"), schema.get("additionalProperties")
    if properties is None:
        return (
            []
            if additional is None
            else [
                u
                for key, item in value.items()
                for u in unknown_fields(item, additional, f"{where}.{key}")
                if isinstance(additional, dict)
            ]
        )
    result = [f"{where}.{key}" for key in value if key not in properties]
    return result + [
        u
        for key, item in value.items()
        if key in properties
        for u in unknown_fields(item, properties[key], f"{where}.{key}")
    ]


# Completeness


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_under_services_has_a_deployment_running_it(overlay: str) -> None:
    assert sorted(SERVICES) == SERVICE_PACKAGES, "the launcher knows every service package"
    deployments = dmp_deployments(overlay)
    for service in SERVICE_PACKAGES:
        assert service in deployments, f"{overlay}: no Deployment for services/{service}"
        assert container(deployments[service])["command"] == [
            "python",
            "-m",
            "services.common.launcher",
            service,
        ]
    assert container(deployments["gateway"])["command"] == ["python", "-m", "services.gateway.main"]
    assert set(deployments) == {*SERVICE_PACKAGES, "gateway"}


def test_the_environment_variables_are_found_in_the_code() -> None:
    """The collector itself: it finds reads through os.environ and through the settings helpers."""
    found = services_variables_read()
    assert {
        "AMQP_URI",
        "MONGO_URI",
        "DMP_MASTER_KEY",
        "DMP_TOKEN_SIGNING_KEY",
        "DMP_TRUSTED_ISSUERS",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "DMP_GATEWAY_PORT",
        "SMTP_PORT",
    } <= set(found)
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", name) for name in found), sorted(found)


def test_the_collector_follows_helpers_that_read_the_environment(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text(
        "import os\n"
        "from pydantic import Field\n"
        "class S:\n    e: str = Field('', validation_alias='BY_SETTINGS')\n    f: str = Field('', alias='x')\n"
        "def fetch(name, default=''):\n    return os.environ.get(name, default)\n"
        "def strict(name):\n    return fetch(name) or 1 / 0\n"
        "def label(name, text):\n    return name + text\n"
        "A = strict('VIA_HELPER')\nB = os.environ['BY_INDEX']\nC = os.getenv('BY_GETENV')\nD = label('NOT_READ', 'x')\n"
    )
    assert set(variables_read(tmp_path)) == {"VIA_HELPER", "BY_INDEX", "BY_GETENV", "BY_SETTINGS"}


def declared_needs(package: str) -> set[Secret]:
    """The secrets a service's SettingsProvider says it cannot start without."""
    service = service_class(package)
    return {
        secret
        for provider in vars(service).values()
        if isinstance(provider, SettingsProvider)
        for secret in provider.needs
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_environment_variable_the_code_reads_is_set_by_the_manifests(overlay: str) -> None:
    manifests = build(overlay)
    deployments = dmp_deployments(overlay)
    set_by = {
        name: set(environment_set(manifests, container(d))) for name, d in deployments.items()
    }
    everywhere = set().union(*set_by.values())
    read = services_variables_read()
    missing = sorted(set(read) - everywhere)
    assert not missing, f"{overlay}: read by the code, set by no Deployment: {missing}"
    # A variable read inside one service's package is set on that service's own Deployment.
    for name, paths in read.items():
        for path in paths:
            package = path.relative_to(ROOT / "services").parts[0]
            if package in set_by:
                assert name in set_by[package], (
                    f"{overlay}: {path.relative_to(ROOT)} reads {name}; "
                    f"the {package} Deployment does not set it"
                )
    # Every setting of services/common/settings.py (read at start by every process) reaches every one.
    # Secrets reach only the processes that use them; the gateway's own settings, the gateway.
    settings = {name for name, paths in read.items() if any(p.name == "settings.py" for p in paths)}
    assert GATEWAY_ONLY | {"DMP_MASTER_KEY", "DMP_TOKEN_SIGNING_KEY"} <= settings
    missing = sorted(GATEWAY_ONLY - set_by["gateway"])
    assert not missing, f"{overlay}: the gateway falls back to developer defaults for {missing}"
    # The secrets a service declares it needs (it refuses to start without them) are set on its Deployment.
    for package in SERVICE_PACKAGES:
        needs = {secret.value for secret in declared_needs(package)}
        assert needs, f"{package} declares none of the secrets it needs"
        missing = sorted(needs - set_by[package])
        assert not missing, (
            f"{overlay}: {package} needs {missing}, which its Deployment does not set"
        )
    for deployment, names in set_by.items():
        missing = sorted(settings - SECRETS - GATEWAY_ONLY - names)
        assert not missing, (
            f"{overlay}: {deployment} falls back to developer defaults for {missing}"
        )
        assert "AMQP_URI" in names
    # The set-up job runs services/common/broker_admin.py: whatever it reads is set on the job.
    job = set(environment_set(manifests, container(broker_setup(overlay))))
    admin = {
        name
        for name, paths in read.items()
        if ROOT / "services" / "common" / "broker_admin.py" in paths
    }
    assert {"AMQP_URI", "DMP_RABBITMQ_MANAGEMENT_URL"} <= admin
    assert not admin - job, (
        f"{overlay}: the broker's set-up job falls back to defaults for {sorted(admin - job)}"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_reference_in_a_container_names_one_key_and_no_secret_is_in_the_repository(
    overlay: str,
) -> None:
    manifests = build(overlay)
    assert not of_kind(manifests, "Secret"), (
        f"{overlay}: Secrets are created outside the repository"
    )
    secret_like = re.compile(r"(KEY|KEYS|PASSWORD|USERNAME|_URI)$|PASSWORD_")
    for workload, spec in pod_specs(manifests):
        for item in spec["containers"]:
            for entry in item.get("env", []):
                if secret_like.search(entry["name"]) and entry["name"] != "DMP_TRUSTED_ISSUERS":
                    assert "secretKeyRef" in entry.get("valueFrom", {}), (
                        f"{overlay}: {workload['metadata']['name']} sets {entry['name']} without a Secret"
                    )
    config = [
        m for m in of_kind(manifests, "ConfigMap") if m["metadata"]["name"].startswith("dmp-config")
    ]
    for config_map in config:
        assert not {key for key in config_map["data"] if secret_like.search(key)}, (
            "secrets in a ConfigMap"
        )


def test_each_secret_reaches_only_the_deployments_that_use_it() -> None:
    """Least privilege: the master key only to dossier, signing keys only to their signer, etc.; the broker's
    administrator only to its set-up job."""
    only = {
        "DMP_MASTER_KEY": {"dossier"},
        "DMP_PREVIOUS_MASTER_KEYS": {"dossier"},
        "DMP_TOKEN_SIGNING_KEY": {"identity"},
        "DMP_LOGIN_CODE_KEY": {"identity"},
        "DMP_IDENTITY_MESSAGE_KEY": {"identity", "notify"},
        "DMP_AUDIT_SIGNING_KEY": {"audit"},
        "DMP_AUDIT_PUBLIC_KEYS": {"audit"},
        "SMTP_PASSWORD": {"notify"},
        "SMS_PASSWORD": {"notify"},
        "MONGO_URI": set(SERVICE_PACKAGES),
        "DMP_TOKEN_PUBLIC_KEYS": {*SERVICE_PACKAGES, "gateway"},
        "DMP_BUS_PUBLIC_KEYS": {*SERVICE_PACKAGES, "gateway"},
    }
    for overlay in OVERLAYS:
        manifests = build(overlay)
        for variable, allowed in only.items():
            holders = {
                name
                for name, w in dmp_pods(overlay).items()
                if variable in environment_set(manifests, container(w))
            }
            assert holders == allowed, f"{overlay}: {variable} reaches {sorted(holders)}"
        # Each signer on the bus holds its own signing key and nobody else's (services/common/signatures.py).
        for name, workload in dmp_deployments(overlay).items():
            bus_keys = {
                pair
                for pair in secrets_read(container(workload))
                if pair[0].startswith("dmp-bus-key-")
            }
            assert bus_keys == {(f"dmp-bus-key-{name}", "DMP_BUS_SIGNING_KEY")}, (
                f"{overlay}: {name} holds {bus_keys}"
            )
        admin = {
            name
            for name, w in dmp_pods(overlay).items()
            if any(secret == "dmp-broker-admin" for secret, _ in secrets_read(container(w)))
        }
        assert admin == {BROKER_SETUP}, (
            f"{overlay}: the broker's administrator reaches {sorted(admin)}"
        )
        store_secrets = {
            name: environment_set(manifests, container(d))["MONGO_URI"]["valueFrom"][
                "secretKeyRef"
            ]["name"]
            for name, d in dmp_deployments(overlay).items()
            if name != "gateway"
        }
        assert len(set(store_secrets.values())) == len(store_secrets), "one store user per service"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_principal_connects_with_its_own_secret_whose_password_the_set_up_job_applies(
    overlay: str,
) -> None:
    """One broker user per principal (services/common/bus.py): a Deployment reads the AMQP_URI of its own
    dmp-broker-<name> and no other principal's Secret; the job gets every principal's password from the
    same Secrets, so the users it sets are the ones the Deployments log in as."""
    manifests = build(overlay)
    names = {principal.name for principal in principals()}
    deployments = dmp_deployments(overlay)
    assert set(deployments) <= names, "every Deployment is a principal of the bus"
    for name, deployment in deployments.items():
        env = environment_set(manifests, container(deployment))
        assert env["AMQP_URI"]["valueFrom"]["secretKeyRef"] == {
            "name": f"dmp-broker-{name}",
            "key": "AMQP_URI",
        }
        broker = {
            pair
            for pair in secrets_read(container(deployment))
            if pair[0].startswith("dmp-broker-")
        }
        assert broker == {(f"dmp-broker-{name}", "AMQP_URI")}, (
            f"{overlay}: {name} reads {sorted(broker)}"
        )
    job = container(broker_setup(overlay))
    assert job["command"] == PROVISION
    env = environment_set(manifests, job)
    for name in names:
        ref = env[password_variable(name)]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"dmp-broker-{name}", "key": "password"}, (
            f"{overlay}: {name}'s password"
        )
    assert env["AMQP_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "dmp-broker-admin",
        "key": "AMQP_URI",
    }
    expected = {
        ("dmp-broker-admin", "AMQP_URI"),
        *((f"dmp-broker-{name}", "password") for name in names),
    }
    assert secrets_read(job) == expected, (
        "the job holds the broker's secrets only, and no principal's URI"
    )


def test_the_operations_guide_creates_a_secret_for_every_principal() -> None:
    """The guide's loop makes the Secrets the manifests read; a principal it forgot stops the set-up job."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    loops = re.findall(r"^for p in ([a-z -]+); do$", guide, re.MULTILINE)
    assert loops, "no loop creating the dmp-broker-<name> Secrets in docs/operations.md"
    for loop in loops:
        assert set(loop.split()) == {principal.name for principal in principals()}, loop
    signers = re.findall(r"^for signer in ([a-z -]+); do$", guide, re.MULTILINE)
    assert signers, "no loop creating the dmp-bus-key-<name> Secrets in docs/operations.md"
    assert all(set(loop.split()) == set(SIGNERS) for loop in signers), signers


# Hardening and operations


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_non_root_on_a_read_only_root_without_capabilities(overlay: str) -> None:
    for workload, spec in pod_specs(build(overlay)):
        name = f"{overlay}: {workload['metadata']['name']}"
        runs_to_completion = (
            workload["kind"] == "Job"
        )  # nothing routes to it nor waits for it to be ready
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, f"{name} mounts an API token"
        for item in spec["containers"] + spec.get("initContainers", []):
            context = item["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in context["capabilities"], name
            assert {"requests", "limits"} <= set(item["resources"]), f"{name}: requests and limits"
            assert "memory" in item["resources"]["limits"], name
            assert runs_to_completion or item.get("readinessProbe"), f"{name}: readiness probe"
            if is_dmp(workload):
                assert item.get("livenessProbe"), f"{name}: liveness probe"
    for namespace in of_kind(build(overlay), "Namespace"):
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert broker_setup(overlay) in (workload for workload, _ in pod_specs(build(overlay))), (
        "the job is checked"
    )


def test_the_image_user_is_the_one_the_pods_run_as() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    user = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)[-1]
    assert BROKER_SETUP in dmp_pods("prod")
    for workload in dmp_pods("prod").values():
        context = workload["spec"]["template"]["spec"]["securityContext"]
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user, workload[
            "metadata"
        ]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nameko_services_are_probed_by_the_health_command(overlay: str) -> None:
    for name, deployment in dmp_deployments(overlay).items():
        item = container(deployment)
        if name == "gateway":
            assert item["readinessProbe"]["httpGet"]["path"] == "/health"
            continue
        probe = ["python", "-m", "services.common.healthcheck", name]
        assert item["readinessProbe"]["exec"]["command"][:4] == probe
        assert "--live" not in item["readinessProbe"]["exec"]["command"], (
            "readiness checks broker and store"
        )
        assert item["livenessProbe"]["exec"]["command"][:5] == [*probe, "--live"]
        assert item["startupProbe"]["exec"]["command"][:5] == [*probe, "--live"]
        assert any(mount["mountPath"] == "/tmp" for mount in item["volumeMounts"]), (  # noqa: S108
            "heartbeat needs /tmp"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_grace_period_covers_the_pre_stop_pause_and_the_longest_request(overlay: str) -> None:
    manifests = build(overlay)
    for name, deployment in dmp_deployments(overlay).items():
        spec = deployment["spec"]["template"]["spec"]
        item = container(deployment)
        pause = item["lifecycle"]["preStop"]["sleep"]["seconds"]
        env = environment_set(manifests, item)
        config = named(manifests, "ConfigMap", env["DMP_RPC_TIMEOUT_SECONDS"]["configMap"])["data"]
        rpc_timeout = int(config["DMP_RPC_TIMEOUT_SECONDS"])
        if name == "gateway":
            draining = int(env["DMP_GATEWAY_GRACEFUL_SECONDS"]["value"])
            assert draining >= rpc_timeout, "the gateway waits for a request's RPC to answer"
        else:
            assert rpc_timeout < DRAIN_SECONDS, "a stopping service waits for its longest request"
            draining = int(DRAIN_SECONDS)
        assert 0 < pause < 15
        assert spec["terminationGracePeriodSeconds"] >= pause + draining + 10, f"{overlay}: {name}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_an_autoscaler_a_disruption_budget_and_spreads(overlay: str) -> None:
    manifests = build(overlay)
    for name, deployment in dmp_deployments(overlay).items():
        autoscaler = named(manifests, "HorizontalPodAutoscaler", name)
        assert autoscaler["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        bounds = autoscaler["spec"]
        assert 2 <= bounds["minReplicas"] == deployment["spec"]["replicas"] < bounds["maxReplicas"]
        budget = named(manifests, "PodDisruptionBudget", name)
        assert (
            budget["spec"]["selector"]["matchLabels"]
            == deployment["spec"]["selector"]["matchLabels"]
        )
        keys = {
            c["topologyKey"]
            for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        }
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_prod_has_more_replicas_than_dev() -> None:
    for name, deployment in dmp_deployments("prod").items():
        assert deployment["spec"]["replicas"] > dmp_deployments("dev")[name]["spec"]["replicas"], (
            name
        )


# Network policies


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "only In is used here"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def policies_for(manifests: tuple[Manifest, ...], labels: dict[str, str]) -> list[Manifest]:
    return [
        p for p in of_kind(manifests, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_takes_traffic_and_only_from_the_ingress_controller(overlay: str) -> None:
    manifests = build(overlay)
    for name, deployment in dmp_pods(overlay).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        policies = policies_for(manifests, labels)
        assert any(
            set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
            for p in policies
        ), f"{name}: denied by default"
        ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
        if name != "gateway":
            assert not ingress, f"{overlay}: {name} accepts connections"
            continue
        assert ingress and all(
            source.get("namespaceSelector", {}).get("matchLabels")
            == {"kubernetes.io/metadata.name": "ingress-nginx"}
            for rule in ingress
            for source in rule["from"]
        ), "the gateway accepts the ingress controller only"
        assert {port["port"] for rule in ingress for port in rule["ports"]} == {8000}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_reach_only_the_broker_the_store_the_collector_and_dns(overlay: str) -> None:
    manifests = build(overlay)
    # The services and the gateway never reach the broker's management API; its set-up job reaches nothing else.
    served = {"broker": {5671, 5672}, "store": {27017}, "trace-collector": {4318}}
    set_up = {"broker": {5671, 5672, 15671, 15672}}
    for name, deployment in dmp_pods(overlay).items():
        allowed = set_up if name == BROKER_SETUP else served
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        for policy in policies_for(manifests, labels):
            for rule in policy["spec"].get("egress", []):
                ports = {port["port"] for port in rule["ports"]}
                destinations = rule.get("to", [])
                if not destinations:  # anywhere, by port: SMTP and SMS relays outside the cluster
                    assert name == "notify" and ports <= {25, 465, 587, 443, 13013}, (
                        f"{overlay}: {name} {ports}"
                    )
                    continue
                for destination in destinations:
                    role = destination.get("podSelector", {}).get("matchLabels", {}).get("dmp-role")
                    namespace = destination.get("namespaceSelector", {}).get("matchLabels", {})
                    if namespace == {"kubernetes.io/metadata.name": "kube-system"}:
                        assert ports == {53}, "DNS only in kube-system"
                    elif namespace == {"kubernetes.io/metadata.name": "observability"}:
                        assert ports == {4318} and name != BROKER_SETUP, (
                            "traces only to the platform's collector"
                        )
                    elif role in allowed:
                        assert ports <= allowed[role], f"{overlay}: {name} to {role} on {ports}"
                        assert role != "store" or name != "gateway", (
                            "the gateway has no store access"
                        )
                    else:
                        assert (
                            name == "notify"
                            and role in {"mail-sink", "sms-sink"}
                            and overlay == "dev"
                        ), f"{overlay}: {name} may reach {destination}"


def admitted(
    manifests: tuple[Manifest, ...], target: dict[str, str], source: dict[str, str]
) -> set[int]:
    """The ports on which pods labelled `target` accept pods labelled `source` (same namespace)."""
    return {
        port["port"]
        for policy in policies_for(manifests, target)
        for rule in policy["spec"].get("ingress", [])
        if any(
            "namespaceSelector" not in peer and selects(peer.get("podSelector", {}), source)
            for peer in rule.get("from", [])
        )
        for port in rule["ports"]
    }


def reachable(
    manifests: tuple[Manifest, ...], source: dict[str, str], target: dict[str, str]
) -> set[int]:
    """The ports on which pods labelled `source` may reach pods labelled `target` (same namespace)."""
    return {
        port["port"]
        for policy in policies_for(manifests, source)
        for rule in policy["spec"].get("egress", [])
        if any(
            "namespaceSelector" not in peer and selects(peer.get("podSelector", {}), target)
            for peer in rule.get("to", [])
        )
        for port in rule["ports"]
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_broker_set_up_job_reaches_the_broker_and_its_management_api_and_nobody_else_does(
    overlay: str,
) -> None:
    manifests = build(overlay)
    job = broker_setup(overlay)
    env = environment_set(manifests, container(job))
    config = named(manifests, "ConfigMap", env["DMP_RABBITMQ_MANAGEMENT_URL"]["configMap"])["data"]
    management = urlsplit(config["DMP_RABBITMQ_MANAGEMENT_URL"]).port
    assert management in {15671, 15672}
    broker, job_labels = {"dmp-role": "broker"}, job["spec"]["template"]["metadata"]["labels"]
    amqp = admitted(manifests, broker, {"dmp-role": "service"})
    assert amqp and amqp <= {5671, 5672}
    needed = amqp | {management}
    assert needed <= admitted(manifests, broker, job_labels), (
        f"{overlay}: the broker refuses the job"
    )
    assert needed <= reachable(manifests, job_labels, broker), (
        f"{overlay}: the job may not reach the broker"
    )
    assert any(
        rule.get("to") and {port["port"] for port in rule["ports"]} == {53}
        for policy in policies_for(manifests, job_labels)
        for rule in policy["spec"].get("egress", [])
    ), f"{overlay}: the job resolves no name"
    for name, deployment in dmp_deployments(overlay).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert not admitted(manifests, broker, labels) & {15671, 15672}, (
            f"{overlay}: {name} reaches the management API"
        )


def test_every_pod_given_a_ca_bundle_mounts_it() -> None:
    """SSL_CERT_FILE naming a file that is not there leaves OpenSSL with no CA: every TLS connection fails."""
    given = 0
    for overlay in OVERLAYS:
        manifests = build(overlay)
        for name, workload in dmp_pods(overlay).items():
            env = environment_set(manifests, container(workload))
            if "SSL_CERT_FILE" not in env:
                continue
            path = named(manifests, "ConfigMap", env["SSL_CERT_FILE"]["configMap"])["data"][
                "SSL_CERT_FILE"
            ]
            mounts = [
                mount["mountPath"].rstrip("/") + "/"
                for mount in container(workload).get("volumeMounts", [])
            ]
            assert any(path.startswith(mount) for mount in mounts), (
                f"{overlay}: {name} has no {path}"
            )
            given += 1
    assert given == len(dmp_pods("prod")), "every prod pod speaks TLS to the broker"


def test_the_gateway_trusts_forwarded_headers_only_from_a_network_given_by_the_overlay() -> None:
    for overlay in OVERLAYS:
        manifests = build(overlay)
        env = environment_set(manifests, container(dmp_deployments(overlay)["gateway"]))
        config = named(manifests, "ConfigMap", env["DMP_GATEWAY_FORWARDED_ALLOW_IPS"]["configMap"])[
            "data"
        ]
        assert config["DMP_GATEWAY_FORWARDED_ALLOW_IPS"] not in {"*", ""}, (
            "never trust every address"
        )
