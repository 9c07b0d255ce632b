"""What the services' code says that the deployment files must agree with: each service's
settings (the ``ARC_*`` variables it reads and their defaults, e.g. its ports) and which
services consume the per-student streams by partition."""

from __future__ import annotations

import functools
import importlib
import inspect
from pathlib import Path

from arc_platform.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
PLATFORM_SOURCE = ROOT / "libs" / "platform" / "src" / "arc_platform"
#: Variables every process reads outside its settings model (logging and tracing set-up).
PROCESS_VARIABLES = {
    "ARC_LOG_FORMAT": PLATFORM_SOURCE / "logs.py",
    "ARC_LOG_LEVEL": PLATFORM_SOURCE / "logs.py",
    "ARC_TRACE_FILE": PLATFORM_SOURCE / "telemetry.py",
}


@functools.cache
def settings_class(name: str) -> type[ServiceSettings]:
    """The settings model ``arc-<name> serve`` reads (found in its composition root)."""
    module = importlib.import_module(f"arc_{name}.__main__")
    found = {
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls.model_fields["service_name"].default == name
    }
    assert len(found) == 1, f"arc_{name}.__main__: settings classes {found}"
    return found.pop()


def default(name: str, field: str) -> object:
    return settings_class(name).model_fields[field].default


def api_port(name: str, api: str) -> int:
    """The service's own port for ``api`` (``grpc`` or ``http``), from its settings."""
    value = default(name, f"{api}_port")
    assert isinstance(value, int) and value, f"{name}: no default {api}_port"
    return value


def variables(name: str) -> set[str]:
    """Every ``ARC_*`` variable the service reads."""
    prefix = str(ServiceSettings.model_config.get("env_prefix", ""))
    fields = {f"{prefix}{field}".upper() for field in settings_class(name).model_fields}
    return fields | set(PROCESS_VARIABLES)


def partitioned(name: str) -> bool:
    """Whether the service's replicas share the partitions of the per-student streams
    (``arc_platform.partitions.partition_loops`` in its composition root)."""
    source = ROOT / "services" / name / "src" / f"arc_{name}" / "__main__.py"
    return "partition_loops(" in source.read_text()


def keeps_personal_data(name: str) -> bool:
    """Whether the service seals or opens personal data with the key vault
    (``settings.keyvault()`` anywhere in its source, arc_platform.erasure)."""
    source = ROOT / "services" / name / "src" / f"arc_{name}"
    return any(".keyvault()" in path.read_text() for path in source.rglob("*.py"))
