#!/usr/bin/env python3
"""Regenerates rapport_client/pb/ (the gRPC stubs) from the repository's proto/ with grpcio-tools.

The stubs are committed, so that `pip install ./clients/python` needs neither protoc nor
grpcio-tools; run this after any change under proto/ and commit the result:

    python clients/python/scripts/generate.py            # rewrite rapport_client/pb/
    python clients/python/scripts/generate.py --check    # exit 1 if the committed stubs are stale

Needs grpcio-tools (the version pinned below, so that the output is byte-for-byte repeatable;
scripts/setup-python.sh installs it into the project's .venv).
"""
from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

GRPCIO_TOOLS = "1.85.1"

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "rapport_client"
OUT = PACKAGE / "pb"
DEFAULT_PROTO = HERE.parent.parent.parent / "proto"

# Packages of the proto files -> where their modules live inside rapport_client.
IMPORT = re.compile(r"^(from|import) (rapport\.v1|grpc\.health\.v1)\b", re.M)

INIT = '''"""gRPC stubs generated from proto/ by grpcio-tools {tools} (clients/python/scripts/generate.py).

Do not edit: run the script after a change under proto/. The message and enum types, e.g.
`common_pb2.Message`, `live_pb2.HINT_KIND_SLOW_REPLY`, and the service stubs, e.g.
`analyzer_pb2_grpc.AnalyzerStub`, are importable from here.

grpc.health.v1 is in `rapport_client.pb.grpc.health.v1`, imported only on demand: its symbols
clash with grpcio-health-checking's `grpc_health.v1` in protobuf's default pool, so a process
can load one of the two, not both (RapportClient.health uses grpc_health where it is installed).
"""
from .rapport.v1 import (  # noqa: F401
{rapport}
)

GRPCIO_TOOLS_VERSION = "{tools}"
'''


def proto_files(proto_dir: Path) -> list[str]:
    files = sorted(p.relative_to(proto_dir).as_posix() for p in (proto_dir / "rapport" / "v1").glob("*.proto"))
    if not files:
        sys.exit(f"generate.py: no .proto under {proto_dir}/rapport/v1")
    return files + ["grpc/health/v1/health.proto"]


def generate(proto_dir: Path, out: Path) -> None:
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError:
        sys.exit(f"generate.py: needs grpcio-tools=={GRPCIO_TOOLS} (scripts/setup-python.sh installs it)")
    from importlib.metadata import version

    if version("grpcio-tools") != GRPCIO_TOOLS:
        sys.exit(f"generate.py: grpcio-tools {version('grpcio-tools')} found, {GRPCIO_TOOLS} expected")
    files = proto_files(proto_dir)
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"-I{well_known}",
                      f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *files])
    if rc != 0:
        sys.exit(f"generate.py: protoc failed ({rc})")
    # Absolute imports of the proto packages become imports inside rapport_client.pb, so the
    # stubs neither need a top-level `rapport` package nor shadow grpcio's `grpc`.
    modules = []
    for path in sorted(out.rglob("*.py*")):
        text = path.read_text(encoding="utf-8")
        path.write_text(IMPORT.sub(lambda m: f"{m[1]} rapport_client.pb.{m[2]}", text), encoding="utf-8")
        if path.parent == out / "rapport" / "v1" and path.suffix == ".py":
            modules.append(path.stem)
    for d in {p.parent for p in out.rglob("*.py")} | {out / "rapport", out / "grpc", out / "grpc" / "health"}:
        if d != out:
            (d / "__init__.py").touch()
    (out / "__init__.py").write_text(
        INIT.format(tools=GRPCIO_TOOLS, rapport="\n".join(f"    {m}," for m in sorted(modules))), encoding="utf-8")


def differences(a: Path, b: Path) -> list[str]:
    def listing(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    la, lb = listing(a), listing(b)
    diff = sorted(la ^ lb)
    diff += sorted(f for f in la & lb if not filecmp.cmp(a / f, b / f, shallow=False))
    return diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proto", type=Path, default=DEFAULT_PROTO, help="the proto/ folder (default: the repository's)")
    ap.add_argument("--check", action="store_true", help="compare with the committed stubs instead of writing them")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rapport-pb-") as tmp:
        fresh = Path(tmp) / "pb"
        fresh.mkdir()
        generate(args.proto.resolve(), fresh)
        if args.check:
            diff = differences(fresh, OUT) if OUT.exists() else ["rapport_client/pb (missing)"]
            if diff:
                sys.exit("generate.py --check: the committed stubs differ from proto/ in "
                         + ", ".join(diff) + "; run python clients/python/scripts/generate.py and commit")
            print("generate.py --check: rapport_client/pb matches proto/")
            return
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(fresh, OUT)
        print(f"generate.py: wrote {OUT}")


if __name__ == "__main__":
    main()
