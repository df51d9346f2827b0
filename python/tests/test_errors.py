"""Errors as exceptions of their kind, with the Rust message; the server keeps serving."""

from __future__ import annotations

import numpy as np
import pytest

import loadpart


@pytest.fixture(scope="module")
def client(server, model_path, profile_cache):
    return loadpart.Client(server, model_path, policy="server", profile_cache=profile_cache)


def test_kinds_share_one_base():
    for kind in (loadpart.CallerError, loadpart.ModelError, loadpart.EngineError, loadpart.InternalError):
        assert issubclass(kind, loadpart.Error)


def test_a_wrong_shape_is_the_callers(client, sample):
    with pytest.raises(loadpart.CallerError, match="shape|input"):
        client.infer(np.zeros((1, 2, 3), dtype=np.float32))
    out = client.infer(sample)
    assert out.route == "offloaded", (out.route, out.reason)


def test_a_cut_that_does_not_exist(client, sample):
    with pytest.raises(loadpart.Error, match="cut"):
        client.infer(sample, cut="no_such_tensor")


def test_unknown_input_names_and_policies(client, sample):
    with pytest.raises(ValueError, match="no input"):
        client.infer({"nope": sample})
    with pytest.raises(loadpart.CallerError, match="policy"):
        client.infer(sample, policy="fastest")


def test_not_numbers(client):
    with pytest.raises((TypeError, ValueError)):
        client.infer(np.array([["a", "b"]]))


def test_a_missing_model_file(server, tmp_path):
    with pytest.raises(loadpart.Error, match="nothing.onnx"):
        loadpart.Client(server, str(tmp_path / "nothing.onnx"))


def test_another_model_than_the_servers(server, tmp_path, profile_cache):
    other = tmp_path / "inception.onnx"
    loadpart.save_model("zoo:inception", other, randomize_seed=12)
    with pytest.raises(loadpart.ModelError, match="identity"):
        loadpart.Client(server, str(other), profile_cache=profile_cache)


def test_bad_server_settings(model_path):
    with pytest.raises(loadpart.CallerError, match="listen"):
        loadpart.Server(model_path, listen="nowhere")
    with pytest.raises(loadpart.Error):
        loadpart.Server(model_path, executors=0, auto_profile=False)
