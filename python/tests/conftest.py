"""Shared fixtures: a small generated model with random weights written to a file, and one
server of it for the module. Profiles go to a temporary cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

import loadpart


@pytest.fixture(scope="session")
def profile_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("profiles"))


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """zoo:inception (an inception block: multi-tensor cuts) with seeded random weights."""
    path = tmp_path_factory.mktemp("models") / "inception.onnx"
    loadpart.save_model("zoo:inception", path, randomize_seed=11)
    return str(path)


@pytest.fixture(scope="session")
def server(model_path: str, profile_cache: str):
    with loadpart.Server(model_path, profile_cache=profile_cache, metrics_listen=None) as s:
        yield s


@pytest.fixture(scope="session")
def sample(model_path: str) -> np.ndarray:
    info = loadpart.inspect(model_path, cuts=False)
    (name, shape), = info["inputs"]
    rng = np.random.default_rng(5)
    return rng.standard_normal(shape).astype(np.float32)


@pytest.fixture(scope="session")
def reference(model_path: str):
    """The `onnxruntime` package's outputs for an input (the same version the extension loads)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])

    def run(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {sess.get_inputs()[0].name: x})[0]

    return run


def pytest_configure(config):
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
