//! A cell's background load, beside the measured device: open-loop arrivals at a fraction of
//! the capacity, or closed-loop tenants sized by the utilization they cause, constant over the
//! cell or varying within it (a square wave, a seeded trace), the same for every policy (the
//! policies are measured round-robin under it).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use loadpart_client::Remote;
use loadpart_proto::loadpart::LoadRequest;
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::config::{Cell, Sweep};
use super::loadgen_thread::LoadThread;
use crate::loadgen::Tenants;

/// Think times (ms) at which the utilization curve of the tenants is measured.
pub const THINK_GRID_MS: [f64; 11] = [
    0.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 12800.0,
];

/// When the server's busy time was read, and the busy seconds it reported.
pub async fn busy_seconds(direct: &Remote) -> Result<(Instant, f64)> {
    let mut req = tonic::Request::new(LoadRequest::default());
    req.set_timeout(Duration::from_secs(2));
    let r = direct
        .loadpart
        .clone()
        .get_load(req)
        .await
        .context("reading the server's busy time")?;
    Ok((Instant::now(), r.into_inner().busy_seconds_total))
}

/// The server's busy fraction since `since` (one executor).
pub async fn utilization_since(direct: &Remote, since: (Instant, f64)) -> Result<f64> {
    let (t, busy) = busy_seconds(direct).await?;
    let secs = t.saturating_duration_since(since.0).as_secs_f64();
    Ok(if secs > 0.0 {
        ((busy - since.1) / secs).clamp(0.0, 1.0)
    } else {
        0.0
    })
}

/// The utilization `tenants` closed-loop tenants cause at each think time of
/// [`THINK_GRID_MS`] (`probe_s` each: a third to settle, the rest measured), the server
/// otherwise idle.
pub async fn calibrate(
    load: &LoadThread,
    direct: &Remote,
    tenants: usize,
    probe_s: f64,
) -> Result<Vec<(f64, f64)>> {
    let mut curve = Vec::with_capacity(THINK_GRID_MS.len());
    for &think_ms in &THINK_GRID_MS {
        load.set_tenants(Tenants {
            count: tenants,
            think_ms,
        });
        tokio::time::sleep(Duration::from_secs_f64(probe_s / 3.0)).await;
        let since = busy_seconds(direct).await?;
        tokio::time::sleep(Duration::from_secs_f64(probe_s * 2.0 / 3.0)).await;
        curve.push((think_ms, utilization_since(direct, since).await?));
    }
    load.set_tenants(Tenants {
        count: 0,
        think_ms: 0.0,
    });
    Ok(curve)
}

/// The think time (ms) at which `curve` (think time, utilization) reaches utilization `u`,
/// interpolated linearly between its points (the utilization falls as the think time grows);
/// `None` for `u <= 0` (no tenants at all), the shortest think time when `u` is above every
/// point, the longest when below every point.
pub fn think_for(curve: &[(f64, f64)], u: f64) -> Option<f64> {
    if u <= 0.0 || curve.is_empty() {
        return None;
    }
    // Measurement noise can make the curve rise a little between points: it is taken as
    // non-increasing (each point at most every point before it).
    let mut lowest = f64::INFINITY;
    let curve: Vec<(f64, f64)> = curve
        .iter()
        .map(|&(t, x)| {
            lowest = lowest.min(x);
            (t, lowest)
        })
        .collect();
    if u >= curve[0].1 {
        return Some(curve[0].0);
    }
    for w in curve.windows(2) {
        let ((t0, u0), (t1, u1)) = (w[0], w[1]);
        if u <= u0 && u >= u1 {
            let f = if u0 > u1 { (u0 - u) / (u0 - u1) } else { 0.0 };
            return Some(t0 + f * (t1 - t0));
        }
    }
    curve.last().map(|p| p.0)
}

/// The background of the cells of one model's run.
pub struct Background<'a> {
    pub sweep: &'a Sweep,
    pub load: &'a LoadThread,
    /// Requests/s of full offloads the server completed closed loop (open-loop levels).
    pub capacity_per_s: f64,
    /// Utilization by think time of the tenants (closed-loop levels).
    pub curve: Option<&'a [(f64, f64)]>,
}

impl Background<'_> {
    /// Sets the background to `level` (a fraction of the capacity, or a utilization); returns
    /// the offered open-loop rate (0 with tenants).
    pub fn set(&self, level: f64) -> f64 {
        match self.curve {
            Some(curve) if self.sweep.background == "closed" => {
                self.load.set_rate(0.0);
                self.load.set_tenants(match think_for(curve, level) {
                    Some(think_ms) => Tenants {
                        count: self.sweep.tenants,
                        think_ms,
                    },
                    None => Tenants {
                        count: 0,
                        think_ms: 0.0,
                    },
                });
                0.0
            }
            _ => {
                let rate = level * self.capacity_per_s;
                self.load.set_rate(rate);
                rate
            }
        }
    }

    /// Keeps changing the background of a varying `cell` from `start` on, until dropped: the
    /// peak and an idle server in turn (`square`), or a seeded sequence of levels from 0 to the
    /// peak (`trace`). Does nothing for a constant cell; never returns.
    pub async fn vary(&self, cell: &Cell, start: Instant) {
        let s = self.sweep;
        let peak = cell.load;
        match cell.shape.as_str() {
            "square" => {
                let half = Duration::from_secs_f64(s.square_period_s / 2.0);
                // Bounded: a cell never lasts a day.
                for k in 0..(86_400.0 / half.as_secs_f64()).ceil() as u64 {
                    self.set(if k % 2 == 0 { peak } else { 0.0 });
                    tokio::time::sleep_until((start + half * (k as u32 + 1)).into()).await;
                }
            }
            "trace" => {
                let step = Duration::from_secs_f64(s.trace_step_s);
                let mut rng = StdRng::seed_from_u64(trace_seed(cell));
                let levels = [0.0, peak / 3.0, 2.0 * peak / 3.0, peak];
                for k in 0..(86_400.0 / step.as_secs_f64()).ceil() as u64 {
                    self.set(levels[rng.random_range(0..levels.len())]);
                    tokio::time::sleep_until((start + step * (k as u32 + 1)).into()).await;
                }
            }
            _ => {}
        }
        // A constant background (or a varying one after a day) never ends the cell.
        std::future::pending::<()>().await;
    }
}

/// The trace's seed: the cell without its repetition, so that a trace is the same in every
/// repetition (and for every policy, measured under it together).
fn trace_seed(cell: &Cell) -> u64 {
    let mut h = crc32fast::Hasher::new();
    h.update(
        format!(
            "{}|{}|{}|{}",
            cell.model, cell.device_slowdown, cell.mbit, cell.load
        )
        .as_bytes(),
    );
    u64::from(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_times_interpolate_the_measured_curve() {
        let curve = [(0.0, 0.98), (100.0, 0.8), (200.0, 0.6), (400.0, 0.3)];
        assert_eq!(think_for(&curve, 0.0), None);
        assert_eq!(think_for(&curve, 0.99), Some(0.0));
        assert!((think_for(&curve, 0.7).unwrap() - 150.0).abs() < 1e-9);
        assert!((think_for(&curve, 0.6).unwrap() - 200.0).abs() < 1e-9);
        assert_eq!(think_for(&curve, 0.1), Some(400.0));
        // A flat stretch (the server saturated) takes its first point.
        let flat = [(0.0, 1.0), (25.0, 1.0), (50.0, 0.5)];
        assert_eq!(think_for(&flat, 1.0), Some(0.0));
        // A noisy rise is flattened: 0.12 is first reached at 200 ms.
        let noisy = [(0.0, 0.9), (200.0, 0.12), (400.0, 0.14), (800.0, 0.03)];
        assert!((think_for(&noisy, 0.12).unwrap() - 200.0).abs() < 1e-9);
    }
}
