"""Python onnxruntime side of the engine bench (crates/engine/examples/vs_onnxruntime.rs).

A long-lived worker driven in lock step over stdin/stdout, one line per command:
  load PATH THREADS INPUT_NAME INPUT_FILE D0,D1,...   -> "ok VERSION [SWITCH=VALUE...]" (default SessionOptions
                                                        except intra_op_num_threads; the input
                                                        is raw little-endian f32)
  run                                                  -> "NANOSECONDS" (wall clock around
                                                        InferenceSession.run, outputs included)
  quit
Errors are answered as "err MESSAGE".

LOADPART_WORKER_EP_POLICY=NAME (an OrtExecutionProviderDevicePolicy member, e.g. MAX_EFFICIENCY)
sets that execution-provider selection policy, as the `ort` crate does for loadpart's sessions,
to measure what it costs. LOADPART_WORKER_SPINNING=0 turns intra-op spinning off (ONNX Runtime
spins by default), to compare like with like when loadpart's side does not spin.
"""
import os
import sys
import time

import numpy as np
import onnxruntime as ort

ort.set_default_logger_severity(3)  # errors only: no notes about unused initializers


def main():
    sess = feeds = None
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "load":
                path, threads, name, file, dims = parts[1:6]
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = int(threads)
                if os.environ.get("LOADPART_WORKER_SPINNING") == "0":
                    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                policy = os.environ.get("LOADPART_WORKER_EP_POLICY")
                if policy:
                    opts.set_provider_selection_policy(getattr(ort.OrtExecutionProviderDevicePolicy, policy))
                providers = None if policy else ["CPUExecutionProvider"]
                sess = ort.InferenceSession(path, opts, providers=providers)
                shape = [int(d) for d in dims.split(",")]
                feeds = {name: np.fromfile(file, dtype="<f4").reshape(shape)}
                changed = [f"{k}={v}" for k, v in os.environ.items() if k.startswith("LOADPART_WORKER_")]
                reply = " ".join(["ok", ort.__version__] + changed)
            elif parts[0] == "run":
                start = time.perf_counter_ns()
                outs = sess.run(None, feeds)
                reply = str(time.perf_counter_ns() - start)
                del outs
            elif parts[0] == "quit":
                return
            else:
                reply = f"err unknown command {parts[0]!r}"
        except Exception as e:  # reported to the driver, which stops
            reply = "err " + " ".join(str(e).split())
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
