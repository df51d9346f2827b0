#!/usr/bin/env bash
# Installs what loadpart needs beyond the Rust toolchain, into ./.loadpart (idempotent, registries only):
#   .loadpart/lib/libonnxruntime.so   ONNX Runtime's shared library, from the pinned PyPI wheel `onnxruntime`
#   .loadpart/models/light/*.onnx     the model-zoo test models (and reference outputs) shipped in the PyPI wheel `onnx`
#   .loadpart/venv                    a Python virtual environment with `tritonclient[grpc]`, the third-party client
#                                     that loadpart-proto's tests check the Open Inference Protocol definitions against,
#                                     and the `loadpart` Python package built there (maturin, numpy, pytest, onnxruntime)
# No pip install into the system: wheels are downloaded (no dependencies) and unpacked, or installed into the venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# ORT_VERSION, ONNX_VERSION, TRITONCLIENT_VERSION, MATURIN_VERSION
. "$root/scripts/versions.sh"
home="${LOADPART_HOME:-$root/.loadpart}"
mkdir -p "$home/wheels" "$home/lib" "$home/models/light"
py="$(command -v python3 || command -v python)"

fetch_wheel() { # package version -> path of the wheel
  local pkg="$1" ver="$2" whl
  whl=$(ls "$home/wheels/${pkg}-${ver}-"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    "$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$home/wheels" "${pkg}==${ver}" >&2
    whl=$(ls "$home/wheels/${pkg}-${ver}-"*.whl | head -n1)
  fi
  echo "$whl"
}

if [ ! -e "$home/lib/libonnxruntime.so" ] || [ "$(cat "$home/lib/VERSION" 2>/dev/null)" != "$ORT_VERSION" ]; then
  whl=$(fetch_wheel onnxruntime "$ORT_VERSION")
  rm -f "$home/lib"/libonnxruntime.so.* "$home/lib/VERSION"
  "$py" - "$whl" "$home/lib" <<'PY'
import sys, zipfile, os, shutil
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        if n.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime") and ".so" in base:
            with z.open(n) as src, open(os.path.join(dest, base), "wb") as out:
                shutil.copyfileobj(src, out)
PY
  real=$(ls "$home/lib"/libonnxruntime.so.* | head -n1) # the one just unpacked
  ln -sf "$(basename "$real")" "$home/lib/libonnxruntime.so"
  echo "$ORT_VERSION" > "$home/lib/VERSION"
fi

if [ ! -e "$home/models/light/light_resnet50.onnx" ]; then
  whl=$(fetch_wheel onnx "$ONNX_VERSION")
  "$py" - "$whl" "$home/models/light" <<'PY'
import sys, zipfile, os, shutil
whl, dest = sys.argv[1], sys.argv[2]
prefix = "onnx/backend/test/data/light/"
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            with z.open(n) as src, open(os.path.join(dest, os.path.basename(n)), "wb") as out:
                shutil.copyfileobj(src, out)
PY
fi
venv="$home/venv"
# The venv: tritonclient (the proto tests' third-party client), and what the Python package
# needs to build and test (maturin, numpy, pytest, the pinned onnxruntime).
if ! "$venv/bin/python" - "$TRITONCLIENT_VERSION" "$MATURIN_VERSION" "$ORT_VERSION" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
import tritonclient.grpc.service_pb2  # noqa: F401  (the [grpc] extra: grpcio, protobuf)
import numpy, pytest  # noqa: F401
ok = (version("tritonclient"), version("maturin"), version("onnxruntime")) == tuple(sys.argv[1:4])
sys.exit(0 if ok else 1)
PY
then
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "tritonclient[grpc]==${TRITONCLIENT_VERSION}" "maturin==${MATURIN_VERSION}" \
    "onnxruntime==${ORT_VERSION}" numpy pytest >&2
fi

# The Python package (crates/py + python/loadpart), built into the venv: `.loadpart/venv/bin/python
# -c "import loadpart"`. LOADPART_SETUP_PYTHON=0 skips it (scripts/test.sh builds the wheel itself).
if [ "${LOADPART_SETUP_PYTHON:-1}" != 0 ]; then
  (cd "$root" && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" \
    maturin develop --release --locked --quiet >&2)
fi

echo "loadpart setup: ONNX Runtime $ORT_VERSION in $home/lib, $(ls "$home/models/light"/*.onnx | wc -l) light models in $home/models/light, tritonclient $TRITONCLIENT_VERSION and maturin $MATURIN_VERSION in $venv" >&2
