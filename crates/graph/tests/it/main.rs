//! Integration tests of loadpart-graph: one binary, one module per concern.
mod bad_input;
mod batch;
mod cuts;
mod extract;
mod identity;
mod light;
mod proto_bootstrap;
