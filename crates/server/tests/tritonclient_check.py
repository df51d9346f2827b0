"""Standard-client check of a running loadpart server, with PyPI's tritonclient[grpc].

Usage: python tritonclient_check.py HOST:PORT CASES.json

CASES.json: {"model": NAME, "cases": [{"inputs": {NAME: {"shape": [...], "data": [...]}},
"expected": {NAME: {"shape": [...], "data": [...]}}}, ...]}. Each case is sent as a plain
ModelInfer (FP32 raw contents) and every output must match the expected one within 1e-5
relative to its largest magnitude. ServerMetadata, ModelMetadata and ModelStatistics must parse.
Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient


def main():
    url, path = sys.argv[1], sys.argv[2]
    spec = json.load(open(path))
    model = spec["model"]
    client = grpcclient.InferenceServerClient(url=url)
    assert client.is_server_live(), "not live"
    assert client.is_server_ready(), "not ready"
    assert client.is_model_ready(model), "model not ready"
    meta = client.get_server_metadata()
    assert meta.name == "loadpart", meta
    assert "statistics" in meta.extensions, meta
    mmeta = client.get_model_metadata(model)
    assert mmeta.name == model, mmeta
    out_names = [o.name for o in mmeta.outputs]

    errors = []
    for case in spec["cases"]:
        inputs = []
        for name, t in case["inputs"].items():
            arr = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
            i = grpcclient.InferInput(name, arr.shape, "FP32")
            i.set_data_from_numpy(arr)
            inputs.append(i)
        outputs = [grpcclient.InferRequestedOutput(n) for n in out_names]
        result = client.infer(model, inputs, outputs=outputs)
        for name, t in case["expected"].items():
            want = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
            got = result.as_numpy(name)
            assert got is not None and got.shape == want.shape, (name, got, want.shape)
            scale = max(float(np.abs(want).max()), 1e-30)
            errors.append(float(np.abs(got - want).max()) / scale)

    stats = client.get_inference_statistics(model)
    s = stats.model_stats[0]
    assert s.name == model, s
    assert s.inference_stats.success.count >= len(spec["cases"]), s
    print(json.dumps({
        "server": meta.name,
        "extensions": list(meta.extensions),
        "inputs": [(i.name, i.datatype, list(i.shape)) for i in mmeta.inputs],
        "outputs": [(o.name, o.datatype, list(o.shape)) for o in mmeta.outputs],
        "max_rel_err": max(errors),
        "success_count": s.inference_stats.success.count,
        "execution_count": s.execution_count,
    }))
    if max(errors) > 1e-5:
        sys.exit(f"outputs differ: relative errors {errors}")


if __name__ == "__main__":
    main()
