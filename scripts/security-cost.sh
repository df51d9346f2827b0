#!/usr/bin/env bash
# What TLS and device tokens cost a request, measured directly: two `loadpart serve` of the same
# model, one plaintext and one with TLS and tokens, both pinned to core 0; `loadpart bench load`
# on core 1 measures each server's capacity (closed-loop full offloads) and then sends full
# offloads at a low rate (no queue, so latency is the per-request cost), alternating between
# the servers ROUNDS times so that drift hits both alike. Needs root-free loopback, `openssl`
# and a release build. Prints one line per run, then the medians per setting.
#
#   scripts/security-cost.sh                       # squeezenet, 3 rounds
#   MODEL=resnet50 RATE=3 ROUNDS=5 scripts/security-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/loadpart}
MODEL=${MODEL:-squeezenet}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-10}        # requests/s of the latency runs
SECONDS_PER_RUN=${SECONDS_PER_RUN:-15}
export ORT_DISABLE_TELEMETRY=1

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# A throwaway CA and a certificate for localhost (as crates/testkit's test_pki makes them).
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
(
    cd "$dir"
    openssl req -x509 -nodes -days 1 -subj "/CN=loadpart cost CA" "${ec[@]}" \
        -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -nodes -subj /CN=localhost "${ec[@]}" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
        -extfile server.ext -out server.pem 2>/dev/null
)
token=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
echo "device $token" > "$dir/tokens.txt"

serve() { # port, extra flags...
    local port=$1
    shift
    taskset -c 0 "$BIN" serve --model "$MODEL" --randomize-seed 7 --listen "127.0.0.1:$port" \
        --metrics-listen off --threads 1 --spinning off --auto-profile=false "$@" \
        >"$dir/serve-$port.log" 2>&1 &
    pids+=($!)
}
serve 18811
serve 18812 --tls-cert "$dir/server.pem" --tls-key "$dir/server.key" --tokens "$dir/tokens.txt"
for port in 18811 18812; do
    for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.5
    done
done
sleep 1

load() { # setting, extra args...
    local setting=$1
    shift
    taskset -c 1 "$BIN" bench load --model "$MODEL" --randomize-seed 7 --cut full --json "$@"
}
plain=(--server http://127.0.0.1:18811 --devices 1)
secure=(--server https://127.0.0.1:18812 --tls-ca "$dir/ca.pem" --tls-domain localhost
    --tokens-file "$dir/tokens.txt")

echo "setting run capacity_per_s latency_ms_p50 latency_ms_p99 ok"
for r in $(seq "$ROUNDS"); do
    for setting in plain secure; do
        if [ $setting = plain ]; then args=("${plain[@]}"); else args=("${secure[@]}"); fi
        cap=$(load $setting "${args[@]}" --capacity-fraction 0.05 --duration 1 |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["capacity_per_s"])')
        lat=$(load $setting "${args[@]}" --rate "$RATE" --duration "$SECONDS_PER_RUN" |
            python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["latency_ms_p50"], d["latency_ms_p99"], d["ok"])')
        echo "$setting $r $cap $lat"
    done
done | tee "$dir/runs.txt"
python3 - "$dir/runs.txt" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if not l.startswith("setting")]
med = {}
for s in ("plain", "secure"):
    rs = [r for r in rows if r[0] == s]
    med[s] = [statistics.median(float(r[i]) for r in rs) for i in (2, 3, 4)]
    print(f"{s}: median capacity {med[s][0]:.1f}/s, p50 {med[s][1]:.2f} ms, p99 {med[s][2]:.2f} ms")
print(f"secure / plain: capacity {med['secure'][0] / med['plain'][0]:.3f}, "
      f"p50 {med['secure'][1] / med['plain'][1]:.3f}, p99 {med['secure'][2] / med['plain'][2]:.3f}")
EOF
