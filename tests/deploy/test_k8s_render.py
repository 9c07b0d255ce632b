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

import base64
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.deploy.service_facts import SERVICES, api_port, keeps_personal_data, partitioned

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml"))
#: The oldest Kubernetes release we support (gRPC probes are GA since 1.27; 1.29 is the oldest
#: still maintained by the large providers) and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CNPG_GROUP = "postgresql.cnpg.io/"
CNPG_SCHEMA = Path(__file__).with_name("cnpg_cluster.schema.yaml")
#: The services that seal or open personal data, hence need the shared key vault.
KEY_KEEPERS = [name for name in SERVICES if keeps_personal_data(name)]
#: Production's key vault: a CloudNativePG cluster apart from every event store's.
VAULT_CLUSTER = "arc-keyvault-pg"


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
    """Each service's Deployment (or StatefulSet, should one ever need stable identities)."""
    workloads = {**objects(overlay, "Deployment"), **objects(overlay, "StatefulSet")}
    return {name: doc for name, doc in workloads.items() if name in SERVICES}


def shared_config(overlay: str) -> dict[str, str]:
    """The rendered ``arc-config`` ConfigMap (its name carries a content hash)."""
    (config,) = [d for n, d in objects(overlay, "ConfigMap").items() if n.startswith("arc-config")]
    data: dict[str, str] = config["data"]
    return data


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (found,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(found)


def env_values(workload: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(workload).get("env", []) if "value" in e}


def pods_of(overlay: str, selector: dict[str, str]) -> list[dict[str, Any]]:
    return [
        d
        for d in render(overlay)
        if d["kind"] in {"Deployment", "StatefulSet"}
        and matches(selector, d["spec"]["template"]["metadata"]["labels"])
    ]


def pod_port(overlay: str, service: dict[str, Any], port: int) -> tuple[dict[str, Any], int]:
    """Where a Service's port lands: the one workload it selects, and the container port."""
    (entry,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    (workload,) = pods_of(overlay, service["spec"]["selector"])
    target = entry.get("targetPort", port)
    if isinstance(target, str):
        (target,) = [
            p["containerPort"] for p in container(workload)["ports"] if p["name"] == target
        ]
    return workload, int(target)


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


def test_production_has_one_database_cluster_per_service_and_one_for_the_key_vault() -> None:
    clusters = objects("production", "Cluster")
    assert sorted(clusters) == sorted([f"arc-{name}-pg" for name in SERVICES] + [VAULT_CLUSTER])
    for name in [*SERVICES, "keyvault"]:
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


def env_entry(workload: dict[str, Any], variable: str) -> dict[str, Any] | None:
    found = [item for item in container(workload).get("env", []) if item["name"] == variable]
    return found[0] if found else None


def secret_ref(workload: dict[str, Any], variable: str) -> dict[str, Any]:
    """The Secret key a variable is read from (empty when it is not read from a Secret)."""
    entry = env_entry(workload, variable) or {}
    return dict(entry.get("valueFrom", {}).get("secretKeyRef", {}))


def key_vault_refs(overlay: str) -> dict[str, dict[str, Any]]:
    """Service → where its ARC_KEYVAULT_URL comes from, for the services that set it."""
    return {
        name: secret_ref(workload, "ARC_KEYVAULT_URL")
        for name, workload in service_workloads(overlay).items()
        if env_entry(workload, "ARC_KEYVAULT_URL") is not None
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_keeping_personal_data_share_one_key_vault_apart_from_the_event_stores(
    overlay: str,
) -> None:
    """Catalog seals names that reporting and evidence open: every service that seals or opens
    personal data reads ARC_KEYVAULT_URL from one required Secret (unset, each pod would keep a
    SQLite vault of its own and open nobody else's data), never an event store's credentials.
    A service that does neither is given no way to the keys."""
    assert {"catalog", "reporting"} <= set(KEY_KEEPERS), KEY_KEEPERS
    assert "ARC_KEYVAULT_URL" not in shared_config(overlay), "the keys are for keepers only"
    refs = key_vault_refs(overlay)
    assert sorted(refs) == KEY_KEEPERS, f"ARC_KEYVAULT_URL set for {sorted(refs)}"
    event_stores = {
        secret_ref(workload, "ARC_DATABASE_URL").get("name")
        for workload in service_workloads(overlay).values()
    }
    for name, ref in refs.items():
        assert ref.get("name"), f"{name}: ARC_KEYVAULT_URL is not read from a Secret"
        assert not ref.get("optional"), f"{name}: without the Secret it would vault on its own"
        assert ref["name"] not in event_stores, f"{name}: the key vault is an event store"
    (vault,) = {(ref["name"], ref["key"]) for ref in refs.values()}
    clusters = {f"{name}-app" for name in objects(overlay, "Cluster")}
    assert vault[0] in objects(overlay, "Secret") or vault[0] in clusters, f"no Secret {vault}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_services_keeping_personal_data_reach_the_key_vault(overlay: str) -> None:
    """Production: the vault is a CloudNativePG cluster of its own, reached only by the services
    that keep personal data (their egress is checked with the other databases). Where the
    overlay runs the vault itself (dev), its network policy admits those services only."""
    vaults = {(ref.get("name"), ref.get("key")) for ref in key_vault_refs(overlay).values()}
    assert len(vaults) == 1, f"not one key vault: {vaults}"
    ((name, key),) = vaults
    secret = objects(overlay, "Secret").get(str(name))
    if secret is None:
        assert (name, key) == (f"{VAULT_CLUSTER}-app", "uri")
        assert VAULT_CLUSTER in objects(overlay, "Cluster")
        return
    url = urlsplit(base64.b64decode(secret["data"][key]).decode())
    assert url.scheme == "postgresql", f"Secret {name}: the vault is shared, not SQLite"
    service = objects(overlay, "Service")[str(url.hostname)]
    vault, port = pod_port(overlay, service, url.port or 5432)
    assert vault["metadata"]["name"] not in SERVICES, "the vault is no service's database"
    vault_labels = vault["spec"]["template"]["metadata"]["labels"]
    (policy,) = [
        p
        for p in objects(overlay, "NetworkPolicy").values()
        if matches(p["spec"]["podSelector"]["matchLabels"], vault_labels)
    ]
    peers = ingress_ports(policy).get(port, [{"none": {}}])
    for caller, workload in service_workloads(overlay).items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert admits(peers, labels) == (caller in KEY_KEEPERS), f"{where(policy)}: {caller}"


def test_production_streams_and_nats_are_replicated_three_times() -> None:
    assert shared_config("production")["ARC_STREAM_REPLICAS"] == "3"
    assert objects("production", "StatefulSet")["nats"]["spec"]["replicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_export_traces_and_metrics(overlay: str) -> None:
    config = shared_config(overlay)
    assert config["OTEL_TRACES_EXPORTER"] == "otlp"
    assert config["OTEL_METRICS_EXPORTER"] == "otlp"
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://")


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


def ingress_ports(policy: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Port → the ``from`` peers allowed (an empty list: any source)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for rule in policy["spec"].get("ingress", []):
        for port in rule.get("ports", []):
            found.setdefault(port["port"], []).extend(rule.get("from", []))
    return found


def admits(peers: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    """Whether pods with ``labels`` (in the same namespace) are among ``peers``."""
    return not peers or any(
        set(peer) == {"podSelector"} and matches(peer["podSelector"].get("matchLabels", {}), labels)
        for peer in peers
    )


def pod_selector(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"podSelector": {"matchLabels": workload["spec"]["selector"]["matchLabels"]}}]


def service_calls(overlay: str, name: str) -> dict[int, list[dict[str, Any]]]:
    """The services ``name`` calls (its ARC_*_TARGET settings, e.g. reporting's
    ARC_MASTERY_TARGET=mastery:50053): container port → the callee's pods."""
    calls: dict[int, list[dict[str, Any]]] = {}
    for key, value in env_values(service_workloads(overlay)[name]).items():
        if key.startswith("ARC_") and key.endswith("_TARGET"):
            host, _, port = value.partition(":")
            assert host in objects(overlay, "Service"), f"{name}: {key}={value}: no Service"
            callee, target = pod_port(overlay, objects(overlay, "Service")[host], int(port))
            calls.setdefault(target, []).extend(pod_selector(callee))
    return calls


def issuer_access(overlay: str) -> dict[int, list[dict[str, Any]]]:
    """Where the services fetch the token issuer's keys: the port of ARC_OIDC_ISSUER, to the
    pods behind it when it is a Service of the overlay, else anywhere (outside the cluster)."""
    issuer = urlsplit(shared_config(overlay)["ARC_OIDC_ISSUER"])
    port = issuer.port or {"https": 443, "http": 80}[issuer.scheme]
    service = objects(overlay, "Service").get(str(issuer.hostname))
    if service is None:
        return {port: []}
    workload, target = pod_port(overlay, service, port)
    return {target: pod_selector(workload)}


NATS = [
    {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "nats",
                "app.kubernetes.io/part-of": "mastery-arc",
            }
        }
    }
]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_service_reaches_only_nats_its_database_the_collector_dns_issuer_and_callees(
    overlay: str,
) -> None:
    """Egress: NATS (all the partition leases and relay leases are NATS traffic too), its
    database, the collector, DNS, the token issuer's keys, and the gRPC APIs it calls (only
    reporting calls any: mastery and evidence), nothing else."""
    policies = objects(overlay, "NetworkPolicy")
    for name in SERVICES:
        allowed = egress_ports(policies[name])
        expected = {53, 4222, 4317, 4318, 5432} | set(issuer_access(overlay))
        calls = service_calls(overlay, name)
        assert sorted(allowed) == sorted(expected | set(calls)), f"{name}: {sorted(allowed)}"
        assert allowed[4222] == NATS
        for port, peers in {**issuer_access(overlay), **calls}.items():
            assert allowed[port] == peers, f"{name} may reach more than {peers} on {port}"
        if overlay == "production":
            # The databases are known there: the service's own CloudNativePG cluster, and the
            # key vault's if it seals or opens personal data; no other.
            clusters = [f"arc-{name}-pg"] + ([VAULT_CLUSTER] if name in KEY_KEEPERS else [])
            assert allowed[5432] == [
                {"podSelector": {"matchLabels": {"cnpg.io/cluster": cluster}}}
                for cluster in clusters
            ], f"{name} may reach another database than {clusters}"
    assert sorted(service_calls(overlay, "reporting")) == [
        api_port("evidence", "grpc"),
        api_port("mastery", "grpc"),
    ], "reporting calls mastery (explanations) and evidence (whole-class entry)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_admits_its_apis_and_its_callers(overlay: str) -> None:
    """Ingress: the HTTP API from anywhere (an ingress controller), gRPC from the namespace,
    which includes reporting's calls to mastery and evidence."""
    policies = objects(overlay, "NetworkPolicy")
    workloads = service_workloads(overlay)
    for name in SERVICES:
        admitted = ingress_ports(policies[name])
        http, grpc = api_port(name, "http"), api_port(name, "grpc")
        assert admitted.get(http) == [], f"{name}: HTTP {http} not open to the ingress"
        assert grpc in admitted, f"{name}: gRPC {grpc} closed"
    for caller in SERVICES:
        labels = workloads[caller]["spec"]["template"]["metadata"]["labels"]
        for port, peers in service_calls(overlay, caller).items():
            for peer in peers:
                (callee,) = pods_of(overlay, peer["podSelector"]["matchLabels"])
                policy = policies[callee["metadata"]["name"]]
                assert admits(ingress_ports(policy).get(port, [{"none": {}}]), labels), (
                    f"{where(policy)} refuses {caller} on {port}"
                )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_partitioned_consumers_never_outnumber_their_partitions(overlay: str) -> None:
    """Mastery and reporting replicas share ARC_PARTITIONS partitions, one replica per partition
    at a time: a replica beyond that count would hold no partition and idle. So neither the
    Deployment nor its autoscaler may go above it."""
    partitions = int(shared_config(overlay)["ARC_PARTITIONS"])
    consumers = [name for name in SERVICES if partitioned(name)]
    assert consumers == ["mastery", "reporting"]
    autoscalers = {
        d["spec"]["scaleTargetRef"]["name"]: d["spec"]
        for d in objects(overlay, "HorizontalPodAutoscaler").values()
    }
    for name in consumers:
        workload = service_workloads(overlay)[name]
        assert workload["spec"]["replicas"] <= partitions, f"{name}: more replicas than partitions"
        env = {e["name"] for e in container(workload).get("env", [])}
        assert not {"ARC_PARTITIONS", "ARC_PARTITION_IDS"} & env, f"{name} overrides the count"
        if name in autoscalers:
            spec = autoscalers[name]
            assert spec["minReplicas"] <= spec["maxReplicas"] <= partitions, (
                f"{name}: HPA maxReplicas {spec['maxReplicas']} > ARC_PARTITIONS {partitions}"
            )
    assert "ARC_PARTITION_IDS" not in shared_config(overlay), "would pin every replica alike"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_trust_a_token_issuer_they_can_reach(overlay: str) -> None:
    """Production names an https identity provider (ARC_ENV=production refuses anything else);
    dev runs the development issuer as a Service of its own, bound to the host name in the
    issuer URL (so the tokens it signs carry the URL the services trust)."""
    config = shared_config(overlay)
    issuer = urlsplit(config["ARC_OIDC_ISSUER"])
    if overlay == "production":
        assert config["ARC_ENV"] == "production"
        assert issuer.scheme == "https"
        return
    assert config["ARC_ENV"] == "development"
    service = objects(overlay, "Service")[str(issuer.hostname)]
    workload, port = pod_port(overlay, service, issuer.port or 80)
    pod = workload["spec"]["template"]["spec"]
    args = [*container(workload).get("command", []), *container(workload).get("args", [])]
    assert args[:3] == ["python", "-m", "arc_platform.auth.dev_issuer"], args
    assert args[args.index("--host") + 1] == pod["hostname"] == issuer.hostname
    assert args[args.index("--port") + 1] == str(port)
