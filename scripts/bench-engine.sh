#!/usr/bin/env bash
# loadpart's ONNX Runtime engine against Python onnxruntime: the same dynamic-batch model files,
# the same ONNX Runtime version (scripts/versions.sh), the same intra-op thread count, the same
# pinned cores, run by run in lock step (crates/engine/examples/vs_onnxruntime.rs drives a
# long-lived scripts/ort_worker.py over a pipe). Prints loadpart / python per model and batch
# with 95% confidence intervals.
#
#   scripts/bench-engine.sh [--cpus 0,1] [--threads N] [vs_onnxruntime options: --models,
#                           --batches, --spinning on|off, --runs, --warmup]
# Defaults: every CPU, one thread per pinned CPU, resnet50,inception_v1,squeezenet at batch 1
# and 8, loadpart spinning on (ONNX Runtime's default, which Python uses), 40 pairs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ORT_DISABLE_TELEMETRY=1
. scripts/versions.sh
scripts/setup.sh
home="${LOADPART_HOME:-$root/.loadpart}"
py="$home/venv/bin/python"
# Python onnxruntime of exactly the pinned version (and numpy) in setup's venv.
if ! "$py" -c 'import sys, onnxruntime; sys.exit(onnxruntime.__version__ != sys.argv[1])' "$ORT_VERSION" 2>/dev/null; then
  "$py" -m pip install --quiet --disable-pip-version-check "onnxruntime==$ORT_VERSION" >&2
fi
cpus="0-$(($(nproc) - 1))"
threads=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpus) cpus="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$threads" ]; then
  threads=$(taskset -c "$cpus" nproc)
fi
cargo build --release --quiet -p loadpart-engine --example vs_onnxruntime
lib="${ORT_DYLIB_PATH:-$home/lib/$(readlink "$home/lib/libonnxruntime.so")}"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); loadpart engine library $lib" >&2
exec taskset -c "$cpus" target/release/examples/vs_onnxruntime \
  --python "$py" --worker scripts/ort_worker.py --threads "$threads" "${args[@]}"
