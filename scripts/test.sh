#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (scripts/setup.sh), builds
# once in release (tests run real models) and runs every crate's tests with that build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ONNX Runtime 1.31 otherwise keeps a telemetry database in ~/.cache shared by all processes;
# concurrent ORT processes were seen blocking on its lock.
export ORT_DISABLE_TELEMETRY=1
scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Build exactly what the test run needs first (same profile and features, so nothing is rebuilt),
# then run it. Dev-dependencies change feature unification, so `cargo build` would not be reused.
cargo test --release --workspace --locked --no-run
cargo test --release --workspace --locked
