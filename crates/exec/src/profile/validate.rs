//! The profile's self-check: predicted against measured head and tail times on random cuts.

use loadpart_cuts::{Cut, CutSpace, NodeId};
use loadpart_plan::{ModelProfile, ProfileValidation, ValidationSample};
use rand::{SeedableRng, rngs::StdRng, seq::index::sample};

use super::Timer;
use crate::{ExecError, Prepared};

/// Compares predicted (summed stage times: head calibration for heads, tail calibration for
/// tails) and measured head and tail times on `opts.validate_cuts` random cuts.
pub(super) fn validate(
    timer: &Timer<'_>,
    prepared: &Prepared,
    space: &CutSpace,
    profile: &ModelProfile,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<ProfileValidation, ExecError> {
    let opts = timer.opts;
    let cuts: Vec<&Cut> = space
        .all_candidate_cuts()
        .map(|c| c.cut)
        .filter(|c| !c.is_full_local() && !c.is_full_offload())
        .collect();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let picked = sample(&mut rng, cuts.len(), opts.validate_cuts.min(cuts.len()));
    let dag = prepared.stages.dag();
    let mut samples = Vec::new();
    let total = picked.len();
    for (done, i) in picked.into_iter().enumerate() {
        let cut = cuts[i];
        let id = cut.id(dag);
        let measured = timer.split(&id)?;
        for (b, &(head_us, tail_us)) in measured.iter().enumerate() {
            let (mut head_pred, mut tail_pred) = (0.0, 0.0);
            for (n, cost) in profile.nodes.iter().enumerate() {
                if cut.head.contains(NodeId(n as u32)) {
                    head_pred += cost.time_us[b];
                } else {
                    tail_pred += cost.tail_time_us.as_ref().unwrap_or(&cost.time_us)[b];
                }
            }
            let batch_size = opts.batch_sizes[b];
            samples.push(ValidationSample {
                cut: id.clone(),
                part: "head".into(),
                batch_size,
                predicted_us: head_pred,
                measured_us: head_us,
            });
            samples.push(ValidationSample {
                cut: id.clone(),
                part: "tail".into(),
                batch_size,
                predicted_us: tail_pred,
                measured_us: tail_us,
            });
        }
        progress("validating cuts", done + 1, total);
    }
    let error =
        |predicted: f64, measured: f64| 100.0 * (predicted - measured).abs() / measured.max(1e-9);
    let parts: Vec<f64> = samples
        .iter()
        .map(|s| error(s.predicted_us, s.measured_us))
        .collect();
    // Samples come in (head, tail) pairs of one cut and batch size.
    let splits: Vec<f64> = samples
        .chunks_exact(2)
        .map(|p| {
            error(
                p[0].predicted_us + p[1].predicted_us,
                p[0].measured_us + p[1].measured_us,
            )
        })
        .collect();
    let (mean_error_pct, max_error_pct) = mean_max(&parts);
    let (split_mean_error_pct, split_max_error_pct) = mean_max(&splits);
    Ok(ProfileValidation {
        mean_error_pct,
        max_error_pct,
        split_mean_error_pct,
        split_max_error_pct,
        samples,
    })
}

fn mean_max(errors: &[f64]) -> (f64, f64) {
    if errors.is_empty() {
        return (0.0, 0.0);
    }
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    (mean, errors.iter().fold(0.0f64, |m, e| m.max(*e)))
}
