#!/usr/bin/env bash
# Issue 11's judged experiment on the real-network test bed: ResNet-50 (seeded random weights) on
# a device 4x slower than the server, at 5, 20 and 100 Mbit/s, with an idle and a loaded server.
# Per condition, `loadpart bench compare` sends round after round of one `loadpart` request and
# one request at each of the planner's top 5 cuts, forced, through the same client; the load
# generator loads the server through the unshaped address. The server and the load generator are
# pinned to core 0 (other tenants' traffic is part of the server's load, and shows in its
# measured slowdown), the device alone to core 1: its runs are stretched 4x, so any CPU taken
# from it would be stretched too. Needs root.
#
#   scripts/exp-client.sh [ROUNDS] [OUT_DIR]
#
# Extra `bench compare` flags come from $COMPARE_ARGS, e.g. COMPARE_ARGS=--device-from-profile
# when the device's core cannot be kept quiet.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ORT_DISABLE_TELEMETRY=1
rounds="${1:-50}"
out="${2:-target/exp-client}"
mkdir -p "$out"
lp="$PWD/target/release/loadpart"
model=resnet50
seed=7
port=18601
ns=lp-exp
profile="$out/server-profile.json"
[[ -f "$profile" ]] || taskset -c 0 "$lp" profile "$model" --randomize-seed "$seed" --role server \
  --batch-sizes 1,2,4,8 --threads 1 --runs 5 --anchors 8 --validate-cuts 0 -o "$profile"
trap 'scripts/testbed.sh down "$ns"' EXIT
for rate in 5 20 100; do
  scripts/testbed.sh down "$ns"
  scripts/testbed.sh up "$ns" "$port" "${rate}mbit"
  scripts/testbed.sh exec "$ns" taskset -c 0 "$lp" serve --model "$model" --randomize-seed "$seed" \
    --profile "$profile" --threads 1 --listen "0.0.0.0:$port" --insecure-listen > "$out/serve-$rate.log" 2>&1 &
  server=$!
  for load in idle loaded; do
    gen=""
    if [[ $load == loaded ]]; then
      scripts/testbed.sh exec "$ns" taskset -c 0 "$lp" bench load --server "http://127.0.0.2:$port" \
        --model "$model" --randomize-seed "$seed" --capacity-fraction 0.9 --duration 600 \
        --devices 16 --json > "$out/load-$rate.json" 2>&1 &
      gen=$!
      # 3 s of capacity measurement, then one 3 s load window of the generated load.
      sleep 10
    fi
    echo "== $rate Mbit/s, $load server"
    scripts/testbed.sh exec "$ns" taskset -c 1 "$lp" bench compare --server "http://127.0.0.1:$port" \
      --model "$model" --randomize-seed "$seed" --device-slowdown 4 --rounds "$rounds" ${COMPARE_ARGS:-} \
      --records "$out/records-$rate-$load.jsonl" | tee "$out/table-$rate-$load.txt"
    [[ -n "$gen" ]] && { kill "$gen" 2>/dev/null || true; wait "$gen" 2>/dev/null || true; }
  done
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
done
