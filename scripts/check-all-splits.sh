#!/usr/bin/env bash
# Issue-2 conformance sweep: every light model, every candidate cut, batch 1 and 4, on the given
# engines (default: ort tract). Writes results/check-split/MODEL-ENGINE-bBATCH.json and a summary.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ONNX Runtime 1.31 otherwise keeps a telemetry database in ~/.cache shared by all processes;
# concurrent ORT processes were seen blocking on its lock.
export ORT_DISABLE_TELEMETRY=1
lp=target/release/loadpart
engines="${*:-ort tract}"
out=results/check-split
mkdir -p "$out"
for engine in $engines; do
  for model in squeezenet bvlc_alexnet zfnet512 inception_v1 resnet50 shufflenet inception_v2 densenet121 vgg19; do
    for batch in 1 4; do
      f="$out/$model-$engine-b$batch.json"
      [ -s "$f" ] && continue
      start=$(date +%s)
      "$lp" check-split "$model" --engine "$engine" --batch "$batch" --json > "$f.tmp" 2> "$f.err"
      rc=$?
      mv "$f.tmp" "$f"
      echo "$model $engine b$batch rc=$rc $(( $(date +%s) - start ))s $(grep -E '"(cuts_checked|max_rel_err)"' "$f" | tr -d ' \n')"
    done
  done
done
