"""Type stubs of the Rust extension (crates/py). Checked against the module by
python/tests/test_stubs.py."""

from os import PathLike
from typing import Any, Mapping

import numpy as np
import numpy.typing as npt

__version__: str

class Error(Exception): ...
class CallerError(Error): ...
class ModelError(Error): ...
class EngineError(Error): ...
class InternalError(Error): ...

ArrayLike = npt.ArrayLike
Inputs = ArrayLike | Mapping[str, ArrayLike]

class Server:
    def __init__(
        self,
        model: str | PathLike[str] | list[str],
        listen: str = "127.0.0.1:0",
        *,
        engine: str = "ort",
        auto_profile: bool = True,
        profile_cache: str | PathLike[str] | None = None,
        max_batch: int = 8,
        max_delay_us: int = 0,
        admission: bool = True,
        max_queue: int = 256,
        default_timeout_ms: int = 10000,
        load_window_ms: int = 3000,
        executors: int = 1,
        threads: int = 0,
        spinning: bool = False,
        warm_cuts: str = "none",
        randomize_seed: int | None = None,
        tls_cert: str | PathLike[str] | None = None,
        tls_key: str | PathLike[str] | None = None,
        tokens: str | PathLike[str] | None = None,
        insecure_listen: bool = False,
        metrics_listen: str | None = None,
        fair_share: bool = True,
    ) -> None: ...
    @property
    def address(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def metrics_address(self) -> str | None: ...
    @property
    def models(self) -> list[str]: ...
    @property
    def running(self) -> bool: ...
    def load(self, model: str | None = None) -> dict[str, Any]: ...
    def wait(self) -> None: ...
    def stop(self) -> None: ...
    def __enter__(self) -> Server: ...
    def __exit__(self, ty: Any, value: Any, tb: Any) -> bool: ...

class Outcome:
    @property
    def outputs(self) -> dict[str, np.ndarray]: ...
    @property
    def output(self) -> np.ndarray: ...
    @property
    def cut(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def policy(self) -> str: ...
    @property
    def head_fraction(self) -> float: ...
    @property
    def predicted(self) -> dict[str, float]: ...
    @property
    def measured(self) -> dict[str, float | None]: ...
    @property
    def estimate(self) -> dict[str, float]: ...
    @property
    def sent_bytes(self) -> int: ...
    @property
    def received_bytes(self) -> int: ...
    @property
    def offloaded(self) -> bool: ...
    def to_dict(self) -> dict[str, Any]: ...

class Client:
    def __init__(
        self,
        server: Server | str,
        model: str,
        *,
        name: str | None = None,
        policy: str = "loadpart",
        device_slowdown: float | None = None,
        engine: str = "ort",
        threads: int = 1,
        randomize_seed: int | None = None,
        token: str | None = None,
        tls_ca: str | PathLike[str] | None = None,
        tls_domain: str | None = None,
        device_name: str | None = None,
        deadline_factor: float = 2.0,
        hysteresis: float = 0.0,
        profile_cache: str | PathLike[str] | None = None,
        wait_for_estimates_s: float = 3.0,
    ) -> None: ...
    def infer(self, x: Inputs, *, cut: str | None = None, policy: str | None = None) -> Outcome: ...
    def estimates(self) -> dict[str, float]: ...
    def stats(self) -> dict[str, int]: ...
    @property
    def inputs(self) -> list[str]: ...
    @property
    def outputs(self) -> list[str]: ...
    @property
    def identity(self) -> str: ...
    @property
    def policy(self) -> str: ...

def init_logging(level: str | None = None) -> bool: ...
def profile(
    model: str,
    *,
    role: str = "device",
    engine: str = "ort",
    threads: int = 1,
    max_batch: int = 8,
    randomize_seed: int | None = None,
    profile_cache: str | PathLike[str] | None = None,
) -> dict[str, Any]: ...
def inspect(model: str, *, cuts: bool = True, max_cuts_per_block: int = 10000) -> dict[str, Any]: ...
def plan(
    model: str,
    *,
    device_profile: Mapping[str, Any] | str | PathLike[str],
    server_profile: Mapping[str, Any] | str | PathLike[str],
    bandwidth_mbit: float,
    downlink_mbit: float | None = None,
    rtt_ms: float = 5.0,
    queue_ms: float = 0.0,
    slowdown: float = 1.0,
    batch: float = 1.0,
    device_slowdown: float = 1.0,
    policy: str = "loadpart",
    top: int = 5,
) -> dict[str, Any]: ...
def save_model(model: str, path: str | PathLike[str], *, randomize_seed: int | None = None) -> str: ...
