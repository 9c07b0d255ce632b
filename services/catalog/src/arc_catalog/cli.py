"""``arc-catalog import-case FILE`` and ``arc-catalog import-oneroster DIR|ZIP``: send a CASE
package or a OneRoster bulk set to a running catalog and show its progress.

The catalog is the single writer of its store, so the command is a gRPC client: the import runs
in the service (all or nothing) and is published by the service's relay. The target is
``--target``, else ``ARC_CATALOG_TARGET``, else ``127.0.0.1:$ARC_GRPC_PORT`` (default 50051).
The caller's bearer token is ``--token``, else ``ARC_TOKEN``: imports need a network
administrator's (locally: ``python -m arc_platform.auth.dev_issuer token admin``); an export,
any person's. Exit status: 0 imported, 1 refused (every problem is printed), 2 catalog
unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arc.catalog.v1 import catalog_pb2 as pb
from arc.catalog.v1 import catalog_pb2_grpc
from arc_platform.auth.client import bearer_metadata
from arc_platform.grpc_server import field_violations

COMMANDS = ("import-case", "import-oneroster", "export-case")
PART = 1 << 20  # bytes per message: imports go as a stream of parts, far below gRPC's limit
#: an exported framework may be larger than gRPC's default 4 MiB for a received message
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1)]
PHASES = {"read": "Reading", "check": "Checking", "prepare": "Preparing", "save": "Saving"}


def default_target() -> str:
    return os.environ.get("ARC_CATALOG_TARGET") or (
        f"127.0.0.1:{os.environ.get('ARC_GRPC_PORT', '50051')}"
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="arc-catalog", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    case = commands.add_parser("import-case", help="import a CASE 1.0 package (JSON)")
    case.add_argument("file", type=Path)
    case.add_argument("--scale", default="", help="scale of new outcomes (default: network's)")
    case.add_argument("--framework", default="", help="framework id (default: CASE identifier)")
    roster = commands.add_parser("import-oneroster", help="import a OneRoster CSV bulk set")
    roster.add_argument("source", type=Path, help="a folder of CSV files, or a zip of them")
    export = commands.add_parser("export-case", help="export a framework as a CASE package")
    export.add_argument("framework")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    for command in (case, roster, export):
        command.add_argument("--target", default=default_target(), help="catalog gRPC address")
        command.add_argument(
            "--token",
            default=os.environ.get("ARC_TOKEN", ""),
            help="bearer token (default: $ARC_TOKEN)",
        )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console(stderr=True)
    metadata = bearer_metadata(args.token) if args.token else None
    with grpc.insecure_channel(args.target, options=CHANNEL_OPTIONS) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        try:
            if args.command == "export-case":
                return export_case(stub, args.framework, args.output, metadata)
            if args.command == "import-case":
                case_parts = case_requests(args, console)
                if case_parts is None:
                    return 1
                reports = stub.ImportCase(iter(case_parts), metadata=metadata)
            else:
                roster_parts = roster_requests(args.source, console)
                if roster_parts is None:
                    return 1
                reports = stub.ImportOneRoster(iter(roster_parts), metadata=metadata)
            result = follow(reports, console)
        except grpc.RpcError as error:
            return report_error(error, console, args.target)
    show_result(result, Console())
    return 0


def parts(content: bytes) -> list[bytes]:
    return [content[start : start + PART] for start in range(0, len(content), PART)] or [b""]


def case_requests(args: argparse.Namespace, console: Console) -> list[pb.ImportCaseRequest] | None:
    if not args.file.is_file():
        console.print(f"[red]{args.file}: no such file[/red]")
        return None
    requests = [pb.ImportCaseRequest(package=part) for part in parts(args.file.read_bytes())]
    requests[0].framework_id = args.framework
    requests[0].scale_id = args.scale
    return requests


def roster_requests(source: Path, console: Console) -> list[pb.ImportOneRosterRequest] | None:
    if source.is_file():
        return [pb.ImportOneRosterRequest(zip=part) for part in parts(source.read_bytes())]
    if not source.is_dir():
        console.print(f"[red]{source}: no such folder or zip[/red]")
        return None
    files = sorted(source.glob("*.csv"))
    if not files:
        console.print(f"[red]{source}: no CSV files[/red]")
        return None
    return [
        pb.ImportOneRosterRequest(files={path.name: part})
        for path in files
        for part in parts(path.read_bytes())
    ]


def follow(reports: Iterator[pb.ImportProgress], console: Console) -> pb.ImportResult:
    """Draw the server's progress reports as bars; return the result the last one carries."""
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    tasks: dict[str, object] = {}
    with Progress(*columns, console=console, transient=False) as progress:
        for report in reports:
            if report.HasField("result"):
                return report.result
            if report.phase not in tasks:
                tasks[report.phase] = progress.add_task(
                    PHASES.get(report.phase, report.phase), total=max(report.total, 1)
                )
            progress.update(
                tasks[report.phase],  # type: ignore[arg-type]
                completed=report.done,
                total=max(report.total, 1),
            )
    raise RuntimeError("the catalog ended the import without a result")


def show_result(result: pb.ImportResult, console: Console) -> None:
    table = Table(title=f"Imported into {result.target} (store position {result.position})")
    for column in ("", "created", "revised", "unchanged", "retired"):
        table.add_column(column, justify="left" if not column else "right")
    for count in result.counts:
        table.add_row(
            count.kind,
            str(count.created),
            str(count.revised),
            str(count.unchanged),
            str(count.retired),
        )
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}")


def report_error(error: grpc.RpcError, console: Console, target: str) -> int:
    code = error.code()  # type: ignore[attr-defined]
    if code == grpc.StatusCode.UNAVAILABLE:
        console.print(f"[red]cannot reach the catalog at {target}[/red] (--target?)")
        return 2
    if code == grpc.StatusCode.UNAUTHENTICATED:
        console.print(
            f"[red]not signed in ({error.details()})[/red]: give --token or set ARC_TOKEN"  # type: ignore[attr-defined]
        )
        return 1
    if code == grpc.StatusCode.PERMISSION_DENIED:
        console.print(
            "[red]permission denied[/red]: changing the catalog takes a network"
            " administrator's token"
        )
        return 1
    violations = field_violations(error)  # type: ignore[arg-type]
    console.print(f"[red]refused ({code.name}): nothing was imported[/red]")
    for field, description in violations or [("", error.details())]:  # type: ignore[attr-defined]
        console.print(f"  {readable(field)}: {description}" if field else f"  {description}")
    return 1


def readable(field: str) -> str:
    """``users.csv:14:role`` → ``users.csv line 14, column role``."""
    parts = field.split(":")
    if len(parts) == 3 and parts[0].endswith(".csv") and parts[1].isdigit():
        return f"{parts[0]} line {parts[1]}, column {parts[2]}"
    return field


def export_case(
    stub: catalog_pb2_grpc.CatalogServiceStub,
    framework_id: str,
    output: Path | None,
    metadata: tuple[tuple[str, str]] | None = None,
) -> int:
    package = stub.ExportCase(pb.ExportCaseRequest(framework_id=framework_id), metadata=metadata)
    if output is None:
        sys.stdout.write(package.json.decode())
        sys.stdout.write("\n")
    else:
        output.write_bytes(package.json)
    return 0
