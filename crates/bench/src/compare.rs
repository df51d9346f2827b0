//! `loadpart bench compare`: loadpart's choice against the planner's top cuts forced, request by
//! request, through the same client on the same link and server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use loadpart_client::{Client, ClientConfig, InferOptions, InferOutcome};
use loadpart_cuts::CutId;
use loadpart_plan::PolicyKind;
use loadpart_runtime::NamedTensors;
use serde::Serialize;

use crate::outln;
use crate::remote_model::{RemoteModelArgs, noise_inputs};

/// Seeds each round's order of variants ([`crate::round_order`]).
const ROUND_ORDER_SEED: u64 = 0x10AD;

/// Compare loadpart's per-request choice with the planner's top cuts forced: one client sends
/// round after round, each round one request with the `loadpart` policy and one with each of
/// the top cuts (ranked by the planner on the estimates at the start), in a fresh seeded order
/// each round, so that all see the same link and server load. Prints, per variant, the mean measured and predicted latency, and
/// loadpart's mean against the best forced cut's.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    #[command(flatten)]
    remote: RemoteModelArgs,
    /// Rounds (requests per variant).
    #[arg(long, default_value_t = 50)]
    rounds: usize,
    /// Top cuts forced besides loadpart's own choice.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Emulated device slowdown.
    #[arg(long, default_value_t = 4.0)]
    device_slowdown: f64,
    /// Emulate the device from its profile: each device run lasts its profiled time times the
    /// slowdown (when the real run fits in it), instead of its measured time times the
    /// slowdown. For machines that cannot keep the device's core quiet: the slowdown would
    /// stretch every interruption too.
    #[arg(long)]
    device_from_profile: bool,
    /// After the warm-up, wait this long (ms) before measuring, so that the warm-up's requests
    /// have left the server's load window (3 s by default) and the client's smoothing of its
    /// reports (1 s half-life), and do not skew the plans.
    #[arg(long, default_value_t = 7000)]
    settle_ms: u64,
    /// Write every request as a JSON line here.
    #[arg(long)]
    records: Option<PathBuf>,
    /// Print the table as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    variant: String,
    requests: usize,
    offloaded: usize,
    mean_ms: f64,
    predicted_ms: f64,
    /// Mean over offloaded requests of measured / predicted.
    offload_ratio: f64,
}

fn row(variant: String, os: &[InferOutcome]) -> Row {
    let n = os.len().max(1) as f64;
    let off: Vec<&InferOutcome> = os.iter().filter(|o| o.route.offloaded()).collect();
    Row {
        variant,
        requests: os.len(),
        offloaded: off.len(),
        mean_ms: os.iter().map(|o| o.measured.total_us).sum::<f64>() / n * 1e-3,
        predicted_ms: os.iter().map(|o| o.predicted.total()).sum::<f64>() / n * 1e-3,
        offload_ratio: if off.is_empty() {
            f64::NAN
        } else {
            off.iter()
                .map(|o| o.measured.total_us / o.predicted.total().max(1.0))
                .sum::<f64>()
                / off.len() as f64
        },
    }
}

/// Runs `loadpart bench compare` on a runtime of its own.
pub fn run(args: CompareArgs) -> Result<std::process::ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(compare(args))
}

async fn compare(args: CompareArgs) -> Result<std::process::ExitCode> {
    ensure!(args.rounds >= 1, "--rounds must be at least 1");
    let (prepared, engine) = args.remote.load()?;
    let profile = crate::profiles::device_profile(engine.clone(), prepared.clone()).await?;
    let runtime = crate::remote_model::device_runtime(engine, prepared.clone(), 2 << 30);
    let mut config = ClientConfig::new(&args.remote.server, args.remote.server_name());
    config.device_slowdown = args.device_slowdown;
    config.emulate_from_profile = args.device_from_profile;
    config.access = args.remote.access.access()?;
    let client = Client::connect(config, runtime, profile, None).await?;
    ensure!(
        client.wait_for_estimates(Duration::from_secs(5)).await,
        "the estimates did not become fresh within 5 s: is the server up?"
    );
    client.warm_up_likely_cuts(3).await?;
    let planner = client.planner().context("no server profile")?;
    let ranked = planner.ranked_candidates(&client.estimate());
    let mut top: Vec<CutId> = Vec::new();
    for c in ranked {
        let id = c.candidate.cut.id(planner.dag());
        if !top.contains(&id) {
            top.push(id);
        }
        if top.len() >= args.top {
            break;
        }
    }
    let mut variants: Vec<(String, InferOptions)> = vec![(
        "loadpart".into(),
        InferOptions {
            policy: Some(PolicyKind::Loadpart),
            ..InferOptions::default()
        },
    )];
    for (i, c) in top.iter().enumerate() {
        variants.push((
            format!("top{} {c}", i + 1),
            InferOptions {
                cut: Some(c.clone()),
                ..InferOptions::default()
            },
        ));
    }
    let xs: Vec<NamedTensors> = (0..4)
        .map(|s| noise_inputs(&prepared, s))
        .collect::<Result<_>>()?;
    let mut results: Vec<Vec<InferOutcome>> = vec![Vec::new(); variants.len()];
    let bar = crate::progress::Progress::new(
        !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    let mut lines = String::new();
    // One unrecorded round: every forced cut's head is built before timing.
    for (_, opts) in &variants {
        client.infer(xs[0].clone(), opts).await?;
    }
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    for r in 0..args.rounds {
        for v in crate::round_order::round_order(variants.len(), r, ROUND_ORDER_SEED) {
            let (label, opts) = &variants[v];
            let o = client.infer(xs[r % xs.len()].clone(), opts).await?;
            if args.records.is_some() {
                let mut j = serde_json::to_value(&o)?;
                j["variant"] = serde_json::Value::String(label.clone());
                lines.push_str(&j.to_string());
                lines.push('\n');
            }
            results[v].push(o);
        }
        bar.update("rounds", r + 1, args.rounds);
    }
    bar.finish();
    if let Some(path) = &args.records {
        std::fs::write(path, lines).with_context(|| format!("writing {}", path.display()))?;
    }
    let rows: Vec<Row> = variants
        .iter()
        .zip(&results)
        .map(|((label, _), os)| row(label.clone(), os))
        .collect();
    let best_forced = rows[1..]
        .iter()
        .map(|r| r.mean_ms)
        .fold(f64::INFINITY, f64::min);
    let vs_best = rows[0].mean_ms / best_forced;
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "rows": rows, "loadpart_vs_best_forced": vs_best })
        );
    } else {
        outln!(
            "{:<60} {:>5} {:>6} {:>9} {:>9} {:>10}",
            "variant",
            "n",
            "offl.",
            "mean ms",
            "pred. ms",
            "meas/pred"
        );
        for r in &rows {
            outln!(
                "{:<60} {:>5} {:>6} {:>9.2} {:>9.2} {:>10.3}",
                r.variant.chars().take(60).collect::<String>(),
                r.requests,
                r.offloaded,
                r.mean_ms,
                r.predicted_ms,
                r.offload_ratio
            );
        }
        outln!("loadpart / best forced cut: {vs_best:.3}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}
