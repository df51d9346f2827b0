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
    /// The background load of each cell: with `background = "open"`, the load generator's
    /// offered rate as a fraction of the capacity measured at the start of the sweep; with
    /// `"closed"`, the server's utilization the closed-loop tenants are sized to (0 = idle
    /// server).
    pub loads: Vec<f64>,
    /// How the background load is made: `open` (Poisson arrivals of synthetic devices at a
    /// fixed rate: an overload beyond the capacity never clears) or `closed` (`tenants`
    /// tenants that wait for each answer, then think; their think time is set per model to
    /// reach each utilization, measured from the server's busy time).
    pub background: String,
    /// Closed-loop tenants (with `background = "closed"`).
    pub tenants: usize,
    /// Seconds per think time when the tenants' utilization curve is measured (a third to
    /// settle, the rest measured).
    pub tenant_probe_s: f64,
    /// Cells whose load varies within the cell, at the peak `varying_peak`, the same for every
    /// policy (they are measured round-robin): `square` (the peak and an idle server in turn,
    /// `square_period_s` a cycle) and `trace` (a seeded sequence of levels from 0 to the peak,
    /// a new one every `trace_step_s`).
    pub varying: Vec<String>,
    pub varying_peak: f64,
    pub square_period_s: f64,
    pub trace_step_s: f64,
    /// The server's admission control, run-wide (the background's requests and every policy's
    /// alike): on, a request predicted to miss its deadline is refused at once; off, a plain
    /// FCFS dynamic batcher where requests wait.
    pub admission: bool,
    /// The device's deadline for an offload: `2x-local` (twice its predicted local time) or
    /// `none` (a hard cap at ten times, whose hits fall back and count at full latency).
    pub deadline: String,
    /// One-way propagation delay of the device's link, ms (the linkem relay; netem is not in
    /// this kernel, so the test bed cannot add one).
    pub link_delay_ms: f64,
    /// The policies each round sends, in a fresh order each round.
    pub policies: Vec<String>,
    /// Per model, fixed cuts forced in every round of every cell, declared before the runs
    /// (the best fixed cut is chosen among them, local and full offload, on held-out
    /// repetitions); a model without an entry gets the planner's `top_cuts` best at the start
    /// of each cell instead.
    pub fixed_cuts: std::collections::BTreeMap<String, Vec<String>>,
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
            background: "open".into(),
            tenants: 16,
            tenant_probe_s: 3.0,
            varying: Vec::new(),
            varying_peak: 0.9,
            square_period_s: 8.0,
            trace_step_s: 2.0,
            admission: true,
            deadline: "2x-local".into(),
            link_delay_ms: 0.0,
            policies: super::policies::POLICIES
                .iter()
                .map(|p| p.to_string())
                .collect(),
            fixed_cuts: Default::default(),
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
        ensure!(
            matches!(self.background.as_str(), "open" | "closed"),
            "background must be open or closed"
        );
        ensure!(
            self.background == "open" || self.loads.iter().all(|l| *l <= 1.0),
            "with closed-loop tenants the loads are utilizations, at most 1"
        );
        ensure!(
            self.background == "closed" || self.varying.is_empty(),
            "varying loads need background = \"closed\""
        );
        ensure!(
            self.tenants >= 1 && self.tenant_probe_s > 0.0,
            "tenants and tenant_probe_s must be positive"
        );
        for v in &self.varying {
            ensure!(
                matches!(v.as_str(), "square" | "trace"),
                "varying: square and/or trace, not {v:?}"
            );
        }
        ensure!(
            (0.0..=1.0).contains(&self.varying_peak)
                && self.square_period_s > 0.0
                && self.trace_step_s > 0.0,
            "varying_peak must be from 0 to 1, the period and step positive"
        );
        ensure!(
            matches!(self.deadline.as_str(), "2x-local" | "none"),
            "deadline must be 2x-local or none"
        );
        ensure!(
            self.link_delay_ms.is_finite() && self.link_delay_ms >= 0.0,
            "link_delay_ms must be non-negative"
        );
        ensure!(
            self.link_delay_ms == 0.0 || self.link == "linkem",
            "a link delay needs link = \"linkem\" (netem is not in this kernel)"
        );
        ensure!(!self.policies.is_empty(), "no policies");
        for p in &self.policies {
            ensure!(
                p == "server-raw" || p.parse::<loadpart_plan::PolicyKind>().is_ok(),
                "policy {p:?} is not a policy"
            );
        }
        Ok(())
    }

    /// The cells of one model in the order they are run: repetitions outermost (so that the
    /// repetitions of a cell are spread over the model's run, not back to back), then device
    /// slowdown, bandwidth and load.
    pub fn cells(&self, model: &str) -> Vec<Cell> {
        let shapes: Vec<(f64, &str)> = self
            .loads
            .iter()
            .map(|&l| (l, "constant"))
            .chain(self.varying.iter().map(|v| (self.varying_peak, v.as_str())))
            .collect();
        let mut v = Vec::new();
        for rep in 0..self.repetitions {
            for &slowdown in &self.device_slowdowns {
                for &mbit in &self.bandwidths_mbit {
                    for &(load, shape) in &shapes {
                        v.push(Cell {
                            model: model.to_string(),
                            device_slowdown: slowdown,
                            mbit,
                            load,
                            shape: shape.to_string(),
                            rep,
                        });
                    }
                }
            }
        }
        v
    }

    /// The device deadline factor (on the predicted local time) of [`Sweep::deadline`].
    pub fn deadline_factor(&self) -> f64 {
        match self.deadline.as_str() {
            "none" => 10.0,
            _ => 2.0,
        }
    }
}

/// One measurement: a model at one bandwidth, load and device slowdown, one repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub model: String,
    pub device_slowdown: f64,
    pub mbit: f64,
    /// The background load (its peak when it varies).
    pub load: f64,
    /// `constant`, `square` or `trace` (see [`Sweep::varying`]).
    #[serde(default = "constant")]
    pub shape: String,
    pub rep: usize,
}

fn constant() -> String {
    "constant".into()
}

impl Cell {
    /// The key that identifies it in the results file (numbers printed exactly).
    pub fn key(&self) -> String {
        let shape = match self.shape.as_str() {
            "constant" => String::new(),
            s => format!("-{s}"),
        };
        format!(
            "{}|x{}|{}mbit|load{}{shape}|rep{}",
            self.model, self.device_slowdown, self.mbit, self.load, self.rep
        )
    }

    /// Whether the load varies within the cell.
    pub fn varies(&self) -> bool {
        self.shape != "constant"
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
    fn varying_cells_come_once_per_shape_at_the_peak() {
        let s: Sweep = toml::from_str(
            "models = [\"m\"]\nbackground = \"closed\"\nloads = [0, 0.6]\nvarying = [\"square\", \"trace\"]\nbandwidths_mbit = [20]\nrepetitions = 1",
        )
        .unwrap();
        s.check().unwrap();
        let cells = s.cells("m");
        let keys: Vec<String> = cells.iter().map(Cell::key).collect();
        assert_eq!(
            keys,
            [
                "m|x4|20mbit|load0|rep0",
                "m|x4|20mbit|load0.6|rep0",
                "m|x4|20mbit|load0.9-square|rep0",
                "m|x4|20mbit|load0.9-trace|rep0"
            ]
        );
        assert!(cells[2].varies() && !cells[1].varies());
        let open: Sweep = toml::from_str("models = [\"m\"]\nvarying = [\"square\"]").unwrap();
        assert!(open.check().is_err(), "varying needs closed-loop tenants");
        let delay: Sweep = toml::from_str("models = [\"m\"]\nlink_delay_ms = 10").unwrap();
        assert!(delay.check().is_err(), "a delay needs linkem");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Sweep>("models = [\"a\"]\nbandwidth = [1]").is_err());
    }
}
