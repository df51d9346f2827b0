#!/usr/bin/env python3
"""Issue 11's judged table from `scripts/exp-client.sh` records (one JSON line per request).

Per condition (bandwidth x server load):
- loadpart's mean latency against the best of the forced top cuts' means, in the same run;
- for offloaded requests, mean measured against mean predicted end-to-end latency, for
  loadpart's own requests and for all variants, with the breakdown of where they differ.

    scripts/exp-client-table.py target/exp-client     # prints Markdown
"""
import json
import statistics
import sys
from pathlib import Path


def mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def total_pred(r):
    return sum(r["predicted"].values())


def offloaded(rs):
    return [r for r in rs if r["route"] == "offloaded"]


def parts(rs):
    """Mean measured/predicted ms of device, network, queue and server compute."""
    m = lambda f: mean([f(r) for r in rs]) / 1e3  # noqa: E731
    p = rs and {
        "device": (m(lambda r: r["measured"]["device_us"]), m(lambda r: r["predicted"]["device"])),
        "network": (
            m(lambda r: r["measured"]["network_us"]),
            m(lambda r: r["predicted"]["upload"] + r["predicted"]["download"] + r["predicted"]["rtt"]),
        ),
        "queue": (
            m(lambda r: r["measured"]["server"]["queue_us"] + r["measured"]["server"].get("part_us", 0)),
            m(lambda r: r["predicted"]["queue"]),
        ),
        "server": (
            m(lambda r: r["measured"]["server"]["compute_us"] + r["measured"]["server"]["decode_us"]),
            m(lambda r: r["predicted"]["server"] + r["predicted"]["decode"]),
        ),
    }
    return " ".join(f"{k} {a:.0f}/{b:.0f}" for k, (a, b) in p.items()) if p else "-"


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/exp-client")
    print(
        "| link | server | loadpart ms | best forced (cut) ms | ratio | loadpart offloaded "
        "| meas/pred (loadpart) | meas/pred (all offloaded) | fallbacks | breakdown meas/pred ms (all offloaded) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rate in (5, 20, 100):
        for load_ in ("idle", "loaded"):
            path = out / f"records-{rate}-{load_}.jsonl"
            if not path.exists():
                continue
            rs = load(path)
            by = {}
            for r in rs:
                by.setdefault(r["variant"], []).append(r)
            lp = by.get("loadpart", [])
            forced = {v: mean([r["measured"]["total_us"] for r in xs]) for v, xs in by.items() if v != "loadpart"}
            best_v = min(forced, key=forced.get)
            lp_mean = mean([r["measured"]["total_us"] for r in lp])
            lp_off = offloaded(lp)
            all_off = offloaded(rs)
            ratio = lambda xs: (  # noqa: E731
                mean([r["measured"]["total_us"] for r in xs]) / mean([total_pred(r) for r in xs]) if xs else float("nan")
            )
            fb = sum(1 for r in rs if r["route"] not in ("offloaded", "local"))
            print(
                f"| {rate} Mbit/s | {load_} | {lp_mean / 1e3:.1f} | {forced[best_v] / 1e3:.1f} ({best_v.split(' ', 1)[1]}) "
                f"| {lp_mean / forced[best_v]:.3f} | {len(lp_off)}/{len(lp)} | {ratio(lp_off):.3f} "
                f"| {ratio(all_off):.3f} (n={len(all_off)}) | {fb}/{len(rs)} | {parts(all_off)} |"
            )


if __name__ == "__main__":
    main()
