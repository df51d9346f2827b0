//! `loadpart plan`: where to cut a model under given network and server conditions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use loadpart_bench::outln;
use loadpart_graph::Prepared;
use loadpart_graph::load_model;
use loadpart_plan::{
    Conditions, Estimate, ModelProfile, PlanReport, Planner, PlannerOptions, Policy, PolicyKind,
    TIMED_DECISIONS, geometric_bandwidths, plan_report, sweep_bandwidth,
};
use serde::Serialize;

use crate::bandwidth::{format_bandwidth, parse_bandwidth};
use crate::plot::{PlanFigure, SweepLine, render};

/// Decide where to split a model between this device and an edge server for the given link and
/// server load, and show why: the chosen cut, its predicted latency by component, and the next
/// best cuts. The predicted latency (device + encode + upload + RTT + queue + slowdown x
/// server time at the batch size + decode + download) is minimised exactly over every cut.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model (path, zoo:NAME, or light model name); the one both profiles were measured on.
    model: String,
    /// Profile of the device (`loadpart profile MODEL --batch-sizes 1 -o dev.json` on the device).
    #[arg(long, env = "LOADPART_DEVICE_PROFILE")]
    device_profile: PathBuf,
    /// Profile of the server (`loadpart profile MODEL --batch-sizes 1,2,4,8 -o srv.json` there).
    #[arg(long, env = "LOADPART_SERVER_PROFILE")]
    server_profile: PathBuf,
    /// Uplink (device to server) bandwidth: 10mbit, 1.5gbit, 800kbit, 2MB/s; a plain number is
    /// Mbit/s.
    #[arg(long, value_parser = parse_bandwidth)]
    bandwidth: f64,
    /// Downlink (server to device) bandwidth, same units; defaults to the uplink.
    #[arg(long, value_parser = parse_bandwidth)]
    downlink: Option<f64>,
    /// Round-trip time, ms.
    #[arg(long, default_value_t = 5.0)]
    rtt_ms: f64,
    /// Expected wait in the server's queue (W), ms: what the server's load report says.
    #[arg(long, default_value_t = 0.0)]
    queue_ms: f64,
    /// Server slowdown factor (f): measured / profiled time of the batches it runs (1 = as
    /// profiled; above 1 when it is busy with other work).
    #[arg(long, default_value_t = 1.0)]
    slowdown: f64,
    /// Batch size the server is forming (k); the server time per request is interpolated between
    /// the profiled batch sizes. May be fractional (a mean).
    #[arg(long, default_value_t = 1.0)]
    batch: f64,
    /// Factor on every device time (above 1 when the device is busy or throttled).
    #[arg(long, default_value_t = 1.0)]
    device_slowdown: f64,
    /// Policy: loadpart (full model), neurosurgeon (assumes an idle server), loadpart-original,
    /// local, server, oracle, or fixed:<tensor,...>.
    #[arg(long, default_value = "loadpart")]
    policy: PolicyKind,
    /// How many runners-up to list.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Machine-readable output (stable keys: cut, predicted_ms, breakdown, decision_us, runners_up).
    #[arg(long)]
    json: bool,
    /// Also write a figure (SVG): latency per candidate cut, and the chosen cut as the uplink
    /// sweeps 1 to 1000 Mbit/s at three server loads.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// The JSON of `loadpart plan --json`: the library's report, and the figure's path.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    plan: PlanReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    plot: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(p) = &args.plot {
        check_plot_path(p)?;
    }
    let estimate = estimate(&args)?;
    let model = load_model(&args.model)?;
    let device = read_profile(&args.device_profile, model.hash())?;
    let server = read_profile(&args.server_profile, model.hash())?;
    let prepared = Prepared::new(&model)?;
    let planner = Planner::new(
        prepared.stages.dag().clone(),
        &device,
        &server,
        PlannerOptions::default(),
    )
    .context("profiles do not fit the model")?;
    let planner = Arc::new(planner);
    let policy = args.policy.build(planner.clone())?;
    let conditions = Conditions::from(estimate);
    let mut plan = plan_report(&planner, policy.as_ref(), &conditions, args.top);
    plan.model = args.model.clone();
    plan.model_hash = model.hash().to_string();
    let mut report = Report { plan, plot: None };
    if let Some(path) = &args.plot {
        let svg = render(&figure(
            &args,
            &planner,
            policy.as_ref(),
            &conditions,
            report.plan.decision.position.candidate_index,
        ))
        .context("drawing the plan figure")?;
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
        report.plot = Some(path.clone());
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report.plan, planner.dag().node_count());
        if let Some(p) = &report.plot {
            outln!("\nwrote {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The estimate from the flags, rejecting values the planner would otherwise sanitize silently.
fn estimate(a: &Args) -> Result<Estimate> {
    Ok(Estimate {
        uplink_bytes_per_s: a.bandwidth,
        downlink_bytes_per_s: a.downlink.unwrap_or(a.bandwidth),
        rtt_us: a.rtt_ms * 1e3,
        queue_us: a.queue_ms * 1e3,
        server_slowdown: a.slowdown,
        server_batch: a.batch,
        device_slowdown: a.device_slowdown,
    }
    .checked()?)
}

fn check_plot_path(p: &Path) -> Result<()> {
    match p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => Ok(()),
        Some("png") => bail!(
            "--plot {}: PNG is not supported, only SVG; write FILE.svg and convert it if needed (e.g. `rsvg-convert -o plot.png plot.svg`)",
            p.display()
        ),
        _ => bail!(
            "--plot {}: the figure is written as SVG; name the file FILE.svg",
            p.display()
        ),
    }
}

fn read_profile(path: &Path, model_hash: &str) -> Result<ModelProfile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading profile {}", path.display()))?;
    let profile: ModelProfile = serde_json::from_str(&text)
        .with_context(|| format!("parsing profile {}", path.display()))?;
    ensure!(
        profile.model_hash == model_hash,
        "profile {} was measured on another model (model_hash {}, this model's sha256 is {}); profile this model with `loadpart profile`",
        path.display(),
        profile.model_hash,
        model_hash
    );
    Ok(profile)
}

/// The figure: every listed candidate under the given conditions, and a bandwidth sweep at
/// idle (W = 0, f = 1, k = 1), given and heavy (4 W, 2 f) load.
fn figure(
    a: &Args,
    planner: &Planner,
    policy: &dyn Policy,
    c: &Conditions,
    chosen: Option<usize>,
) -> PlanFigure {
    let e = c.estimate;
    let candidates = planner
        .evaluate_candidates(&e)
        .iter()
        .map(|cc| cc.predicted.scaled(1e-3))
        .collect();
    let uplinks = geometric_bandwidths(1e6 / 8.0, 1e9 / 8.0, 40);
    let heavy = Estimate {
        queue_us: 4.0 * e.queue_us,
        server_slowdown: 2.0 * e.server_slowdown,
        ..e
    };
    let levels = [
        ("idle (W=0, f=1, k=1)".to_string(), e.with_idle_server()),
        (format!("given (W={} ms, f={})", a.queue_ms, a.slowdown), e),
        (
            format!("heavy (W={} ms, f={})", 4.0 * a.queue_ms, 2.0 * a.slowdown),
            heavy,
        ),
    ];
    let sweeps = levels
        .into_iter()
        .map(|(label, est)| {
            let base = Conditions {
                estimate: est,
                truth: c.truth,
            };
            let points = sweep_bandwidth(policy, &base, &uplinks)
                .iter()
                .map(|p| (p.uplink_bytes_per_s * 8e-6, p.position.head_fraction))
                .collect();
            SweepLine { label, points }
        })
        .collect();
    PlanFigure {
        title: format!("loadpart plan {} (policy {})", a.model, policy.name()),
        subtitle: format!(
            "uplink {}, downlink {}, RTT {} ms, queue W {} ms, slowdown f {}, server batch k {}, device slowdown {}",
            format_bandwidth(e.uplink_bytes_per_s),
            format_bandwidth(e.downlink_bytes_per_s),
            a.rtt_ms,
            a.queue_ms,
            a.slowdown,
            a.batch,
            a.device_slowdown
        ),
        candidates,
        chosen,
        sweeps,
        uplink_mbit: e.uplink_bytes_per_s * 8e-6,
    }
}

/// `a, b, c (+4 more)` for long cuts.
fn short_cut(names: &[String], max: usize) -> String {
    if names.len() <= max {
        return names.join(",");
    }
    format!("{} (+{} more)", names[..max].join(","), names.len() - max)
}

fn print_text(r: &PlanReport, stages: usize) {
    let d = &r.decision;
    let e = &r.conditions;
    outln!(
        "model {} (sha256 {}), {} stages",
        r.model,
        &r.model_hash[..16.min(r.model_hash.len())],
        stages
    );
    outln!(
        "conditions: uplink {}, downlink {}, RTT {} ms, queue {} ms, slowdown {}, server batch {}, device slowdown {}",
        format_bandwidth(e.uplink_bytes_per_s),
        format_bandwidth(e.downlink_bytes_per_s),
        e.rtt_us * 1e-3,
        e.queue_us * 1e-3,
        e.server_slowdown,
        e.server_batch,
        e.device_slowdown
    );
    let f = d.position.head_fraction;
    let place = if f == 0.0 {
        "full offload".to_string()
    } else if f == 1.0 {
        "full local".to_string()
    } else if let Some(i) = d.position.candidate_index {
        format!("candidate #{i}, {:.0}% of stages on the device", 100.0 * f)
    } else {
        format!(
            "{:.0}% of stages on the device (found by min-cut)",
            100.0 * f
        )
    };
    outln!(
        "policy {}: cut {} ({place})",
        r.policy,
        short_cut(&d.cut, 6)
    );
    if !d.sent.is_empty() && d.sent != d.cut {
        outln!("  sends {}", short_cut(&d.sent, 6));
    }
    let b = &d.breakdown;
    outln!(
        "predicted {:.3} ms = device {:.3} + encode {:.3} + upload {:.3} + rtt {:.3} + queue {:.3} + server {:.3} + decode {:.3} + download {:.3}",
        d.predicted_ms,
        b.device,
        b.encode,
        b.upload,
        b.rtt,
        b.queue,
        b.server,
        b.decode,
        b.download
    );
    if (r.full_model_ms - d.predicted_ms).abs() > 1e-6 * d.predicted_ms.abs().max(1.0) {
        outln!(
            "under the full model with the given load this cut takes {:.3} ms",
            r.full_model_ms
        );
    }
    outln!(
        "decision took {:.2} us (median of {TIMED_DECISIONS})",
        d.decision_us
    );
    if r.min_cut_blocks > 0 {
        outln!(
            "{} candidate cuts listed; {} block(s) too large to list are searched exactly by min-cut and do not appear below",
            r.listed_candidates,
            r.min_cut_blocks
        );
    }
    if !r.runners_up.is_empty() {
        outln!("\nrunners-up (ms):");
        outln!(
            "{:>4} {:>5} {:>9} {:>8} {:>7} {:>10} {:>7} {:>7} {:>7} {:>8}  cut",
            "#",
            "cand",
            "total",
            "device",
            "encode",
            "upload+rtt",
            "queue",
            "server",
            "decode",
            "download"
        );
        for (i, u) in r.runners_up.iter().enumerate() {
            let b = &u.breakdown;
            outln!(
                "{:>4} {:>5} {:>9.3} {:>8.3} {:>7.3} {:>10.3} {:>7.3} {:>7.3} {:>7.3} {:>8.3}  {} [{}]",
                i + 1,
                u.candidate_index,
                u.predicted_ms,
                b.device,
                b.encode,
                b.upload + b.rtt,
                b.queue,
                b.server,
                b.decode,
                b.download,
                short_cut(&u.cut, 3),
                u.kind
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plot_must_be_svg() {
        assert!(check_plot_path(Path::new("a/b.svg")).is_ok());
        assert!(check_plot_path(Path::new("b.SVG")).is_ok());
        let err = check_plot_path(Path::new("b.png")).unwrap_err().to_string();
        assert!(err.contains("PNG is not supported"), "{err}");
        assert!(check_plot_path(Path::new("b")).is_err());
    }

    #[test]
    fn long_cuts_are_shortened() {
        let v: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        assert_eq!(short_cut(&v, 4), "a,b,c,d");
        assert_eq!(short_cut(&v, 2), "a,b (+2 more)");
    }
}
