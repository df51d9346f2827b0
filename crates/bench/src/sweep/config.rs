//! The sweep's description: its TOML file and the grid of cells it spans.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

/// What a sweep spans and how each cell is measured. Every key but `models` has a default
/// ([`Sweep::default`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sweep {
    /// Models: paths, `zoo:NAME` or light model names.
    pub models: Vec<String>,
    /// Seeded random weights for every model (the light models ship constant weights, for which
    /// every input gives the same output and top-1 agreement would prove nothing). None keeps
    /// the weights.
    pub randomize_seed: Option<u64>,
    /// Link rates of the measured device, Mbit/s (both directions).
    pub bandwidths_mbit: Vec<f64>,
    /// Offered load of the load generator, as fractions of the capacity measured at the start of
    /// the sweep (0 = idle server).
    pub loads: Vec<f64>,
    /// Device slowdowns against the server (each device run lasts its profiled time times this).
    pub device_slowdowns: Vec<f64>,
    /// Repetitions of every cell (confidence intervals are over these).
    pub repetitions: usize,
    /// Requests per policy per cell repetition.
    pub requests: usize,
    /// The planner's top cuts forced in every cell (the best fixed cut in hindsight is the best
    /// of these).
    pub top_cuts: usize,
    /// Seconds to wait after setting a cell's link rate and load before measuring: the server's
    /// load window and the client's estimates must forget the previous cell.
    pub settle_s: f64,
    /// Seconds of closed-loop full offloads to measure the server's capacity.
    pub capacity_s: f64,
    /// The load generator's cut mix: `full`, `mid` or a cut id, optionally `@WEIGHT`
    /// (as `loadpart bench load --cut`).
    pub load_mix: Vec<String>,
    /// Device identities of the load generator.
    pub load_devices: usize,
    /// Deadline of each generated request, ms.
    pub load_timeout_ms: u64,
    /// `auto` (the netns test bed when root and `tc` are available, else linkem), `testbed`
    /// or `linkem`.
    pub link: String,
    /// Server port on the test bed.
    pub port: u16,
    /// Server executor threads (and its profile's).
    pub server_threads: usize,
    /// Largest server batch.
    pub max_batch: usize,
    /// Emulate every device run from the device profile (see `ClientConfig::emulate_from_profile`).
    pub device_from_profile: bool,
    /// `ort` or `tract`.
    pub engine: String,
    /// Keep the client's circuit breaker. Off by default: the policies share one client, and
    /// one policy's failures (full offload of raw inputs past its deadline on a slow link, say)
    /// would open the breaker and send the next policies' requests local. Off, every request
    /// that fails falls back on its own and is counted for its own policy.
    pub breaker: bool,
    /// TLS and device tokens on the server, every client connecting with them (a throwaway CA
    /// made with the `openssl` command): what security costs. Fair share stays off either way.
    pub security: bool,
}

impl Default for Sweep {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            randomize_seed: Some(7),
            bandwidths_mbit: vec![5.0, 20.0, 100.0],
            loads: vec![0.0, 0.5, 0.9, 1.5],
            device_slowdowns: vec![4.0],
            repetitions: 3,
            requests: 20,
            top_cuts: 3,
            settle_s: 8.0,
            capacity_s: 3.0,
            load_mix: vec!["full@1".into(), "mid@1".into()],
            load_devices: 16,
            load_timeout_ms: 2000,
            link: "auto".into(),
            port: 18701,
            server_threads: 1,
            max_batch: 8,
            device_from_profile: true,
            engine: "ort".into(),
            breaker: false,
            security: false,
        }
    }
}

impl Sweep {
    /// Reads and checks a sweep file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let s: Sweep = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        s.check()?;
        Ok(s)
    }

    /// Every value in range, so that a sweep fails at once, not hours in.
    pub fn check(&self) -> Result<()> {
        ensure!(!self.models.is_empty(), "no models");
        ensure!(!self.bandwidths_mbit.is_empty(), "no bandwidths");
        ensure!(!self.loads.is_empty(), "no load levels");
        ensure!(!self.device_slowdowns.is_empty(), "no device slowdowns");
        ensure!(
            self.bandwidths_mbit
                .iter()
                .all(|b| b.is_finite() && *b > 0.0),
            "bandwidths must be positive"
        );
        ensure!(
            self.loads.iter().all(|l| l.is_finite() && *l >= 0.0),
            "loads must be non-negative"
        );
        ensure!(
            self.device_slowdowns
                .iter()
                .all(|s| s.is_finite() && *s >= 1.0),
            "device slowdowns must be at least 1"
        );
        ensure!(self.repetitions >= 1, "repetitions must be at least 1");
        ensure!(self.requests >= 1, "requests must be at least 1");
        ensure!(
            self.settle_s >= 0.0 && self.capacity_s > 0.0,
            "settle_s must be >= 0 and capacity_s > 0"
        );
        ensure!(
            matches!(self.link.as_str(), "auto" | "testbed" | "linkem"),
            "link must be auto, testbed or linkem"
        );
        ensure!(self.max_batch >= 1, "max_batch must be at least 1");
        Ok(())
    }

    /// The cells of one model in the order they are run: repetitions outermost (so that the
    /// repetitions of a cell are spread over the model's run, not back to back), then device
    /// slowdown, bandwidth and load.
    pub fn cells(&self, model: &str) -> Vec<Cell> {
        let mut v = Vec::new();
        for rep in 0..self.repetitions {
            for &slowdown in &self.device_slowdowns {
                for &mbit in &self.bandwidths_mbit {
                    for &load in &self.loads {
                        v.push(Cell {
                            model: model.to_string(),
                            device_slowdown: slowdown,
                            mbit,
                            load,
                            rep,
                        });
                    }
                }
            }
        }
        v
    }
}

/// One measurement: a model at one bandwidth, load and device slowdown, one repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub model: String,
    pub device_slowdown: f64,
    pub mbit: f64,
    pub load: f64,
    pub rep: usize,
}

impl Cell {
    /// The key that identifies it in the results file (numbers printed exactly).
    pub fn key(&self) -> String {
        format!(
            "{}|x{}|{}mbit|load{}|rep{}",
            self.model, self.device_slowdown, self.mbit, self.load, self.rep
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_a_minimal_file() {
        let s: Sweep = toml::from_str("models = [\"zoo:chain\"]").unwrap();
        s.check().unwrap();
        assert_eq!(s.cells("zoo:chain").len(), 3 * 4 * 3);
        assert_eq!(s.cells("m")[0].rep, 0);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Sweep>("models = [\"a\"]\nbandwidth = [1]").is_err());
    }
}
