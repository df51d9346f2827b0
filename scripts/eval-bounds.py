#!/usr/bin/env python3
"""How much any policy could have gained on neurosurgeon in a sweep's results file: per loaded
cell, the mean latency reduction against neurosurgeon of loadpart, of the oracle (the planner
told the true link rate and the server's load as just polled), of the best fixed variant chosen
with hindsight on the same data (in-sample: optimistic), and of the best variant chosen with
hindsight separately for the requests decided at a backlog above and below the cell's median
(a phase-aware hindsight choice: more optimistic still). Reductions are 1 - mean/mean over the
cell's requests, pooled as a plain mean over cells (the report pools per repetition, so its
figures differ slightly).

    scripts/eval-bounds.py target/bench/paper-rerun.jsonl
"""

import collections
import json
import statistics
import sys


def mean(v):
    return sum(v) / len(v)


def main(path):
    recs = collections.defaultdict(list)
    for line in open(path):
        if '"kind":"request"' not in line:
            continue
        r = json.loads(line)
        c = r["cell"]
        if c["load"] == 0 and c["shape"] == "constant":
            continue  # no load: nothing to gain from load awareness
        cell = (c["model"], c["device_slowdown"], c["mbit"], c["load"], c["shape"])
        backlog = (r.get("load") or {}).get("backlog_ms") or 0.0
        recs[cell].append((r["variant"], backlog, r["measured"]["total"]))
    cols = ("loadpart", "oracle", "best fixed (hindsight)", "best per phase (hindsight)")
    print("| cell | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    rows = []
    for cell, rs in sorted(recs.items()):
        by = collections.defaultdict(list)
        for v, _, t in rs:
            by[v].append(t)
        ns = mean(by["neurosurgeon"])
        fixed = [mean(t) for v, t in by.items() if v.startswith("fixed") or v in ("local", "server")]
        med = statistics.median(b for _, b, _ in rs)
        phase = 0.0
        for half in (lambda b: b <= med, lambda b: b > med):
            part = collections.defaultdict(list)
            for v, b, t in rs:
                if half(b):
                    part[v].append(t)
            n = sum(len(t) for t in part.values())
            phase += n * min(mean(t) for t in part.values() if len(t) >= 5)
        phase /= len(rs)
        red = [100 * (1 - x / ns) for x in (mean(by["loadpart"]), mean(by["oracle"]), min(fixed), phase)]
        rows.append(red)
        name = f"{cell[0]} x{cell[1]:g} {cell[2]:g}M L{cell[3]:g}" + ("" if cell[4] == "constant" else f" {cell[4]}")
        print(f"| {name} | " + " | ".join(f"{x:.1f}" for x in red) + " |")
    pooled = [mean([r[i] for r in rows]) for i in range(len(cols))]
    print(f"| pooled over {len(rows)} cells | " + " | ".join(f"**{x:.1f}**" for x in pooled) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
