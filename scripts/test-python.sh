#!/usr/bin/env bash
# The Python package's tests as a new user meets it: builds the wheel (maturin, release, abi3),
# installs it into a fresh virtual environment, where pip brings numpy and the pinned onnxruntime
# from PyPI, and runs python/tests there with pytest. Needs scripts/setup.sh's venv (maturin).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
home="${LOADPART_HOME:-$root/.loadpart}"
export ORT_DISABLE_TELEMETRY=1
rm -f target/wheels/loadpart-*.whl
"$home/venv/bin/maturin" build --release --locked --quiet --out target/wheels >&2
fresh="$home/pytest-venv"
rm -rf "$fresh"
python3 -m venv "$fresh"
"$fresh/bin/python" -m pip install --quiet --disable-pip-version-check target/wheels/loadpart-*.whl pytest
# From python/tests, not the repository root: `import loadpart` must find the installed wheel,
# never the source tree's python/loadpart (which has no compiled extension).
cd python/tests
exec "$fresh/bin/python" -m pytest -q -p no:cacheprovider "$@"
