"""``python -m arc_platform.healthcheck PORT [SERVICE]``: exit 0 when the gRPC health service
says SERVING for SERVICE (default "": the process is alive; ``arc.readiness``: it may take
traffic, see :mod:`arc_platform.readiness`). Used by container health checks."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 50051
    service = sys.argv[2] if len(sys.argv) > 2 else ""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=3)
        except grpc.RpcError as exc:
            print(f"unhealthy: {exc}", file=sys.stderr)
            return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
