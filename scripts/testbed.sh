#!/usr/bin/env bash
# The real-network test bed: a network namespace whose loopback is rate-limited on one server
# port, so that a server and its devices run over a real bandwidth-limited link (kernel TCP,
# real queues) while a load generator reaches the same server unshaped.
#
#   scripts/testbed.sh up NS PORT RATE   # create namespace NS; shape traffic to and from
#                                        # 127.0.0.1:PORT at RATE (tc units: 20mbit) each way
#   scripts/testbed.sh rate NS RATE      # change the rate
#   scripts/testbed.sh exec NS CMD...    # run CMD inside NS
#   scripts/testbed.sh down NS           # remove NS (and everything in it)
#
# Inside NS, serve on 0.0.0.0:PORT (with --insecure-listen: the namespace has only loopback). Devices connect to 127.0.0.1:PORT (shaped: htb classes on
# `lo` with u32 filters on the destination address and port for uploads, and on the source
# address and port for downloads); the load generator connects to 127.0.0.2:PORT, which the
# filters do not match. `lo`'s MTU is set to 1500 first, as on a real link (with loopback's
# 64 KiB MTU a few packets would fill the shaper's burst). Needs root; netem is not used.
set -euo pipefail
cmd="${1:-}"
ns="${2:-}"
[[ -n "$cmd" && -n "$ns" ]] || { sed -n '2,17p' "$0"; exit 2; }
[[ $(id -u) == 0 ]] || { echo "testbed.sh needs root (network namespaces and tc)" >&2; exit 3; }

shape() {
  local port="$1" rate="$2" verb="$3"
  tc -n "$ns" class "$verb" dev lo parent 1:1 classid 1:20 htb rate "$rate" ceil "$rate" burst 16k cburst 16k quantum 1514
  tc -n "$ns" class "$verb" dev lo parent 1:1 classid 1:30 htb rate "$rate" ceil "$rate" burst 16k cburst 16k quantum 1514
}

case "$cmd" in
  up)
    port="${3:?port}"; rate="${4:?rate}"
    ip netns add "$ns"
    ip -n "$ns" link set lo mtu 1500
    ip -n "$ns" link set lo up
    tc -n "$ns" qdisc add dev lo root handle 1: htb default 10
    tc -n "$ns" class add dev lo parent 1: classid 1:1 htb rate 100gbit quantum 200000
    tc -n "$ns" class add dev lo parent 1:1 classid 1:10 htb rate 100gbit quantum 200000
    shape "$port" "$rate" add
    # Uploads: to 127.0.0.1:PORT. Downloads: from 127.0.0.1:PORT.
    tc -n "$ns" filter add dev lo protocol ip parent 1: prio 1 u32 \
      match ip dst 127.0.0.1/32 match ip dport "$port" 0xffff flowid 1:20
    tc -n "$ns" filter add dev lo protocol ip parent 1: prio 1 u32 \
      match ip src 127.0.0.1/32 match ip sport "$port" 0xffff flowid 1:30
    ;;
  rate)
    rate="${3:?rate}"
    shape 0 "$rate" change
    ;;
  exec)
    shift 2
    exec ip netns exec "$ns" "$@"
    ;;
  down)
    ip netns del "$ns" 2>/dev/null || true
    ;;
  *)
    sed -n '2,17p' "$0"; exit 2
    ;;
esac
