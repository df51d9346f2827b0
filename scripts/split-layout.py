#!/usr/bin/env python3
"""Where a split's overhead comes from: head + tail against the whole model in Python
onnxruntime, with ONNX Runtime's layout optimizations on (ORT_ENABLE_ALL, its default: convolutions
run in a blocked NCHWc layout) and off (ORT_ENABLE_EXTENDED: plain NCHW throughout).

With layouts on, every tensor that crosses the cut leaves the head in NCHWc, is reordered to
NCHW to be a model output, and is reordered back at the tail's first convolution; the whole
model keeps it blocked. With layouts off there is nothing to reorder, so what overhead remains
is that of two runs instead of one. Workers do not spin (a spinning head pool would take the
cores from the tail), on both sides.

    scripts/split-layout.py WHOLE.onnx CUT_DIR... [--runs 30] [--threads 0]

Each CUT_DIR is what `loadpart split --cut ... -o CUT_DIR MODEL` writes (head.onnx, tail.onnx,
cut.json); WHOLE.onnx is the same prepared model (`loadpart split --cut INPUT -o DIR MODEL`
writes it as DIR/tail.onnx). Run on quiet, pinned cores (taskset); prints per cut and level the
median of per-run ratios (head + tail) / whole, then the mean over cuts.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def session(path, level, threads):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = threads
    # Each session has its own pool: spinning workers of the head would take the cores from
    # the tail that follows (as loadpart's device sessions, which share one sleeping pool).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def feed_for(sess, rng):
    feed = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feed[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("whole")
    ap.add_argument("cuts", nargs="+")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    levels = [
        ("layouts on (ALL)", ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
        ("layouts off (EXTENDED)", ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
    ]
    print(f"{'cut':>16}  " + "  ".join(f"{name:>24}" for name, _ in levels))
    means = {name: [] for name, _ in levels}
    for cut_dir in args.cuts:
        meta = json.load(open(os.path.join(cut_dir, "cut.json")))
        row = []
        for name, level in levels:
            whole = session(args.whole, level, args.threads)
            head = session(os.path.join(cut_dir, meta["head_file"]), level, args.threads)
            tail = session(os.path.join(cut_dir, meta["tail_file"]), level, args.threads)
            feed = feed_for(whole, rng)
            tail_names = [i.name for i in tail.get_inputs()]

            def split():
                outs = head.run(None, feed)
                got = dict(zip([o.name for o in head.get_outputs()], outs))
                tail.run(None, {n: got[n] for n in tail_names})

            ratios = []
            for k in range(args.runs + 3):
                order = [("w", lambda: whole.run(None, feed)), ("s", split)]
                if k % 2:
                    order.reverse()
                t = {}
                for key, f in order:
                    start = time.perf_counter()
                    f()
                    t[key] = time.perf_counter() - start
                if k >= 3:
                    ratios.append(t["s"] / t["w"])
            r = statistics.median(ratios)
            means[name].append(r)
            row.append(f"{r:>24.3f}")
        print(f"{','.join(meta['cut']):>16}  " + "  ".join(row), flush=True)
    print(f"{'mean':>16}  " + "  ".join(f"{statistics.mean(means[n]):>24.3f}" for n, _ in levels))


if __name__ == "__main__":
    main()
