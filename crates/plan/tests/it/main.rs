//! The planner's integration tests, one binary.

mod behaviour;
mod exact;
mod fixtures;
mod policies;
mod problem;
mod regressions;
