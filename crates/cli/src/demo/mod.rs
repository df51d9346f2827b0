//! `loadpart demo`: an edge server and several emulated devices on this machine, with load and
//! bandwidth that change while they run, so that one can watch each device move its cut.
//!
//! One job per file: `scenario` (the phases: link rates and synthetic load), `record` (what every
//! request did, and the summary table), `live` (the terminal view), `timeline` (the SVG).

pub mod live;
pub mod record;
pub mod scenario;
pub mod timeline;
