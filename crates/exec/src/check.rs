//! Conformance of split execution: head + tail must compute what the whole model computes.

use loadpart_engine::{Engine, LoadOptions, Tensor, TensorData};
use rand::{SeedableRng, rngs::StdRng, seq::index::sample};
use serde::Serialize;

use loadpart_cuts::CutId;

use crate::inputs::{random_inputs, views};
use crate::{ExecError, Prepared, Split};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub batch: usize,
    /// Check this many cuts drawn at random (full offload and full local always included);
    /// `None` checks every candidate cut.
    pub sample: Option<usize>,
    pub seed: u64,
    /// Largest accepted relative error (see [`compare_outputs`]).
    pub tolerance: f64,
    /// Blocks with more inner cuts than this are not enumerated (and not checked).
    pub max_cuts_per_block: usize,
    pub load: LoadOptions,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            batch: 1,
            sample: None,
            seed: 7,
            tolerance: 1e-4,
            max_cuts_per_block: 10_000,
            load: LoadOptions::default(),
        }
    }
}

/// One cut that did not match, or could not run.
#[derive(Debug, Clone, Serialize)]
pub struct CutFailure {
    pub cut: CutId,
    pub error: String,
}

/// The result of [`check_split`]. JSON field names are a stable interface.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub engine: String,
    pub batch: usize,
    pub cuts_total: usize,
    pub cuts_checked: usize,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    pub worst_cut: Option<CutId>,
    pub tolerance: f64,
    /// How much the outputs change between two different random inputs (the same metric as
    /// `max_rel_err`). Near 0 means the outputs do not depend on the input (constant weights),
    /// and then a passing check proves nothing.
    pub input_sensitivity: f64,
    pub failures: Vec<CutFailure>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Largest absolute difference and largest relative difference over all outputs, where an
/// output's relative difference is its largest absolute difference divided by the largest
/// magnitude in the reference output (a scale-aware metric that does not blow up near zeros).
/// Integer outputs (indices, classes) are compared too: any difference counts in full.
pub fn compare_outputs(
    reference: &[(String, Tensor)],
    got: &[(String, Tensor)],
) -> Result<(f64, f64), ExecError> {
    let (mut max_abs, mut max_rel) = (0f64, 0f64);
    for (name, r) in reference {
        let g = got
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| {
                ExecError::Runtime(loadpart_runtime::RuntimeError::MissingTensor {
                    part: "split run".into(),
                    tensor: name.clone(),
                })
            })?;
        if g.shape != r.shape {
            return Err(ExecError::ShapeMismatch {
                name: name.clone(),
                got: g.shape.clone(),
                expected: r.shape.clone(),
            });
        }
        let (diff, scale) = match (&r.data, &g.data) {
            (TensorData::F32(a), TensorData::F32(b)) => (
                a.iter().zip(b).fold(0f64, |m, (x, y)| {
                    let d = (*x as f64 - *y as f64).abs();
                    if d.is_nan() { f64::INFINITY } else { m.max(d) }
                }),
                a.iter().fold(0f64, |m, v| m.max(v.abs() as f64)),
            ),
            (TensorData::I64(a), TensorData::I64(b)) => (
                a.iter()
                    .zip(b)
                    .fold(0f64, |m, (x, y)| m.max((*x as f64 - *y as f64).abs())),
                a.iter().fold(0f64, |m, v| m.max(v.unsigned_abs() as f64)),
            ),
            _ => {
                return Err(ExecError::DtypeMismatch {
                    name: name.clone(),
                    got: g.dtype().to_string(),
                    expected: r.dtype().to_string(),
                });
            }
        };
        max_abs = max_abs.max(diff);
        max_rel = max_rel.max(if scale > 0.0 { diff / scale } else { diff });
    }
    Ok((max_abs, max_rel))
}

/// Runs the whole model and head + tail of every candidate cut (or a sample) on the same
/// seeded random input and compares outputs. `progress(done, total)` is called after each cut.
pub fn check_split(
    engine: &dyn Engine,
    prepared: &Prepared,
    opts: &CheckOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<CheckReport, ExecError> {
    let mut reports = check_split_batches(engine, prepared, &[opts.batch], opts, progress)?;
    Ok(reports.remove(0))
}

/// [`check_split`] at several batch sizes (`opts.batch` is ignored): each cut's head and tail
/// are extracted and loaded once and run at every size, which is most of the cost saved on
/// models with large weights. One report per batch size, in the given order.
pub fn check_split_batches(
    engine: &dyn Engine,
    prepared: &Prepared,
    batches: &[usize],
    opts: &CheckOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<CheckReport>, ExecError> {
    if batches.is_empty() || batches.contains(&0) {
        return Err(ExecError::BatchSizes {
            got: batches.to_vec(),
            increasing: false,
        });
    }
    let model = &prepared.model;
    let space = prepared.stages.cut_space(opts.max_cuts_per_block);
    let dag = prepared.stages.dag();
    let cuts: Vec<CutId> = space.all_candidate_cuts().map(|c| c.cut.id(dag)).collect();
    let chosen: Vec<usize> = match opts.sample {
        Some(k) if k < cuts.len() => {
            let mut rng = StdRng::seed_from_u64(opts.seed);
            let mut idx: Vec<usize> = sample(&mut rng, cuts.len() - 2, k.saturating_sub(2))
                .into_iter()
                .map(|i| i + 1)
                .collect();
            idx.push(0);
            idx.push(cuts.len() - 1);
            idx.sort_unstable();
            idx.dedup();
            idx
        }
        _ => (0..cuts.len()).collect(),
    };
    let full = engine.load(&model.to_bytes(), &opts.load)?;
    /// One batch size: its input, the whole model's outputs, and the report so far.
    struct AtBatch {
        inputs: crate::inputs::NamedTensors,
        reference: crate::inputs::NamedTensors,
        report: CheckReport,
    }
    let mut at: Vec<AtBatch> = batches
        .iter()
        .map(|&batch| {
            let inputs = random_inputs(model, batch, opts.seed)?;
            let reference = full.run(&views(&inputs))?.outputs;
            let other = random_inputs(model, batch, opts.seed.wrapping_add(1))?;
            let (_, input_sensitivity) =
                compare_outputs(&reference, &full.run(&views(&other))?.outputs)?;
            Ok(AtBatch {
                inputs,
                reference,
                report: CheckReport {
                    engine: engine.kind().to_string(),
                    batch,
                    cuts_total: cuts.len(),
                    cuts_checked: 0,
                    max_abs_err: 0.0,
                    max_rel_err: 0.0,
                    worst_cut: None,
                    tolerance: opts.tolerance,
                    input_sensitivity,
                    failures: Vec::new(),
                },
            })
        })
        .collect::<Result<_, ExecError>>()?;
    drop(full);

    for (done, &i) in chosen.iter().enumerate() {
        let id = &cuts[i];
        let runner = Split::load(engine, prepared, id, &opts.load);
        for b in &mut at {
            let outcome = runner.as_ref().map_err(|e| e.to_string()).and_then(|r| {
                r.run(&b.inputs)
                    .and_then(|got| compare_outputs(&b.reference, &got))
                    .map_err(|e| e.to_string())
            });
            let report = &mut b.report;
            report.cuts_checked += 1;
            match outcome {
                Ok((abs, rel)) => {
                    report.max_abs_err = report.max_abs_err.max(abs);
                    if rel >= report.max_rel_err {
                        report.max_rel_err = rel;
                        report.worst_cut = Some(id.clone());
                    }
                    if rel > opts.tolerance || rel.is_nan() {
                        report.failures.push(CutFailure {
                            cut: id.clone(),
                            error: format!("relative error {rel:.3e} > {:.1e}", opts.tolerance),
                        });
                    }
                }
                Err(error) => report.failures.push(CutFailure {
                    cut: id.clone(),
                    error,
                }),
            }
        }
        progress(done + 1, chosen.len());
    }
    Ok(at.into_iter().map(|b| b.report).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(t: Tensor) -> Vec<(String, Tensor)> {
        vec![("y".to_string(), t)]
    }

    #[test]
    fn integer_outputs_are_compared_too() {
        let a = named(Tensor::i64(vec![3], vec![1, 5, 7]).unwrap());
        let same = named(Tensor::i64(vec![3], vec![1, 5, 7]).unwrap());
        let off = named(Tensor::i64(vec![3], vec![1, 6, 7]).unwrap());
        assert_eq!(compare_outputs(&a, &same).unwrap(), (0.0, 0.0));
        let (abs, rel) = compare_outputs(&a, &off).unwrap();
        assert_eq!(abs, 1.0);
        assert!((rel - 1.0 / 7.0).abs() < 1e-12);
        let float = named(Tensor::f32(vec![3], vec![1.0, 5.0, 7.0]).unwrap());
        assert!(matches!(
            compare_outputs(&a, &float),
            Err(ExecError::DtypeMismatch { .. })
        ));
    }

    #[test]
    fn nan_counts_as_an_infinite_error() {
        let a = named(Tensor::f32(vec![2], vec![1.0, 2.0]).unwrap());
        let b = named(Tensor::f32(vec![2], vec![1.0, f32::NAN]).unwrap());
        assert_eq!(compare_outputs(&a, &b).unwrap().0, f64::INFINITY);
    }
}
