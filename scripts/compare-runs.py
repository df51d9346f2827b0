#!/usr/bin/env python3
"""Compares two `loadpart bench run` results files cell by cell (the same grid, one setting
changed, e.g. security off and on): per policy and cell, the mean measured latency of each run
and their ratio; then per policy over all cells. Only completed cell repetitions count.

    scripts/compare-runs.py target/bench/security-false.jsonl target/bench/security-true.jsonl
"""
import json
import sys
from collections import defaultdict


def load(path):
    lines = [json.loads(l) for l in open(path)]
    done = {json.dumps(l["cell"], sort_keys=True) for l in lines if l["kind"] == "done"}
    out = defaultdict(list)
    for l in lines:
        if l["kind"] != "request":
            continue
        c = l["cell"]
        if json.dumps(c, sort_keys=True) not in done:
            continue
        out[(l["variant"], c["mbit"], c["load"])].append(l["measured"]["total"])
    return out


def mean(v):
    return sum(v) / len(v)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    keys = sorted(set(a) & set(b), key=lambda k: (k[0], k[1], k[2]))
    print(f"A = {sys.argv[1]}\nB = {sys.argv[2]}\n")
    print("| policy | Mbit/s | load | A mean ms | B mean ms | B / A |")
    print("|---|---:|---:|---:|---:|---:|")
    per_policy = defaultdict(lambda: ([], []))
    for k in keys:
        ma, mb = mean(a[k]), mean(b[k])
        per_policy[k[0]][0].append(ma)
        per_policy[k[0]][1].append(mb)
        print(f"| {k[0]} | {k[1]:g} | {k[2]:g} | {ma:.1f} | {mb:.1f} | {mb / ma:.3f} |")
    print("\n| policy | cells | A mean ms | B mean ms | B / A |")
    print("|---|---:|---:|---:|---:|")
    for p, (xa, xb) in sorted(per_policy.items()):
        print(f"| {p} | {len(xa)} | {mean(xa):.1f} | {mean(xb):.1f} | {mean(xb) / mean(xa):.3f} |")


if __name__ == "__main__":
    main()
