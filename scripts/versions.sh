# The one place where the versions of what scripts/setup.sh installs are pinned. Sourced by
# setup.sh and bench-engine.sh (the Python onnxruntime the engine bench compares against must be
# the same version as the library the engine loads). Each can be overridden for one run with
# LOADPART_ORT_VERSION, LOADPART_ONNX_VERSION, LOADPART_TRITONCLIENT_VERSION, LOADPART_MATURIN_VERSION.
ORT_VERSION="${LOADPART_ORT_VERSION:-1.31.1}"
ONNX_VERSION="${LOADPART_ONNX_VERSION:-1.23.2}"
TRITONCLIENT_VERSION="${LOADPART_TRITONCLIENT_VERSION:-2.73.0}"
MATURIN_VERSION="${LOADPART_MATURIN_VERSION:-1.16.0}"
