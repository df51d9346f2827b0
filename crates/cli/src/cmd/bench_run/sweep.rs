//! The sweep: its TOML description, the grid of cells it spans, and the results file that makes
//! it resumable.
//!
//! A full sweep takes hours on two cores, so it must survive being stopped. The results file is
//! JSON lines, appended to: every cell repetition's requests are written in one `write` together
//! with a `done` line that closes them, so a repetition is either complete on disk or is run
//! again; lines of a repetition without its `done` line (a stop mid-write) are ignored.

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use super::record::Record;

/// What a sweep spans and how each cell is measured. Every key but `models` has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Models: paths, `zoo:NAME` or light model names.
    pub models: Vec<String>,
    /// Seeded random weights for every model (the light models ship constant weights, for which
    /// every input gives the same output and top-1 agreement would prove nothing). None keeps
    /// the weights.
    #[serde(default = "default_seed")]
    pub randomize_seed: Option<u64>,
    /// Link rates of the measured device, Mbit/s (both directions).
    #[serde(default = "default_bandwidths")]
    pub bandwidths_mbit: Vec<f64>,
    /// Offered load of the load generator, as fractions of the capacity measured at the start of
    /// the sweep (0 = idle server).
    #[serde(default = "default_loads")]
    pub loads: Vec<f64>,
    /// Device slowdowns against the server (each device run lasts its profiled time times this).
    #[serde(default = "default_slowdowns")]
    pub device_slowdowns: Vec<f64>,
    /// Repetitions of every cell (confidence intervals are over these).
    #[serde(default = "default_reps")]
    pub repetitions: usize,
    /// Requests per policy per cell repetition.
    #[serde(default = "default_requests")]
    pub requests: usize,
    /// The planner's top cuts forced in every cell (the best fixed cut in hindsight is the best
    /// of these).
    #[serde(default = "default_top")]
    pub top_cuts: usize,
    /// Seconds to wait after setting a cell's link rate and load before measuring: the server's
    /// load window and the client's estimates must forget the previous cell.
    #[serde(default = "default_settle")]
    pub settle_s: f64,
    /// Seconds of closed-loop full offloads to measure the server's capacity.
    #[serde(default = "default_capacity_s")]
    pub capacity_s: f64,
    /// The load generator's cut mix: `full`, `mid` or a cut id, optionally `@WEIGHT`
    /// (as `loadpart bench load --cut`).
    #[serde(default = "default_mix")]
    pub load_mix: Vec<String>,
    /// Device identities of the load generator.
    #[serde(default = "default_load_devices")]
    pub load_devices: usize,
    /// Deadline of each generated request, ms.
    #[serde(default = "default_load_timeout")]
    pub load_timeout_ms: u64,
    /// `auto` (the netns test bed when root and `tc` are available, else linkem), `testbed`
    /// or `linkem`.
    #[serde(default = "default_link")]
    pub link: String,
    /// Server port on the test bed.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Server executor threads (and its profile's).
    #[serde(default = "default_one")]
    pub server_threads: usize,
    /// Largest server batch.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Emulate every device run from the device profile (see `ClientConfig::emulate_from_profile`).
    #[serde(default = "default_true")]
    pub device_from_profile: bool,
    /// `ort` or `tract`.
    #[serde(default = "default_engine")]
    pub engine: String,
    /// Keep the client's circuit breaker. Off by default: the policies share one client, and
    /// one policy's failures (full offload of raw inputs past its deadline on a slow link, say)
    /// would open the breaker and send the next policies' requests local. Off, every request
    /// that fails falls back on its own and is counted for its own policy.
    #[serde(default)]
    pub breaker: bool,
    /// TLS and device tokens on the server, every client connecting with them (a throwaway CA
    /// made with the `openssl` command): what security costs. Fair share stays off either way.
    #[serde(default)]
    pub security: bool,
}

fn default_seed() -> Option<u64> {
    Some(7)
}
fn default_bandwidths() -> Vec<f64> {
    vec![5.0, 20.0, 100.0]
}
fn default_loads() -> Vec<f64> {
    vec![0.0, 0.5, 0.9, 1.5]
}
fn default_slowdowns() -> Vec<f64> {
    vec![4.0]
}
fn default_reps() -> usize {
    3
}
fn default_requests() -> usize {
    20
}
fn default_top() -> usize {
    3
}
fn default_settle() -> f64 {
    8.0
}
fn default_capacity_s() -> f64 {
    3.0
}
fn default_mix() -> Vec<String> {
    vec!["full@1".into(), "mid@1".into()]
}
fn default_load_devices() -> usize {
    16
}
fn default_load_timeout() -> u64 {
    2000
}
fn default_link() -> String {
    "auto".into()
}
fn default_port() -> u16 {
    18701
}
fn default_one() -> usize {
    1
}
fn default_max_batch() -> usize {
    8
}
fn default_true() -> bool {
    true
}
fn default_engine() -> String {
    "ort".into()
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

/// A line of the results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    /// A run of the harness started (a sweep may take several).
    Session {
        started_unix_s: u64,
        link: String,
        sweep: Box<Sweep>,
    },
    /// The capacity measured for a model when its first cell ran; later sessions reuse it.
    Capacity { model: String, per_s: f64 },
    /// One measured request.
    Request(Box<Record>),
    /// A cell repetition is complete: its requests are all above.
    Done {
        cell: Cell,
        key: String,
        link: String,
        capacity_per_s: f64,
        /// The load generator's offered rate (Poisson arrivals), requests/s.
        load_offered_per_s: f64,
        seconds: f64,
    },
}

/// The results file: what is done, and appending to it.
pub struct Results {
    path: PathBuf,
    done: HashSet<String>,
    capacities: BTreeMap<String, f64>,
}

impl Results {
    /// Opens (or creates) `path` and reads what earlier sessions completed.
    pub fn open(path: &Path) -> Result<Self> {
        let mut r = Self {
            path: path.to_path_buf(),
            done: HashSet::new(),
            capacities: BTreeMap::new(),
        };
        if path.exists() {
            for line in read_lines(path)? {
                match line {
                    Line::Done { key, .. } => {
                        r.done.insert(key);
                    }
                    Line::Capacity { model, per_s } => {
                        r.capacities.insert(model, per_s);
                    }
                    _ => {}
                }
            }
        } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(r)
    }

    pub fn is_done(&self, cell: &Cell) -> bool {
        self.done.contains(&cell.key())
    }

    pub fn done_count(&self) -> usize {
        self.done.len()
    }

    pub fn capacity(&self, model: &str) -> Option<f64> {
        self.capacities.get(model).copied()
    }

    /// Appends `lines` in one write, flushed to disk.
    pub fn append(&mut self, lines: &[Line]) -> Result<()> {
        let mut text = String::new();
        for l in lines {
            text.push_str(&serde_json::to_string(l)?);
            text.push('\n');
            match l {
                Line::Done { key, .. } => {
                    self.done.insert(key.clone());
                }
                Line::Capacity { model, per_s } => {
                    self.capacities.insert(model.clone(), *per_s);
                }
                _ => {}
            }
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        Ok(())
    }
}

/// Every readable line of a results file; a torn last line (a stop mid-write) is skipped.
pub fn read_lines(path: &Path) -> Result<Vec<Line>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The requests of completed cell repetitions, and the `done` lines.
pub fn completed(lines: Vec<Line>) -> (Vec<Record>, Vec<Line>) {
    let done: HashSet<String> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Done { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    let mut records = Vec::new();
    let mut dones = Vec::new();
    let mut seen = HashSet::new();
    for l in lines {
        match l {
            // A repetition written twice (a stop between its write and the next session's
            // read cannot cause it, but a hand-merged file can) counts once.
            Line::Request(r) if done.contains(&r.cell.key()) => records.push(*r),
            Line::Done { ref key, .. } if seen.insert(key.clone()) => dones.push(l),
            _ => {}
        }
    }
    (records, dones)
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
