"""Inference from Python: outputs against the `onnxruntime` package on the same input, for
full local, a forced multi-tensor cut and the planner's own choice; a client in another
process; fallback after the server stops; asyncio; the GIL released while waiting."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import loadpart

# 8-bit cut tensors: outputs agree to about 1% of their range, and on the top-1 class.
CODEC_TOLERANCE = 0.03


def close_after_codec(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(got - want).max()) / scale
    assert err <= CODEC_TOLERANCE, f"max error {err:.4f} of the output range"
    assert np.array_equal(got.argmax(axis=-1), want.argmax(axis=-1))


def test_full_local_is_onnxruntime(server, model_path, profile_cache, sample, reference):
    c = loadpart.Client(server, model_path, policy="local", profile_cache=profile_cache)
    out = c.infer(sample)
    assert out.route == "local" and out.head_fraction == 1.0
    np.testing.assert_allclose(out.output, reference(sample), rtol=1e-4, atol=1e-5)
    assert out.measured["total"] > 0 and out.predicted["total"] > 0


def test_forced_multi_tensor_cut_offloads(server, model_path, profile_cache, sample, reference):
    cuts = loadpart.inspect(model_path)["cuts"]
    multi = [c for c in cuts if len(c["tensors"]) >= 2]
    assert multi, "zoo:inception has cuts through its branches"
    c = loadpart.Client(server, model_path, profile_cache=profile_cache)
    out = c.infer(sample, cut=multi[len(multi) // 2]["id"])
    assert out.route == "offloaded", out.reason
    assert out.sent_bytes > 0 and out.measured["server"] is not None
    close_after_codec(out.output, reference(sample))


def test_the_planner_chooses_with_a_slow_device(server, model_path, profile_cache, sample, reference):
    c = loadpart.Client(server, model_path, device_slowdown=20, profile_cache=profile_cache)
    for _ in range(3):
        out = c.infer(sample)
        assert out.route in ("offloaded", "local"), (out.route, out.reason)
        close_after_codec(out.output, reference(sample))
    assert c.stats()["fallbacks"] == 0
    e = c.estimates()
    assert e["rtt_ms"] > 0 and e["uplink_mbit_s"] > 0


def test_any_castable_dtype_and_strides(server, model_path, profile_cache, sample, reference):
    c = loadpart.Client(server, model_path, policy="local", profile_cache=profile_cache)
    strided = np.asfortranarray(sample.astype(np.float64))
    out = c.infer(strided)
    np.testing.assert_allclose(out.output, reference(sample), rtol=1e-4, atol=1e-5)
    named = c.infer({c.inputs[0]: sample.tolist()})
    np.testing.assert_allclose(named.output, reference(sample), rtol=1e-4, atol=1e-5)


def test_outputs_own_their_memory(server, model_path, profile_cache, sample):
    c = loadpart.Client(server, model_path, policy="local", profile_cache=profile_cache)
    y = c.infer(sample).output
    assert y.flags["C_CONTIGUOUS"] and y.flags["WRITEABLE"]
    y += 1  # a NumPy array like any other


def test_a_client_in_another_process(server, model_path, profile_cache, sample, reference):
    code = f"""
import json, sys, numpy as np, loadpart
x = np.array(json.loads(sys.stdin.read()), dtype=np.float32)
c = loadpart.Client({server.address!r}, {model_path!r}, policy="server",
                    profile_cache={profile_cache!r})
o = c.infer(x)
print(json.dumps({{"route": o.route, "y": o.output.tolist()}}))
"""
    r = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(sample.tolist()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["route"] == "offloaded"
    close_after_codec(np.array(got["y"], dtype=np.float32), reference(sample))


def test_results_come_back_after_the_server_stops(model_path, profile_cache, sample, reference):
    s = loadpart.Server(model_path, profile_cache=profile_cache)
    c = loadpart.Client(s, model_path, policy="server", profile_cache=profile_cache)
    assert c.infer(sample).route == "offloaded"
    s.stop()
    assert not s.running
    out = c.infer(sample)
    assert out.route in ("fallback", "local_only"), out.route
    assert out.reason
    np.testing.assert_allclose(out.output, reference(sample), rtol=1e-4, atol=1e-5)
    s.stop()  # idempotent


def test_infer_async(server, model_path, profile_cache, sample, reference):
    c = loadpart.Client(server, model_path, policy="server", profile_cache=profile_cache)

    async def two():
        return await asyncio.gather(c.infer_async(sample), c.infer_async(sample))

    for out in asyncio.run(two()):
        close_after_codec(out.output, reference(sample))


def test_the_gil_is_released_while_infer_waits(server, model_path, profile_cache, sample):
    # A device emulated 2000x slower runs the model for a long while: another Python thread must
    # keep running meanwhile. Bounds are relative to the thread's own tick rate, measured first
    # on this machine (a held GIL would leave it about one tick).
    c = loadpart.Client(
        server, model_path, policy="local", device_slowdown=2000, profile_cache=profile_cache
    )
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.2)
        rate = ticks / 0.2
        before = ticks
        started = time.perf_counter()
        c.infer(sample)
        took = time.perf_counter() - started
        during = ticks - before
    finally:
        done.set()
        t.join()
    expected = rate * took
    assert expected >= 20, f"the run ({took * 1e3:.1f} ms) was too short to tell"
    assert during >= expected / 4, (during, expected, took)


def test_ctrl_c_interrupts_a_long_infer(server, model_path, profile_cache):
    import signal

    code = f"""
import numpy as np, loadpart, time
c = loadpart.Client({server.address!r}, {model_path!r}, policy="local", device_slowdown=200000,
                    profile_cache={profile_cache!r})
x = np.zeros(loadpart.inspect({model_path!r}, cuts=False)["inputs"][0][1], np.float32)
print("ready", flush=True)
t = time.monotonic()
try:
    c.infer(x)
    print("finished", flush=True)
except KeyboardInterrupt:
    print(f"interrupted after {{time.monotonic() - t:.2f}} s", flush=True)
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert "interrupted" in out, out
    took = float(out.split("after ")[1].split(" s")[0])
    assert took < 5, out  # a 200000x device would take about a minute here
