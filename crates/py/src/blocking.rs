//! Blocking calls from Python: one tokio runtime per process, futures run with the GIL released,
//! and a wake-up every 100 ms to let Ctrl-C (or any pending signal handler) through.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::internal_error;

/// How often a blocked call looks at Python's pending signals.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The process's runtime and the process it was started in: its threads do not survive a fork.
static RUNTIME: OnceLock<Result<(u32, Runtime), String>> = OnceLock::new();

/// The runtime every server and client of this process shares; an error in a forked child
/// instead of a hang on threads that are not there.
pub fn runtime() -> PyResult<&'static Runtime> {
    let started = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("loadpart")
            .build()
            .map(|rt| (std::process::id(), rt))
            .map_err(|e| e.to_string())
    });
    match started {
        Ok((pid, rt)) if *pid == std::process::id() => Ok(rt),
        Ok(_) => Err(PyRuntimeError::new_err(
            "loadpart was in use before this process forked, and its threads do not survive a \
             fork: create servers and clients in the child, or start children with \
             multiprocessing's 'spawn' or 'forkserver' method",
        )),
        Err(e) => Err(internal_error(format!("starting the async runtime: {e}"))),
    }
}

/// Runs `fut` to completion with the GIL released. Between 100 ms slices it takes the GIL back
/// to run Python's signal handlers: a KeyboardInterrupt cancels `fut` and is raised.
pub fn run_blocking<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = PyResult<T>> + Send + 'static,
{
    let rt = runtime()?;
    let mut handle = rt.spawn(fut);
    loop {
        let slice = py.detach(|| {
            rt.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut handle).await })
        });
        match slice {
            Ok(Ok(result)) => return result,
            Ok(Err(join)) => return Err(internal_error(format!("the call stopped: {join}"))),
            Err(_) => {
                if let Err(e) = py.check_signals() {
                    handle.abort();
                    return Err(e);
                }
            }
        }
    }
}
