#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (scripts/setup.sh), builds
# once in release (tests run real models) and runs every crate's tests with that build, then the
# Python package's tests from its wheel (scripts/test-python.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ONNX Runtime 1.31 otherwise keeps a telemetry database in ~/.cache shared by all processes;
# concurrent ORT processes were seen blocking on its lock.
export ORT_DISABLE_TELEMETRY=1
# The Python package is built once, as a wheel, at the end (scripts/test-python.sh).
LOADPART_SETUP_PYTHON=0 scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Build every target once (tests, examples, benches, the binary). Building all targets unifies
# features exactly as the test run does, so `cargo test` and scripts/demo.sh reuse this build.
cargo build --release --workspace --all-targets --locked
# Lints: clippy's check build cannot reuse the release build (it builds metadata only); it shares
# the release profile's target directory so dependencies are checked once across runs.
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --locked -- -D warnings
cargo test --release --workspace --locked
# The Python package: its wheel installed into a fresh venv, and pytest there.
scripts/test-python.sh
