"""What `Client.infer` costs from Python beyond the Rust client, per request, in one run.

For each request, the Rust client measures its own wall time (`Outcome.measured["total"]`:
decide, head, encode, RPC, merge); Python measures the wall time around `client.infer`. The
difference is the binding: input conversion, releasing and retaking the GIL, the hop onto the
runtime, outputs handed to NumPy, the Outcome built. Prints a table; the issue's bound is 0.5 ms.

    .loadpart/venv/bin/python python/bench/overhead.py [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

import loadpart


def run(model: str, policy: str, requests: int, cache: str, server: loadpart.Server) -> dict:
    c = loadpart.Client(server, model, policy=policy, profile_cache=cache)
    shape = loadpart.inspect(model, cuts=False)["inputs"][0][1]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    for _ in range(20):
        c.infer(x)
    py_ms, rust_ms = [], []
    for _ in range(requests):
        t0 = time.perf_counter()
        o = c.infer(x)
        py_ms.append((time.perf_counter() - t0) * 1e3)
        rust_ms.append(o.measured["total"])
    over = [p - r for p, r in zip(py_ms, rust_ms)]
    return {
        "rust_p50": statistics.median(rust_ms),
        "py_p50": statistics.median(py_ms),
        "over_mean": statistics.fmean(over),
        "over_p50": statistics.median(over),
        "over_p95": sorted(over)[int(0.95 * len(over))],
        "route": o.route,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        models = {
            "zoo:inception (32x32)": f"{tmp}/inception.onnx",
            "squeezenet (224x224)": f"{tmp}/squeezenet.onnx",
        }
        loadpart.save_model("zoo:inception", models["zoo:inception (32x32)"], randomize_seed=3)
        loadpart.save_model("squeezenet", models["squeezenet (224x224)"], randomize_seed=3)
        print(f"| model | policy | route | Rust client p50 ms | Python infer p50 ms | overhead mean ms | p50 | p95 |")
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for label, path in models.items():
            with loadpart.Server(path, profile_cache=tmp) as server:
                for policy in ("local", "server"):
                    r = run(path, policy, args.requests, tmp, server)
                    print(
                        f"| {label} | {policy} | {r['route']} | {r['rust_p50']:.3f} | {r['py_p50']:.3f} "
                        f"| {r['over_mean']:.3f} | {r['over_p50']:.3f} | {r['over_p95']:.3f} |"
                    )


if __name__ == "__main__":
    main()
