"""Static checks of the deployment files: Dockerfiles, docker-compose.yml and deploy/k8s.

No Docker, cluster or network needed: the files are parsed with PyYAML and read as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.service_facts import (
    SERVICES,
    api_port,
    keeps_personal_data,
    partitioned,
    variables,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: A gRPC target naming a host and a port, e.g. ``mastery:50053``.
TARGET = re.compile(r"^(?P<host>[a-z][a-z0-9-]*):(?P<port>\d+)$")


def load_compose() -> dict[str, Any]:
    with (ROOT / "docker-compose.yml").open() as f:
        compose: dict[str, Any] = yaml.safe_load(f)
    return compose


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's environment, given as a mapping or as a list of KEY=VALUE."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            keyword, _, args = current.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "no FROM instruction"
    return instructions[starts[-1] :]


def image(name: str) -> list[tuple[str, str]]:
    """The final stage of a service's Dockerfile: what the image runs with."""
    return final_stage(dockerfile_instructions(ROOT / "services" / name / "Dockerfile"))


def image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    """``ENV KEY=VALUE ...`` of a stage (the ``KEY=VALUE`` form only)."""
    env: dict[str, str] = {}
    for keyword, args in stage:
        if keyword == "ENV":
            for item in args.split():
                key, is_pair, value = item.partition("=")
                if is_pair:
                    env[key] = value
    return env


def published(service: dict[str, Any]) -> dict[str, str]:
    """Container port → where compose publishes it on the host (``127.0.0.1:8080:8080`` gives
    ``8080 → 127.0.0.1:8080``; without an address, every interface: ``0.0.0.0:8080``)."""
    found = {}
    for entry in service.get("ports") or []:
        parts = str(entry).split(":")
        address = parts[0] if len(parts) == 3 else "0.0.0.0"
        found[parts[-1]] = f"{address}:{parts[-2]}"
    return found


def k8s_yaml_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*") if p.suffix in {".yaml", ".yml"})


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def load_kustomization(path: Path) -> dict[str, Any]:
    (doc,) = load_documents(path)
    return doc


def generator_files(kustomization: dict[str, Any]) -> Iterator[str]:
    for key in ("configMapGenerator", "secretGenerator"):
        for generator in kustomization.get(key) or []:
            for entry in generator.get("files") or []:
                yield entry.split("=", 1)[-1]  # "key=path" or "path"
            for entry in generator.get("envs") or []:
                yield entry


def resource_files() -> set[Path]:
    """YAML files that some kustomization lists under ``resources`` (objects, not patches)."""
    files: set[Path] = set()
    for path in kustomizations():
        for entry in load_kustomization(path).get("resources") or []:
            target = (path.parent / entry).resolve()
            if target.is_file():
                files.add(target)
    return files


def patch_files() -> set[Path]:
    files: set[Path] = set()
    for path in kustomizations():
        for patch in load_kustomization(path).get("patches") or []:
            if "path" in patch:
                files.add((path.parent / patch["path"]).resolve())
    return files


def workloads() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(resource_files()):
        for doc in load_documents(path):
            if doc.get("kind") in {"Deployment", "StatefulSet"}:
                yield path, doc


def base_objects(kind: str) -> dict[str, dict[str, Any]]:
    """The base's objects of one kind, by name."""
    base = K8S / "base"
    return {
        doc["metadata"]["name"]: doc
        for path in sorted(resource_files())
        if base in path.parents
        for doc in load_documents(path)
        if doc.get("kind") == kind
    }


def shared_config() -> dict[str, str]:
    """The literals of the base's ``arc-config`` ConfigMap, which every service reads."""
    base = load_kustomization(K8S / "base" / "kustomization.yaml")
    (config,) = [g for g in base["configMapGenerator"] if g["name"] == "arc-config"]
    return dict(literal.split("=", 1) for literal in config["literals"])


def container_env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item for item in container.get("env") or []}


# --- Dockerfiles and docker-compose.yml ---


def test_services_found() -> None:
    assert SERVICES, "no services/*/pyproject.toml"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_runs_as_non_root_with_healthcheck(name: str) -> None:
    path = ROOT / "services" / name / "Dockerfile"
    assert path.is_file(), f"{path} is missing"
    stage = final_stage(dockerfile_instructions(path))
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, f"{path}: the final stage sets no USER"
    user = users[-1].split(":", 1)[0]
    assert user not in {"root", "0"}, f"{path}: runs as {users[-1]}"
    checks = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert checks, f"{path}: no HEALTHCHECK"
    assert not checks[-1].upper().startswith("NONE"), f"{path}: HEALTHCHECK NONE"
    entrypoints = [args for keyword, args in stage if keyword == "ENTRYPOINT"]
    assert entrypoints, f"{path}: no ENTRYPOINT"
    assert f"arc-{name}" in entrypoints[-1]


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_has_healthcheck_and_nats(name: str) -> None:
    services = load_compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    service = services[name]
    healthcheck = service.get("healthcheck") or {}
    assert healthcheck.get("test"), f"compose service {name!r} has no healthcheck"
    assert not healthcheck.get("disable"), f"compose service {name!r} disables its healthcheck"
    assert environment(service).get("ARC_NATS_URL"), f"compose service {name!r}: ARC_NATS_URL"
    build = service.get("build") or {}
    dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
    assert dockerfile == f"services/{name}/Dockerfile"
    assert (ROOT / build.get("context", ".") / dockerfile).is_file()


def test_compose_services_share_one_key_vault_apart_from_the_event_stores() -> None:
    """Catalog seals names that reporting and evidence open, so the services that seal or open
    personal data name one vault database (unset, each would keep keys of its own), which is
    none of the event stores, and postgres-init.sql creates it."""
    services = load_compose()["services"]
    keepers = [name for name in SERVICES if keeps_personal_data(name)]
    assert {"catalog", "reporting"} <= set(keepers), keepers
    stores = {database(environment(services[name])["ARC_DATABASE_URL"]) for name in SERVICES}
    vaults = {environment(services[name]).get("ARC_KEYVAULT_URL") for name in keepers}
    assert len(vaults) == 1 and None not in vaults, f"not one key vault: {vaults}"
    (vault,) = vaults
    assert str(vault).startswith("postgresql://"), f"{vault}: a vault per container"
    assert database(str(vault)) not in stores, f"{vault} is an event store"
    init = (ROOT / "deploy" / "compose" / "postgres-init.sql").read_text()
    assert f"CREATE DATABASE {database(str(vault))};" in init


def database(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def test_compose_dependencies_and_mounts_exist() -> None:
    services = load_compose()["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        for dependency in depends_on:
            assert dependency in services, f"{name} depends on unknown service {dependency!r}"
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


# --- Kubernetes manifests ---


def test_k8s_files_found() -> None:
    assert kustomizations(), "no kustomization.yaml under deploy/k8s"
    assert list(workloads()), "no Deployment or StatefulSet under deploy/k8s"


@pytest.mark.parametrize("path", k8s_yaml_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_k8s_documents_are_objects(path: Path) -> None:
    docs = load_documents(path)
    assert docs, f"{path} holds no document"
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
        assert doc.get("apiVersion"), f"{path}: document without apiVersion"
        assert doc.get("kind"), f"{path}: document without kind"
        if path.name == "kustomization.yaml":
            assert doc["kind"] in {"Kustomization", "Component"}
            continue
        assert (doc.get("metadata") or {}).get("name"), f"{path}: {doc['kind']} without name"


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_references_exist(path: Path) -> None:
    kustomization = load_kustomization(path)
    for entry in kustomization.get("resources") or []:
        target = path.parent / entry
        assert target.exists(), f"{path}: resource {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{entry} is no kustomization"
    for patch in kustomization.get("patches") or []:
        assert "path" in patch or "patch" in patch, f"{path}: patch without path or patch"
        if "path" in patch:
            assert (path.parent / patch["path"]).is_file(), f"{path}: {patch['path']} missing"
    for entry in generator_files(kustomization):
        assert (path.parent / entry).is_file(), f"{path}: generator file {entry} missing"


def test_every_k8s_yaml_is_used() -> None:
    used = resource_files() | patch_files() | {p.resolve() for p in kustomizations()}
    unused = [str(p.relative_to(K8S)) for p in k8s_yaml_files() if p.resolve() not in used]
    assert not unused, f"YAML files no kustomization refers to: {unused}"


def test_workloads_have_probes_and_limits() -> None:
    for path, doc in workloads():
        name = doc["metadata"]["name"]
        for container in doc["spec"]["template"]["spec"]["containers"]:
            where = f"{path.name}: {doc['kind']} {name}, container {container['name']}"
            assert container.get("readinessProbe"), f"{where}: no readinessProbe"
            assert container.get("livenessProbe"), f"{where}: no livenessProbe"
            limits = (container.get("resources") or {}).get("limits") or {}
            assert {"cpu", "memory"} <= set(limits), f"{where}: resources.limits incomplete"


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_a_deployment(name: str) -> None:
    deployments = {
        doc["metadata"]["name"]: doc for _, doc in workloads() if doc["kind"] == "Deployment"
    }
    assert name in deployments, f"deploy/k8s/base has no Deployment {name!r}"
    pod = deployments[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    port = container["readinessProbe"]["grpc"]["port"]
    assert container["livenessProbe"]["grpc"]["port"] == port
    env = {item["name"]: item for item in container.get("env") or []}
    assert env["ARC_GRPC_PORT"]["value"] == str(port)
    assert env["ARC_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"arc-{name}-db",
        "key": "url",
    }
    assert any(
        source.get("configMapRef", {}).get("name") == "arc-config"
        for source in container.get("envFrom") or []
    )


@pytest.mark.parametrize("name", SERVICES)
def test_image_serves_both_apis_on_every_interface(name: str) -> None:
    """The image listens where a container must (0.0.0.0, not the loopback the settings
    default to) on the service's own ports, and exposes both."""
    stage = image(name)
    env = image_env(stage)
    assert env.get("ARC_GRPC_HOST") == "0.0.0.0", f"{name}: ENV ARC_GRPC_HOST=0.0.0.0 missing"
    assert env.get("ARC_HTTP_HOST") == "0.0.0.0", f"{name}: ENV ARC_HTTP_HOST=0.0.0.0 missing"
    ports = {"grpc": str(api_port(name, "grpc")), "http": str(api_port(name, "http"))}
    assert env.get("ARC_GRPC_PORT") == ports["grpc"], f"{name}: the service's gRPC port"
    assert env.get("ARC_HTTP_PORT") == ports["http"], f"{name}: the service's HTTP port"
    exposed = {port for keyword, args in stage if keyword == "EXPOSE" for port in args.split()}
    assert set(ports.values()) <= exposed, f"{name}: EXPOSE {sorted(exposed)}"
    (check,) = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    match = re.search(r"arc_platform\.healthcheck\s+(\d+)", check)
    assert match, f"{name}: HEALTHCHECK does not run arc_platform.healthcheck PORT"
    assert match.group(1) == ports["grpc"], f"{name}: HEALTHCHECK probes another port"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_and_kubernetes_use_the_images_ports(name: str) -> None:
    """gRPC and HTTP: the image's ports are the ones compose publishes (on 127.0.0.1 only)
    and probes, and the ones the Deployment, its probes and its Service use."""
    env = image_env(image(name))
    ports = {"grpc": env["ARC_GRPC_PORT"], "http": env["ARC_HTTP_PORT"]}
    service = load_compose()["services"][name]
    compose_env = environment(service)
    assert compose_env["ARC_GRPC_PORT"] == ports["grpc"]
    assert compose_env["ARC_HTTP_PORT"] == ports["http"]
    assert ports["grpc"] in service["healthcheck"]["test"]
    for port in ports.values():
        assert published(service).get(port) == f"127.0.0.1:{port}", f"{name}: publish {port}"

    deployment = base_objects("Deployment")[name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert str(container["readinessProbe"]["grpc"]["port"]) == ports["grpc"]
    assert {p["name"]: str(p["containerPort"]) for p in container["ports"]} == ports
    env_vars = container_env(deployment)
    assert env_vars["ARC_GRPC_PORT"]["value"] == ports["grpc"]
    assert env_vars["ARC_HTTP_PORT"]["value"] == ports["http"]
    k8s_service = base_objects("Service")[name]
    assert {p["targetPort"]: str(p["port"]) for p in k8s_service["spec"]["ports"]} == ports


@pytest.mark.parametrize("name", SERVICES)
def test_deployments_set_only_settings_the_service_reads(name: str) -> None:
    """A misspelt or retired variable (say ARC_REPLICAS) would be ignored without a word."""
    unknown = variables(name)
    compose_env = environment(load_compose()["services"][name])
    set_in_compose = {key for key in compose_env if key.startswith("ARC_")}
    assert set_in_compose <= unknown, f"compose {name}: {sorted(set_in_compose - unknown)}"
    k8s = set(shared_config()) | set(container_env(base_objects("Deployment")[name]))
    set_in_k8s = {key for key in k8s if key.startswith("ARC_")}
    assert set_in_k8s <= unknown, f"deploy/k8s {name}: {sorted(set_in_k8s - unknown)}"


def test_the_partition_count_is_one_setting_for_every_service() -> None:
    """ARC_PARTITIONS must be identical everywhere (it decides each student's subject), so it
    is in the shared settings only, and nothing shared pins a replica's partitions."""
    assert [name for name in SERVICES if partitioned(name)], "no service consumes partitions"
    compose = load_compose()["services"]
    counts = {name: environment(compose[name]).get("ARC_PARTITIONS") for name in SERVICES}
    assert len(set(counts.values())) == 1 and None not in counts.values(), counts
    assert int(shared_config()["ARC_PARTITIONS"]) == int(counts[SERVICES[0]] or 0)
    assert "ARC_PARTITION_IDS" not in shared_config()
    for name in SERVICES:
        assert "ARC_PARTITION_IDS" not in environment(compose[name]), name
        env = container_env(base_objects("Deployment")[name])
        assert not {"ARC_PARTITIONS", "ARC_PARTITION_IDS"} & set(env), f"{name} overrides them"


def test_compose_targets_name_a_service_and_its_grpc_port() -> None:
    """Reporting's ARC_MASTERY_TARGET / ARC_EVIDENCE_TARGET (and any other ARC_*_TARGET)
    point at a compose service's gRPC port."""
    services = load_compose()["services"]
    targets = {
        (name, key): value
        for name in SERVICES
        for key, value in environment(services[name]).items()
        if key.startswith("ARC_") and key.endswith("_TARGET")
    }
    assert ("reporting", "ARC_MASTERY_TARGET") in targets
    assert ("reporting", "ARC_EVIDENCE_TARGET") in targets
    for (name, key), value in targets.items():
        match = TARGET.match(value)
        assert match, f"{name}: {key}={value} is not host:port"
        callee = match["host"]
        assert callee in SERVICES, f"{name}: {key} names no service"
        assert environment(services[callee])["ARC_GRPC_PORT"] == match["port"], f"{name}: {key}"
