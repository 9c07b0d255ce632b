"""What an operator applies is valid: every overlay renders with ``kubectl kustomize`` and every
object validates against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown
fields are errors), offline, for the oldest and the newest Kubernetes version we support.

CloudNativePG ``Cluster`` objects have no built-in schema. Their fields are checked against
``cnpg_cluster.schema.yaml`` beside this file: a hand-written JSON Schema of the part of the
CloudNativePG v1 API we use, closed to unknown fields (see its header).

kubectl comes from the machine's Debian packages (``make kubectl`` installs it when missing);
``KUBECTL=/path/to/kubectl`` picks another one.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml"))
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
#: The oldest Kubernetes release we support (gRPC probes are GA since 1.27; 1.29 is the oldest
#: still maintained by the large providers) and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CNPG_GROUP = "postgresql.cnpg.io/"
CNPG_SCHEMA = Path(__file__).with_name("cnpg_cluster.schema.yaml")


def kubectl() -> str:
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: `make kubectl` installs it from Debian's packages")
    return found


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in render(overlay) if d["kind"] == kind}


def service_workloads(overlay: str) -> dict[str, dict[str, Any]]:
    """Each service's Deployment (or StatefulSet, for consumers with a replica ordinal)."""
    workloads = {**objects(overlay, "Deployment"), **objects(overlay, "StatefulSet")}
    return {name: doc for name, doc in workloads.items() if name in SERVICES}


def where(doc: dict[str, Any]) -> str:
    return f"{doc['kind']} {doc['metadata']['name']}"


def test_kubectl_has_a_modern_kustomize() -> None:
    """Debian bookworm's own kubernetes-client (1.20, kustomize v2.0) cannot render these."""
    version = subprocess.run(
        [kubectl(), "version", "--client"], capture_output=True, text=True, timeout=60
    ).stdout
    match = re.search(r"Kustomize Version: v(\d+)\.", version)
    assert match and int(match.group(1)) >= 4, (
        f"kubectl with kustomize v4 or later needed:\n{version}"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_service_and_nats(overlay: str) -> None:
    assert sorted(service_workloads(overlay)) == SERVICES
    assert "nats" in objects(overlay, "StatefulSet")
    namespaces = {
        d["metadata"].get("namespace") for d in render(overlay) if d["kind"] != "Namespace"
    }
    (namespace,) = objects(overlay, "Namespace")
    assert namespaces == {namespace}, "every object goes to the overlay's namespace"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay: str, version: str) -> None:
    errors = []
    for doc in render(overlay):
        if doc["apiVersion"].startswith(CNPG_GROUP):
            continue  # no built-in schema: test_cloudnativepg_clusters_match_their_schema
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{where(doc)}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{where(doc)}: {exc.message}")
    assert not errors, f"overlays/{overlay} on Kubernetes {version}:\n" + "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cloudnativepg_clusters_match_their_schema(overlay: str) -> None:
    schema = yaml.safe_load(CNPG_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for doc in render(overlay):
        if doc["apiVersion"].startswith(CNPG_GROUP):
            assert doc["kind"] == "Cluster", f"{where(doc)}: only Cluster is checked here"
            problems = [
                f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
                for e in validator.iter_errors(doc)
            ]
            assert not problems, f"{where(doc)}:\n" + "\n".join(problems)


def test_production_has_one_database_cluster_per_service() -> None:
    clusters = objects("production", "Cluster")
    assert sorted(clusters) == [f"arc-{name}-pg" for name in SERVICES]
    for name in SERVICES:
        cluster = clusters[f"arc-{name}-pg"]["spec"]
        assert cluster["instances"] >= 3
        assert cluster["bootstrap"]["initdb"] == {"database": f"arc_{name}", "owner": f"arc_{name}"}


def test_production_services_read_their_own_databases_credentials() -> None:
    """CloudNativePG writes ``<cluster>-app`` (key ``uri``); each service reads its own."""
    for name, workload in service_workloads("production").items():
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        env = {item["name"]: item for item in container["env"]}
        assert env["ARC_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": f"arc-{name}-pg-app",
            "key": "uri",
        }


def test_production_streams_and_nats_are_replicated_three_times() -> None:
    (config,) = [
        d for n, d in objects("production", "ConfigMap").items() if n.startswith("arc-config")
    ]
    assert config["data"]["ARC_STREAM_REPLICAS"] == "3"
    assert objects("production", "StatefulSet")["nats"]["spec"]["replicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_export_traces_and_metrics(overlay: str) -> None:
    (config,) = [d for n, d in objects(overlay, "ConfigMap").items() if n.startswith("arc-config")]
    assert config["data"]["OTEL_TRACES_EXPORTER"] == "otlp"
    assert config["data"]["OTEL_METRICS_EXPORTER"] == "otlp"
    assert config["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://")


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_and_targets_point_at_real_pods(overlay: str) -> None:
    pods = {
        where(d): d["spec"]["template"]["metadata"]["labels"]
        for d in render(overlay)
        if d["kind"] in {"Deployment", "StatefulSet"}
    }
    for doc in render(overlay):
        kind, spec = doc["kind"], doc.get("spec", {})
        if kind == "Service":
            selector = spec["selector"]
        elif kind in {"PodDisruptionBudget", "Deployment", "StatefulSet"}:
            selector = spec["selector"]["matchLabels"]
        elif kind == "NetworkPolicy":
            selector = spec["podSelector"]["matchLabels"]
        elif kind == "HorizontalPodAutoscaler":
            target = spec["scaleTargetRef"]
            assert f"{target['kind']} {target['name']}" in pods, f"{where(doc)}: no target"
            continue
        else:
            continue
        selected = [name for name, labels in pods.items() if matches(selector, labels)]
        assert len(selected) == 1, f"{where(doc)} selects {selected}, not exactly one workload"


def egress_ports(policy: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Port → the ``to`` peers allowed (an empty list: any destination)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for rule in policy["spec"].get("egress", []):
        for port in rule.get("ports", []):
            found.setdefault(port["port"], []).extend(rule.get("to", []))
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_service_reaches_only_nats_its_database_the_collector_and_dns(overlay: str) -> None:
    policies = objects(overlay, "NetworkPolicy")
    for name in SERVICES:
        allowed = egress_ports(policies[name])
        assert sorted(allowed) == [53, 4222, 4317, 4318, 5432], f"{name}: {sorted(allowed)}"
        assert allowed[4222] == [
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": "nats",
                        "app.kubernetes.io/part-of": "mastery-arc",
                    }
                }
            }
        ]
        if overlay == "production":
            # The database is known there: the service's own CloudNativePG cluster, no other.
            assert allowed[5432] == [
                {"podSelector": {"matchLabels": {"cnpg.io/cluster": f"arc-{name}-pg"}}}
            ], f"{name} may reach another database"
