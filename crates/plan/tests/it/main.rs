//! The planner's integration tests, one binary.

mod behaviour;
mod exact;
mod fixtures;
mod hostile;
mod policies;
mod problem;
mod regressions;
