"""loadpart: load-aware, dynamic DNN partitioning and offloading.

Serve an ONNX model on an edge server, and offload from devices that pick, request by request,
where to cut the model: the layers before the cut run on the device, the tensors that cross it
go to the server (8-bit, compressed when that pays), the server runs the rest in batches with
other devices' requests. The cut minimises the predicted end-to-end latency from the device's
speed, the bandwidth now and the server's load now.

    import numpy as np, loadpart
    with loadpart.Server("model.onnx") as server:              # in one process
        client = loadpart.Client(server.address, "model.onnx")  # in another (or the same)
        out = client.infer(np.random.rand(1, 3, 224, 224))
        print(out.cut, out.route, out.measured["total"], out.output.argmax())

ONNX Runtime comes from the ``onnxruntime`` package: its own shared library is loaded by path
(set ``ORT_DYLIB_PATH`` to use another). Without it, the pure-Rust engine tract runs, with a
warning.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import importlib.util
import os
from typing import Any

__all__ = [
    "Server",
    "Client",
    "Outcome",
    "Error",
    "CallerError",
    "ModelError",
    "EngineError",
    "InternalError",
    "init_logging",
    "profile",
    "inspect",
    "plan",
    "save_model",
    "onnxruntime_library",
    "__version__",
]


def onnxruntime_library() -> str | None:
    """The shared library of the installed ``onnxruntime`` package, found without importing it
    (``onnxruntime/capi/libonnxruntime.so.*``), or None when the package is not installed."""
    try:
        spec = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        found = sorted(
            glob.glob(os.path.join(root, "capi", "libonnxruntime.so*"))
            + glob.glob(os.path.join(root, "capi", "libonnxruntime*.dylib"))
            + glob.glob(os.path.join(root, "capi", "onnxruntime.dll"))
        )
        # The versioned file (libonnxruntime.so.1.31.1), not the providers' shared library.
        found = [f for f in found if "providers" not in os.path.basename(f)]
        if found:
            return found[-1]
    return None


# Before the extension loads anything: a user's ORT_DYLIB_PATH wins, else the package's library.
if not os.environ.get("ORT_DYLIB_PATH"):
    _lib = onnxruntime_library()
    if _lib is not None:
        os.environ["ORT_DYLIB_PATH"] = _lib

from ._loadpart import (  # noqa: E402
    CallerError,
    EngineError,
    Error,
    InternalError,
    ModelError,
    Outcome,
    Server,
    __version__,
    init_logging,
    inspect,
    plan,
    profile,
    save_model,
)
from ._loadpart import Client as _Client  # noqa: E402


class Client(_Client):
    __doc__ = _Client.__doc__

    async def infer_async(
        self, x: Any, *, cut: str | None = None, policy: str | None = None
    ) -> Outcome:
        """``infer`` for asyncio: runs on the event loop's default executor (``infer`` releases
        the GIL, so the loop and other tasks keep running while it waits)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, functools.partial(self.infer, x, cut=cut, policy=policy)
        )
