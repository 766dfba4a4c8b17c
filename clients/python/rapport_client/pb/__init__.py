"""gRPC stubs generated from proto/ by grpcio-tools 1.85.1 (clients/python/scripts/generate.py).

Do not edit: run the script after a change under proto/. The message and enum types, e.g.
`common_pb2.Message`, `live_pb2.HINT_KIND_SLOW_REPLY`, and the service stubs, e.g.
`analyzer_pb2_grpc.AnalyzerStub`, are importable from here.

grpc.health.v1 is in `rapport_client.pb.grpc.health.v1`, imported only on demand: its symbols
clash with grpcio-health-checking's `grpc_health.v1` in protobuf's default pool, so a process
can load one of the two, not both (RapportClient.health uses grpc_health where it is installed).
"""
from .rapport.v1 import (  # noqa: F401
    analyzer_pb2,
    analyzer_pb2_grpc,
    common_pb2,
    common_pb2_grpc,
    info_pb2,
    info_pb2_grpc,
    live_pb2,
    live_pb2_grpc,
    profiles_pb2,
    profiles_pb2_grpc,
    scoring_pb2,
    scoring_pb2_grpc,
)

GRPCIO_TOOLS_VERSION = "1.85.1"
