"""The server from Python: its address, its load report, and the type stubs."""

from __future__ import annotations

import ast
import pathlib
import threading

import loadpart
from loadpart import _loadpart


def test_address_and_models(server):
    host, port = server.address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert server.url == f"http://{server.address}"
    assert server.models == ["inception"]
    assert server.running


def test_load_report(server):
    load = server.load()
    for key in ("queue_wait_mean_ms", "slowdown", "queue_length", "in_flight", "utilization"):
        assert key in load, key
    assert server.load("inception")["executors"] >= 1
    import pytest

    with pytest.raises(loadpart.CallerError):
        server.load("no_such_model")


def test_wait_returns_when_stopped_from_another_thread(model_path, profile_cache):
    s = loadpart.Server(model_path, profile_cache=profile_cache)
    threading.Timer(0.3, s.stop).start()
    s.wait()
    assert not s.running


def test_stubs_match_the_module():
    stub = pathlib.Path(loadpart.__file__).with_name("_loadpart.pyi")
    tree = ast.parse(stub.read_text())
    declared = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            declared[node.name] = {
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
        elif isinstance(node, ast.FunctionDef):
            declared[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared[node.target.id] = None
    public = {n for n in dir(_loadpart) if not n.startswith("_")} | {"__version__"}
    assert public == set(declared) - {"ArrayLike", "Inputs"}, public ^ set(declared)
    for name, methods in declared.items():
        if methods is None:
            continue
        cls = getattr(_loadpart, name)
        have = {m for m in dir(cls) if not m.startswith("_")}
        stubbed = {m for m in methods if not m.startswith("_")}
        if not issubclass(cls, BaseException):
            assert have == stubbed, (name, have ^ stubbed)


def test_ctrl_c_interrupts_wait_and_the_server_stops(model_path, profile_cache):
    import signal
    import subprocess
    import sys
    import time

    code = f"""
import loadpart, sys
with loadpart.Server({model_path!r}, profile_cache={profile_cache!r}) as s:
    print("ready", flush=True)
    try:
        s.wait()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    started = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert "interrupted" in out
    assert p.returncode != 0  # KeyboardInterrupt, after the with block stopped the server
    assert time.monotonic() - started < 10


def test_a_forked_child_gets_an_error_not_a_hang(server, model_path, profile_cache, sample):
    import multiprocessing as mp

    def child(q):
        try:
            loadpart.Client(server.address, model_path, profile_cache=profile_cache)
            q.put("no error")
        except RuntimeError as e:
            q.put(str(e))

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    msg = q.get(timeout=30)
    p.join(timeout=30)
    assert "fork" in msg, msg


def test_profile_and_plan(model_path, profile_cache):
    import pytest

    device = loadpart.profile(model_path, role="device", profile_cache=profile_cache)
    server = loadpart.profile(model_path, role="server", max_batch=4, profile_cache=profile_cache)
    assert device["model_hash"] == server["model_hash"] == loadpart.inspect(model_path)["hash"]
    fast = loadpart.plan(
        model_path, device_profile=device, server_profile=server, bandwidth_mbit=1000,
        device_slowdown=50,
    )
    for key in ("cut", "cut_id", "predicted_ms", "breakdown", "runners_up", "decision_us"):
        assert key in fast, key
    # A device 50x slower on a 1 Gbit/s link offloads; one as fast as the server behind
    # 0.1 Mbit/s and a queue of a second keeps the model.
    assert fast["position"]["head_fraction"] < 1.0
    slow = loadpart.plan(
        model_path, device_profile=device, server_profile=server, bandwidth_mbit=0.1,
        queue_ms=1000,
    )
    assert slow["position"]["head_fraction"] == 1.0
    with pytest.raises(loadpart.CallerError, match="uplink"):
        loadpart.plan(model_path, device_profile=device, server_profile=server, bandwidth_mbit=0)
