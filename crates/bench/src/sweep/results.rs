//! The results file that makes a sweep resumable.
//!
//! A full sweep takes hours on two cores, so it must survive being stopped. The results file is
//! JSON lines, appended to: every cell repetition's requests are written in one `write` together
//! with a `done` line that closes them, so a repetition is either complete on disk or is run
//! again; lines of a repetition without its `done` line (a stop mid-write) are ignored.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::config::{Cell, Sweep};
use super::record::Record;

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
    /// The server's utilization under `tenants` closed-loop tenants at each think time (ms),
    /// measured for a model when its first cell ran; later sessions reuse it.
    Tenants {
        model: String,
        tenants: usize,
        curve: Vec<(f64, f64)>,
    },
    /// One measured request.
    Request(Box<Record>),
    /// A cell repetition is complete: its requests are all above.
    Done {
        cell: Cell,
        key: String,
        link: String,
        capacity_per_s: f64,
        /// The load generator's offered rate (Poisson arrivals), requests/s; 0 with closed-loop
        /// tenants.
        load_offered_per_s: f64,
        seconds: f64,
        /// The server's busy fraction over the cell's measured rounds (everyone's load: the
        /// background's and the measured device's).
        #[serde(default)]
        utilization: Option<f64>,
    },
}

/// The results file: what is done, and appending to it.
pub struct Results {
    path: PathBuf,
    done: HashSet<String>,
    capacities: BTreeMap<String, f64>,
    tenant_curves: BTreeMap<(String, usize), Vec<(f64, f64)>>,
}

impl Results {
    /// Opens (or creates) `path` and reads what earlier sessions completed.
    pub fn open(path: &Path) -> Result<Self> {
        let mut r = Self {
            path: path.to_path_buf(),
            done: HashSet::new(),
            capacities: BTreeMap::new(),
            tenant_curves: BTreeMap::new(),
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
                    Line::Tenants {
                        model,
                        tenants,
                        curve,
                    } => {
                        r.tenant_curves.insert((model, tenants), curve);
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

    /// The utilization curve measured for `model` with `tenants` tenants, if any.
    pub fn tenant_curve(&self, model: &str, tenants: usize) -> Option<&[(f64, f64)]> {
        self.tenant_curves
            .get(&(model.to_string(), tenants))
            .map(Vec::as_slice)
    }

    /// Appends `lines` in one write, flushed to disk.
    pub fn append(&mut self, lines: &[Line]) -> Result<()> {
        for l in lines {
            match l {
                Line::Done { key, .. } => {
                    self.done.insert(key.clone());
                }
                Line::Capacity { model, per_s } => {
                    self.capacities.insert(model.clone(), *per_s);
                }
                Line::Tenants {
                    model,
                    tenants,
                    curve,
                } => {
                    self.tenant_curves
                        .insert((model.clone(), *tenants), curve.clone());
                }
                _ => {}
            }
        }
        crate::jsonl::append(&self.path, lines)
    }
}

/// Every readable line of a results file; a torn last line (a stop mid-write) is skipped.
pub fn read_lines(path: &Path) -> Result<Vec<Line>> {
    crate::jsonl::read(path)
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
