#!/usr/bin/env bash
# A tour of the offline tools, from a fresh clone: install, build, then the cut space of a
# generated model and of a model-zoo ResNet-50, a split conformance check of every candidate cut on
# ONNX Runtime, profiles with predicted vs measured part times, and a plan. (The main job, a
# server with several devices, is scripts/demo.sh.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ONNX Runtime 1.31 otherwise keeps a telemetry database in ~/.cache shared by all processes;
# concurrent ORT processes were seen blocking on its lock.
export ORT_DISABLE_TELEMETRY=1
scripts/setup.sh
# All targets: the same features as scripts/test.sh, so either script reuses the other's build.
cargo build --release --workspace --all-targets --locked
lp=target/release/loadpart
out="${LOADPART_DEMO_OUT:-target/tour}"
mkdir -p "$out"
echo "== inspect: the cut space of a generated 4-branch inception model"
"$lp" inspect zoo:inception
echo
echo "== check-split: whole model vs head+tail at every candidate cut (batch 1 and 4)"
"$lp" check-split zoo:inception --batch 1,4
echo
echo "== check-split on the model-zoo ResNet-50 with seeded random weights (all cuts, batch 1)"
"$lp" check-split resnet50
echo
echo "== profile: device (batch 1) and server (batches 1,2,4,8) profiles of ResNet-50"
"$lp" profile resnet50 --batch-sizes 1 --runs 5 --validate-cuts 5 -o "$out/resnet50-device.json"
"$lp" profile resnet50 --batch-sizes 1,2,4,8 --runs 5 --anchors 8 --validate-cuts 5 -o "$out/resnet50-server.json"
echo
echo "== plan: the best cut for 20 Mbit/s, 5 ms RTT, a server queue of 20 ms, 1.5x slowdown, batch 4"
"$lp" plan resnet50 --device-profile "$out/resnet50-device.json" --server-profile "$out/resnet50-server.json" \
  --bandwidth 20mbit --rtt-ms 5 --queue-ms 20 --slowdown 1.5 --batch 4 --plot "$out/plan.svg"
echo "(plot: $out/plan.svg)"
