#!/usr/bin/env bash
# The main job, from a fresh clone: install what is needed (scripts/setup.sh: ONNX Runtime from
# PyPI, test models, a Python venv; all under ./.loadpart), build, then `loadpart demo`: an edge
# server and three emulated devices on this machine, 40 s of changing load and bandwidth, a live
# view of the cut each device picks, a summary table and an SVG timeline. Extra arguments go to
# `loadpart demo` (see `target/release/loadpart demo --help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ONNX Runtime 1.31 otherwise keeps a telemetry database in ~/.cache shared by all processes;
# concurrent ORT processes were seen blocking on its lock.
export ORT_DISABLE_TELEMETRY=1
scripts/setup.sh
# All targets: the same features as scripts/test.sh, so either script reuses the other's build.
cargo build --release --workspace --all-targets --locked
out="${LOADPART_DEMO_OUT:-target/demo}"
mkdir -p "$out"
target/release/loadpart demo --plot "$out/timeline.svg" --records "$out/records.jsonl" "$@"
