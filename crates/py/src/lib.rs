//! `loadpart._loadpart`: the Python face of loadpart, built by maturin into the `loadpart` wheel
//! (the pure-Python package in `python/loadpart` re-exports it with docs and type stubs).
//!
//! Thin by design: [`server::Server`] starts the same `loadpart_server` as `loadpart serve`,
//! [`client::Client`] is the same `loadpart_client::Client` as `loadpart infer`, and arrays cross
//! as NumPy arrays ([`arrays`]). Every blocking call releases the GIL and wakes every 100 ms to
//! let Ctrl-C through ([`blocking`]); errors become one exception class per kind ([`errors`]).
//! The library installs no signal handlers.
// PyO3's macros expand to unsafe FFI glue; this crate writes none itself.
#![allow(unsafe_code)]

mod arrays;
mod blocking;
mod client;
mod convert;
mod errors;
mod models;
mod profiles;
mod server;

use pyo3::prelude::*;

/// Sends loadpart's `tracing` logs to stderr, filtered by `level` (`RUST_LOG` syntax, e.g.
/// "info" or "loadpart_client=debug"); `None` reads `RUST_LOG`, else "warn". Once per process:
/// later calls change nothing and return False.
#[pyfunction]
#[pyo3(signature = (level=None))]
fn init_logging(level: Option<&str>) -> bool {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .is_ok()
}

#[pymodule]
fn _loadpart(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<server::Server>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Outcome>()?;
    m.add_function(wrap_pyfunction!(init_logging, m)?)?;
    m.add_function(wrap_pyfunction!(profiles::profile, m)?)?;
    m.add_function(wrap_pyfunction!(models::inspect, m)?)?;
    m.add_function(wrap_pyfunction!(models::save_model, m)?)?;
    m.add_function(wrap_pyfunction!(models::plan, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
