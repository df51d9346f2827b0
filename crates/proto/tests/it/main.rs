//! loadpart-proto's integration tests: our `.proto` definitions against the PyPI package
//! `tritonclient` (its generated descriptors, field by field, and a real call with its gRPC
//! client), and a tonic client/server round trip.
//!
//! The Python side runs in `.loadpart/venv` (created by scripts/setup.sh), or `$LOADPART_PYTHON`.

mod descriptors;
mod python;
mod roundtrip;
