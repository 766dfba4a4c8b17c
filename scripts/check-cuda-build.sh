#!/usr/bin/env bash
# Builds (or checks) the `cuda` feature on a machine with no GPU and no system
# CUDA toolkit. It is NOT part of CI (.ci/run does not call it); run it by hand
# after touching CUDA-related code or bumping candle.
#
# The binary built here (`build`) has run on an NVIDIA H100 (driver 580.159,
# CUDA 13.0) with the cuBLAS/cuRAND/cudart libraries of that machine's CUDA 13.0
# install on LD_LIBRARY_PATH; BENCH.md ("GPU (H100)") has the commands and
# figures. This script itself runs nothing on a GPU.
#
# How: NVIDIA's CUDA 13.0 toolchain wheels from the Python package index (they
# ship a full nvcc, cicc, ptxas, headers, CCCL and the runtime/cuBLAS/cuRAND/
# NVRTC libraries under site-packages/nvidia/cu13) are installed into a
# throw-away venv, and CUDA_ROOT/CUDA_PATH/CUDA_HOME/PATH point at that prefix.
#   - The pins are 13.0 on purpose: candle's kernels are embedded as PTX, which
#     the driver compiles at load time, and a driver refuses PTX written by an
#     nvcc newer than its own CUDA version (CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
#     the earlier 13.4 pins were never tried on a GPU). Keep nvcc at or below
#     the CUDA version of the oldest driver the binary must run on (`nvidia-smi`
#     prints it); the libraries found at run time must be 13.x too.
#   - candle-kernels' build.rs (via cudaforge) runs nvcc even for `cargo
#     check`; with no nvidia-smi it needs CUDA_COMPUTE_CAP (90 = H100/H200).
#   - candle-core enables cudarc's `cuda-version-from-build-system` and
#     `dynamic-linking`, so the version comes from `nvcc --version` and the
#     final link needs libcuda.so. The driver library is not on the package
#     index, so for `build` mode a link-time stub libcuda.so (soname
#     libcuda.so.1, like the toolkit's lib/stubs) is generated from cudarc's
#     driver bindings. At run time the real driver's libcuda.so.1 is used.
#
# Usage: scripts/check-cuda-build.sh [check|build]
#   check (default): cargo check --features cuda --all-targets
#   build:           cargo build --release --features cuda --bin rapport
# Env: CUDA_VENV (default /tmp/cuda-venv), CARGO_TARGET_DIR (default
#   target/cuda-check), CUDA_COMPUTE_CAP (default 90). Everything runs under
#   `nice -n 19`; compiling candle's kernels takes a while on few cores (about
#   20 minutes on 2 idle cores, over an hour on 2 busy ones).
set -euo pipefail

mode="${1:-check}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CUDA_VENV:-/tmp/cuda-venv}"

if [ ! -x "$venv/bin/pip" ]; then
    python3 -m venv "$venv"
fi
nice -n 19 "$venv/bin/pip" install -q \
    nvidia-cuda-nvcc==13.0.88 \
    nvidia-cuda-crt==13.0.88 \
    nvidia-nvvm==13.0.88 \
    nvidia-cuda-runtime==13.0.96 \
    nvidia-cuda-nvrtc==13.0.88 \
    nvidia-cuda-cccl==13.0.85 \
    nvidia-cublas==13.0.2.14 \
    nvidia-curand==10.4.0.35

cuda="$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')"
# Lay the wheel prefix out like a toolkit: lib64, unversioned .so names.
ln -sfn lib "$cuda/lib64"
for l in cublas cublasLt cudart nvrtc; do ln -sf "lib$l.so.13" "$cuda/lib/lib$l.so"; done
ln -sf libcurand.so.10 "$cuda/lib/libcurand.so"

if [ "$mode" = build ] && [ ! -e "$cuda/lib/stubs/libcuda.so" ]; then
    mkdir -p "$cuda/lib/stubs"
    sys="$(cargo metadata --format-version 1 --features cuda --manifest-path "$repo/Cargo.toml" \
        | "$venv/bin/python" -c 'import json,sys; print([p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="cudarc"][0])')"
    sys="$(dirname "$sys")/src/driver/sys/mod.rs"
    grep -oE '^pub unsafe fn cu[A-Za-z0-9_]+\(' "$sys" | sort -u \
        | sed -E 's/^pub unsafe fn (cu[A-Za-z0-9_]+)\(/int \1(void) { return 999; }/' \
        > "$cuda/lib/stubs/libcuda_stub.c"
    nice -n 19 gcc -shared -fPIC -Wl,-soname,libcuda.so.1 \
        -o "$cuda/lib/stubs/libcuda.so" "$cuda/lib/stubs/libcuda_stub.c"
fi

export CUDA_ROOT="$cuda" CUDA_PATH="$cuda" CUDA_HOME="$cuda"
export PATH="$cuda/bin:$PATH"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/cuda-check}"
nvcc --version | tail -2

cd "$repo"
case "$mode" in
    check) nice -n 19 cargo check --features cuda --all-targets ;;
    build)
        nice -n 19 cargo build --release --features cuda --bin rapport
        echo "built $CARGO_TARGET_DIR/release/rapport (linked against a stub libcuda: run it where"
        echo "the driver's libcuda.so.1 and CUDA 13 cuBLAS, cuRAND and cudart are on the library path)"
        ;;
    *) echo "usage: $0 [check|build]" >&2; exit 2 ;;
esac
