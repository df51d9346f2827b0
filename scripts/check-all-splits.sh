#!/usr/bin/env bash
# Issue-2 conformance sweep: every light model, every candidate cut, batch 1 and 4 (each cut
# loaded once, run at both sizes), on the given engines (default: ort tract). Writes
# results/check-split/MODEL-ENGINE.json (one report per batch size) and appends to sweep.log.
# Models already swept are skipped; delete a file to redo it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ONNX Runtime 1.31 otherwise keeps a telemetry database in ~/.cache shared by all processes;
# concurrent ORT processes were seen blocking on its lock.
export ORT_DISABLE_TELEMETRY=1
lp="${LOADPART_BIN:-target/release/loadpart}"
engines="${*:-ort tract}"
out="${LOADPART_SWEEP_OUT:-results/check-split}"
mkdir -p "$out"
for engine in $engines; do
  for model in squeezenet bvlc_alexnet zfnet512 inception_v1 resnet50 shufflenet inception_v2 densenet121 vgg19; do
    f="$out/$model-$engine.json"
    [ -s "$f" ] && continue
    start=$(date +%s)
    "$lp" check-split "$model" --engine "$engine" --batch 1,4 --json > "$f.tmp" 2> "$f.err"
    rc=$?
    mv "$f.tmp" "$f"
    [ -s "$f.err" ] || rm -f "$f.err"
    summary=$(python3 -c 'import json,sys
for r in json.load(open(sys.argv[1])):
    print("b%d: %d/%d cuts, max_rel_err %.2e, %d failures;" % (r["batch"], r["cuts_checked"], r["cuts_total"], r["max_rel_err"], len(r["failures"])), end=" ")' "$f" 2>/dev/null)
    echo "$model $engine rc=$rc $(( $(date +%s) - start ))s $summary" | tee -a "$out/sweep.log"
  done
done
