//! A population experiment's description: its TOML file (committed before its runs: the grid
//! is fixed in advance) and the runs it spans.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

/// What a population experiment spans and how each run goes. Every key has a default
/// ([`Population::default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Population {
    /// The model: a path, `zoo:NAME` or a light model name.
    pub model: String,
    /// Seeded random weights (the light models ship constant weights).
    pub randomize_seed: Option<u64>,
    /// Population sizes: devices at once, each its own client.
    pub devices: Vec<usize>,
    /// `loadpart`, `neurosurgeon`, `local`, `server`, or `mix` (even devices `loadpart`, odd
    /// ones `neurosurgeon`): every device of a run uses the run's policy.
    pub policies: Vec<String>,
    /// Server admission control in each run: `true` (refuse predicted misses at once) and/or
    /// `false` (plain FCFS dynamic batcher).
    pub admission: Vec<bool>,
    /// Largest randomised hysteresis margin of `loadpart` devices (0: off).
    pub hysteresis: f64,
    /// Each device's link rate, Mbit/s both ways, device `i` taking entry `i mod len`.
    pub link_mbit: Vec<f64>,
    /// One-way propagation delay of every device's link (the linkem relay), ms.
    pub one_way_delay_ms: f64,
    /// Each device's slowdown against the server, device `i` taking entry `i mod len`.
    pub device_slowdowns: Vec<f64>,
    /// Frames per second each device is asked to process (Poisson arrivals, one slot: a
    /// frame that arrives while another waits replaces it, and the older one is dropped).
    pub frames_per_s: f64,
    /// Measured seconds of each run, after the warm-up.
    pub seconds: f64,
    /// Seconds of frames run before measuring (estimates and the server's windows settle).
    pub warmup_s: f64,
    /// Repetitions of every run.
    pub repetitions: usize,
    /// Seeds the arrival traces (the same for every policy and admission setting of a
    /// repetition) and the policies' order in each repetition.
    pub seed: u64,
    /// The device's deadline for an offload: `2x-local` (twice its predicted local time) or
    /// `none` (a hard cap at ten times, whose hits fall back and count at full latency).
    pub deadline: String,
    /// A frame meets its SLO when it finishes within this many times the device's best
    /// predicted latency on an idle server (its own link and slowdown, planner's best cut).
    pub slo_factor: f64,
    /// The server's intra-op threads.
    pub server_threads: usize,
    /// The server's largest batch.
    pub max_batch: usize,
    /// The server's queue bound (admission off waits in it).
    pub max_queue: usize,
    /// `ort` or `tract`.
    pub engine: String,
}

impl Default for Population {
    fn default() -> Self {
        Self {
            model: "zoo:mobilenet".into(),
            randomize_seed: Some(7),
            devices: vec![8, 16, 32],
            policies: vec!["loadpart".into(), "neurosurgeon".into(), "mix".into()],
            admission: vec![false, true],
            hysteresis: 0.1,
            link_mbit: vec![20.0, 50.0, 100.0],
            one_way_delay_ms: 10.0,
            device_slowdowns: vec![4.0, 10.0],
            frames_per_s: 2.0,
            seconds: 30.0,
            warmup_s: 6.0,
            repetitions: 3,
            seed: 1,
            deadline: "2x-local".into(),
            slo_factor: 1.5,
            server_threads: 1,
            max_batch: 8,
            max_queue: 1024,
            engine: "ort".into(),
        }
    }
}

/// One run: a population size, a policy, an admission setting, a repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub devices: usize,
    pub policy: String,
    pub admission: bool,
    pub rep: usize,
}

impl Run {
    /// The key that identifies it in the results file.
    pub fn key(&self) -> String {
        format!(
            "n{}|{}|admission-{}|rep{}",
            self.devices,
            self.policy,
            if self.admission { "on" } else { "off" },
            self.rep
        )
    }
}

impl Population {
    /// Reads and checks a population file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let p: Population =
            toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        p.check()?;
        Ok(p)
    }

    /// Every value in range, so that an experiment fails at once, not hours in.
    pub fn check(&self) -> Result<()> {
        ensure!(
            !self.devices.is_empty() && self.devices.iter().all(|&n| n >= 1),
            "devices: population sizes of at least 1"
        );
        ensure!(!self.policies.is_empty(), "no policies");
        for p in &self.policies {
            ensure!(
                p == "mix" || p.parse::<loadpart_plan::PolicyKind>().is_ok(),
                "policy {p:?}: a policy name or `mix`"
            );
        }
        ensure!(!self.admission.is_empty(), "admission: true and/or false");
        ensure!(
            (0.0..=1.0).contains(&self.hysteresis),
            "hysteresis must be from 0 to 1"
        );
        ensure!(
            !self.link_mbit.is_empty() && self.link_mbit.iter().all(|r| r.is_finite() && *r > 0.0),
            "link rates must be positive"
        );
        ensure!(
            self.one_way_delay_ms.is_finite() && self.one_way_delay_ms >= 0.0,
            "the delay must be non-negative"
        );
        ensure!(
            !self.device_slowdowns.is_empty()
                && self
                    .device_slowdowns
                    .iter()
                    .all(|s| s.is_finite() && *s >= 1.0),
            "device slowdowns must be at least 1"
        );
        ensure!(
            self.frames_per_s.is_finite() && self.frames_per_s > 0.0,
            "frames_per_s must be positive"
        );
        ensure!(
            self.seconds > 0.0 && self.warmup_s >= 0.0,
            "seconds must be positive and warmup_s non-negative"
        );
        ensure!(self.repetitions >= 1, "repetitions must be at least 1");
        ensure!(
            matches!(self.deadline.as_str(), "2x-local" | "none"),
            "deadline must be 2x-local or none"
        );
        ensure!(self.slo_factor >= 1.0, "slo_factor must be at least 1");
        ensure!(
            self.max_batch >= 1 && self.max_queue >= 1,
            "max_batch and max_queue must be at least 1"
        );
        Ok(())
    }

    /// The device deadline factor (on the predicted local time) of [`Population::deadline`].
    pub fn deadline_factor(&self) -> f64 {
        match self.deadline.as_str() {
            "none" => 10.0,
            _ => 2.0,
        }
    }

    /// The runs in the order they are made: repetitions outermost, then population sizes and
    /// admission settings, and the policies in a seeded order of their own per repetition, so
    /// that no policy always runs first (after the machine was idle) or last.
    pub fn runs(&self) -> Vec<Run> {
        let mut v = Vec::new();
        for rep in 0..self.repetitions {
            let order = crate::round_order::round_order(self.policies.len(), rep, self.seed);
            for &devices in &self.devices {
                for &admission in &self.admission {
                    for &k in &order {
                        v.push(Run {
                            devices,
                            policy: self.policies[k].clone(),
                            admission,
                            rep,
                        });
                    }
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_span_the_grid() {
        let p = Population::default();
        p.check().unwrap();
        let runs = p.runs();
        assert_eq!(runs.len(), 3 * 3 * 2 * 3);
        let keys: std::collections::HashSet<String> = runs.iter().map(Run::key).collect();
        assert_eq!(keys.len(), runs.len(), "every run once");
        assert_eq!(runs[0].rep, 0);
        assert_eq!(p.deadline_factor(), 2.0);
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(toml::from_str::<Population>("devicez = [4]").is_err());
        let p: Population = toml::from_str("policies = [\"nope\"]").unwrap();
        assert!(p.check().is_err());
        let p: Population = toml::from_str("deadline = \"3x\"").unwrap();
        assert!(p.check().is_err());
    }
}
