"""TLS and device tokens, with PyPI's tritonclient[grpc], against a running loadpart server.

Usage: python tritonclient_auth_check.py HOST:PORT CA.pem TOKEN CASE.json

CASE.json: {"model": NAME, "inputs": {NAME: {"shape": [...], "data": [...]}},
"expected": {NAME: {"shape": [...], "data": [...]}}}.

Over TLS (the server verified against CA.pem) with `authorization: Bearer TOKEN`, inference
must work and match the expected outputs within 1e-5 relative; with no token and with a wrong
one, ModelInfer and ModelMetadata must fail with UNAUTHENTICATED; a plaintext client to the same
port must fail (and not hang). Prints one JSON line with what it saw; exits non-zero otherwise.
"""
import json
import sys
import time

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


def status_of(fn):
    try:
        fn()
        return "OK", ""
    except InferenceServerException as e:
        return str(e.status()), e.message()


def main():
    url, ca, token, path = sys.argv[1:5]
    spec = json.load(open(path))
    model = spec["model"]
    good = {"authorization": f"Bearer {token}"}
    wrong = {"authorization": "Bearer " + "x" * len(token)}

    tls = grpcclient.InferenceServerClient(url=url, ssl=True, root_certificates=ca)
    inputs = []
    for name, t in spec["inputs"].items():
        arr = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
        i = grpcclient.InferInput(name, arr.shape, "FP32")
        i.set_data_from_numpy(arr)
        inputs.append(i)

    assert tls.is_server_live(headers=good), "not live"
    mmeta = tls.get_model_metadata(model, headers=good)
    result = tls.infer(model, inputs, headers=good, client_timeout=30)
    errors = []
    for name, t in spec["expected"].items():
        want = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
        got = result.as_numpy(name)
        assert got is not None and got.shape == want.shape, (name, got, want.shape)
        scale = max(float(np.abs(want).max()), 1e-30)
        errors.append(float(np.abs(got - want).max()) / scale)

    seen = {
        "tls_token_ok": True,
        "max_rel_err": max(errors),
        "outputs": [o.name for o in mmeta.outputs],
        "no_token_infer": status_of(lambda: tls.infer(model, inputs, client_timeout=30)),
        "no_token_metadata": status_of(lambda: tls.get_model_metadata(model)),
        "wrong_token_infer": status_of(
            lambda: tls.infer(model, inputs, headers=wrong, client_timeout=30)
        ),
        "wrong_token_metadata": status_of(lambda: tls.get_model_metadata(model, headers=wrong)),
    }
    plain = grpcclient.InferenceServerClient(url=url, ssl=False)
    t0 = time.monotonic()
    seen["plaintext_infer"] = status_of(
        lambda: plain.infer(model, inputs, headers=good, client_timeout=10)
    )
    seen["plaintext_s"] = round(time.monotonic() - t0, 3)
    # The server keeps serving after all of that.
    again = tls.infer(model, inputs, headers=good, client_timeout=30)
    seen["after_ok"] = again.as_numpy(list(spec["expected"])[0]) is not None
    print(json.dumps(seen))

    bad = []
    if max(errors) > 1e-5:
        bad.append(f"outputs differ: {errors}")
    for k in ["no_token_infer", "no_token_metadata", "wrong_token_infer", "wrong_token_metadata"]:
        if seen[k][0] != "StatusCode.UNAUTHENTICATED":
            bad.append(f"{k}: {seen[k]}")
    if seen["plaintext_infer"][0] == "OK":
        bad.append("a plaintext client was served on the TLS port")
    if bad:
        sys.exit("; ".join(bad))


if __name__ == "__main__":
    main()
