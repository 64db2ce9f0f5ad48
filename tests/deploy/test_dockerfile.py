"""The container image's recipe (deploy/Dockerfile), read statically: no Docker engine runs in CI.

What is checked: multi-stage on python:3.11-slim, the exact dependency set, a numeric non-root user
in the final stage, no secret in the image, and that the commands the manifests run exist.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.kube import OVERLAYS, ROOT, build, is_dmp_pod, pod_specs

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def stages(path: Path) -> list[Stage]:
    text = re.sub(r"\\\n", " ", path.read_text())  # join continued lines
    result: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = argument.split()
            result.append(
                Stage(parts[0], parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None)
            )
        else:
            assert result, f"{keyword} before FROM"
            result[-1].instructions.append((keyword, argument.strip()))
    return result


def test_the_image_is_built_in_stages_from_python_3_11_slim() -> None:
    build_stages = stages(DOCKERFILE)
    assert len(build_stages) >= 2, "multi-stage: the build tools stay out of the final image"
    assert all(stage.image == "python:3.11-slim" for stage in build_stages)
    final = build_stages[-1]
    copies = [argument for keyword, argument in final.instructions if keyword == "COPY"]
    assert copies and all(argument.startswith("--from=") for argument in copies), (
        "the final stage takes only what the build stage installed"
    )


def test_dependencies_are_installed_with_the_exact_versions_ci_tested() -> None:
    runs = " ".join(
        argument
        for stage in stages(DOCKERFILE)
        for keyword, argument in stage.instructions
        if keyword == "RUN"
    )
    assert re.search(r"pip install (--constraint|-c) constraints\.txt \.", runs)
    assert "-e " not in runs and "[dev]" not in runs, (
        "no editable install, no test tools in the image"
    )


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    final = stages(DOCKERFILE)[-1]
    users = [argument for keyword, argument in final.instructions if keyword == "USER"]
    assert users, "USER is set in the final stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 10000, "numeric, so that runAsNonRoot can check it"
    assert gid.isdigit() and int(gid) != 0


def test_no_secret_and_no_healthcheck_are_in_the_image() -> None:
    for stage in stages(DOCKERFILE):
        for keyword, argument in stage.instructions:
            assert keyword != "HEALTHCHECK", (
                "Kubernetes probes the pods; a Docker HEALTHCHECK is ignored there"
            )
            if keyword in {"ENV", "ARG"}:
                assert not re.search(r"KEY|PASSWORD|SECRET|TOKEN|_URI", argument), argument
            if keyword in {"COPY", "ADD"}:
                assert not re.search(r"\.env|var/|secret", argument), argument
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var"} <= set(ignored), (
        "local secrets (var/dev.env) never reach the build context"
    )


def test_every_command_the_manifests_run_is_a_module_the_image_has() -> None:
    packaged = {"services"}  # pyproject: [tool.setuptools.packages.find] include = ["services*"]
    for overlay in OVERLAYS:
        workloads = [
            (workload, spec) for workload, spec in pod_specs(build(overlay)) if is_dmp_pod(workload)
        ]
        assert "Job" in {workload["kind"] for workload, _ in workloads}, (
            "the broker's set-up job runs the image too"
        )
        for _, spec in workloads:
            command = spec["containers"][0]["command"]
            assert command[:2] == ["python", "-m"]
            module = command[2]
            assert module.split(".")[0] in packaged
            assert importlib.util.find_spec(module) is not None, module
