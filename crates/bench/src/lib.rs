//! The evaluation harness and the demo: everything `loadpart bench` and `loadpart demo` run,
//! as a library, so that tests, scripts and bindings use the same code as the command line.
//!
//! - [`sweep`]: `bench run` and `bench report`, every policy measured under the same conditions
//!   over a grid of models, links, loads and device speeds, into a resumable results file, then
//!   tables and figures.
//! - [`population`]: `bench population`, populations of devices with their own clients and
//!   links, one policy per run, admission on and off, goodput and churn; [`users`]: `bench
//!   users`, the earlier closed-loop version.
//! - [`flood`]: `bench flood`, fair share against a flooding device.
//! - [`compare`]: `bench compare`, loadpart's pick against the planner's top cuts forced.
//! - [`client_overhead`]: `bench client-overhead`, what the device library adds per request.
//! - [`serving`]: `bench serving`, in-process inference against `loadpart serve` over gRPC.
//! - [`load`] over [`loadgen`]: `bench load`, open-loop synthetic devices; [`mix`], the cut mixes
//!   they send.
//! - [`summary`]: `bench summary`, the evaluation's headline over a paper-setting sweep, a
//!   product-setting sweep and a population experiment (`summary.md`, `summary.json`, figures).
//! - [`demo`]: the live demo of a server and several phones under changing load and links.
//! - Shared by them: [`embedded`] (a server on a thread of its own), [`pinning`] (server and
//!   devices on separate cores), [`remote_model`] (a device's server, model and credentials),
//!   [`profiles`] (cached profiles with progress), [`round_order`], [`progress`] and [`output`].
//!
//! Like a command line, the harness reports errors with `anyhow`: its errors end a run and are
//! read by a person. The pieces with typed errors live in the libraries it composes.
#![forbid(unsafe_code)]

pub mod client_overhead;
pub mod compare;
pub mod demo;
pub mod embedded;
pub mod flood;
pub mod jsonl;
pub mod load;
pub mod loadgen;
pub mod mix;
pub mod output;
pub mod pinning;
pub mod population;
pub mod profiles;
pub mod progress;
pub mod remote_model;
pub mod round_order;
pub mod serving;
pub mod summary;
pub mod sweep;
pub mod users;
