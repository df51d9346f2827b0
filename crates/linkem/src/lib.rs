//! Link emulation without root: a TCP relay on loopback that paces the bytes it forwards to a
//! bandwidth, each direction on its own, and delays them by a one-way latency.
//!
//! A device's link decides where it should cut its model, so experiments need links of known
//! speed. Where root is available, a network namespace with `tc` shapes the kernel's loopback
//! (see `scripts/testbed.sh`); where it is not (a newcomer's laptop, `loadpart demo`), clients
//! connect through a [`Relay`] instead. The relay is a real TCP path: gRPC, its flow control and
//! the client's bandwidth estimators all see a slow link, not a sleep inside the client. All
//! connections through one relay share its bandwidth, as devices behind one access link do, and
//! the shape can change while traffic flows ([`Relay::set_shape`]), so a demo can drop the
//! bandwidth mid-run.
//!
//! Pacing: every chunk read from one side is given a departure time
//! `max(previous departure, now) + bytes / rate` and written to the other side at
//! `departure + delay`. Few chunks are buffered, so TCP's own back-pressure slows the sender, as
//! a router's short queue would.
#![forbid(unsafe_code)]

mod pacer;
mod relay;

pub use pacer::{LinkShape, Pacer};
pub use relay::Relay;
