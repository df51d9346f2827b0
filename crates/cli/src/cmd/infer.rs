//! `loadpart infer`: one device's inference against a server, with the decision explained.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use loadpart_bench::outln;
use loadpart_bench::profiles::{ProfileKey, cached_profile};
use loadpart_bench::remote_model::RemoteModelArgs;
use loadpart_client::{Client, ClientConfig, InferOptions, InferOutcome};
use loadpart_cuts::CutId;
use loadpart_engine::LoadOptions;
use loadpart_exec::CodecFloors;
use loadpart_graph::{Prepared, Shapes};
use loadpart_plan::{ModelProfile, PolicyKind, ProfileRole};
use loadpart_runtime::{ModelRuntime, NamedTensors, PartCache};

use crate::bandwidth::parse_bandwidth;
use crate::tensor_io::{read_input, write_npz};

/// Run one inference as a device: decide the cut for the current bandwidth and server load, run
/// the head here, send the cut tensors to the server, and merge what it returns. Prints the
/// output summary, the cut chosen and the predicted against the measured latency. Whatever the
/// server does, the result comes back: a failed offload finishes on this device.
///
/// The device runs the same model file as the server (same weights: the model identity must
/// match). Its profile is measured on first use and cached in .loadpart/profiles, or given with
/// --device-profile.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteModelArgs,
    /// The input: a .npy float32 array, an image (png/jpeg; resized and normalized for an NCHW
    /// input), or raw little-endian float32. Models with several inputs take NAME=FILE pairs.
    #[arg(long, required = true, value_delimiter = ',')]
    input: Vec<String>,
    /// Policy: loadpart, neurosurgeon, loadpart-original, local, server, oracle.
    #[arg(long, default_value = "loadpart")]
    policy: PolicyKind,
    /// Plan with this bandwidth both ways (e.g. 20mbit) instead of the measured estimate.
    #[arg(long, value_parser = parse_bandwidth)]
    bandwidth: Option<f64>,
    /// Force this cut (its canonical id: tensor names joined by ",").
    #[arg(long)]
    cut: Option<String>,
    /// Emulate a device this many times slower than this machine.
    #[arg(long, default_value_t = 1.0)]
    device_slowdown: f64,

    /// Threads per run on the device.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The device profile (`loadpart profile --role device`); measured and cached when absent.
    #[arg(long)]
    device_profile: Option<PathBuf>,
    /// Code widths (bits, 2..=8) the planner may send cut tensors with, besides 8: the device
    /// profile measures each, and on slow links the tightest encoding that pays is sent. Fewer
    /// bits cost accuracy: list only widths `loadpart check-codec --bits B` showed to keep
    /// top-1 agreement for this model.
    #[arg(long, value_delimiter = ',', default_value = "8")]
    codec_bits: Vec<u8>,
    /// Per-tensor code-width floors from `loadpart check-codec --choose-bits ... --floors-out
    /// FILE`: each listed tensor may go as coarse as its own measured floor (late feature maps
    /// usually need more bits than early ones).
    #[arg(long)]
    codec_floors: Option<PathBuf>,
    /// Run this many inferences (a progress bar, then a summary).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Write the outputs of the last inference here (.npz, one array per output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print JSON (one object per inference).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    ensure!(args.repeat >= 1, "--repeat must be at least 1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(infer(args))
}

fn read_inputs(args: &Args, prepared: &Prepared) -> Result<NamedTensors> {
    let names = prepared.model.inputs();
    let shapes = Shapes::infer(&prepared.model, 1)?;
    let files: Vec<(String, PathBuf)> = if names.len() == 1 && !args.input[0].contains('=') {
        vec![(names[0].clone(), PathBuf::from(&args.input[0]))]
    } else {
        args.input
            .iter()
            .map(|pair| {
                let (n, f) = pair.split_once('=').with_context(|| {
                    format!("the model has inputs {}: give NAME=FILE", names.join(", "))
                })?;
                Ok((n.to_string(), PathBuf::from(f)))
            })
            .collect::<Result<_>>()?
    };
    names
        .iter()
        .map(|n| {
            let (_, file) = files
                .iter()
                .find(|(m, _)| m == n)
                .with_context(|| format!("no file for model input {n:?}"))?;
            let dims = &shapes.get(n).context("input without a shape")?.dims;
            Ok((n.clone(), read_input(file, dims)?))
        })
        .collect()
}

/// The profile in `file`, or this device's measured (and cached) with `threads`, its codec
/// measured at `codec_bits` and each tensor's floor.
fn device_profile(
    file: Option<&std::path::Path>,
    threads: usize,
    codec_bits: &[u8],
    codec_floors: Option<&CodecFloors>,
    engine: &dyn loadpart_engine::Engine,
    p: &Prepared,
) -> Result<ModelProfile> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()));
    }
    let key = ProfileKey {
        role: ProfileRole::Device,
        batch_sizes: vec![1],
        threads,
        spinning: loadpart_engine::Spinning::Off,
        effort: loadpart_exec::ProfileEffort::Quick,
        codec_bits: codec_bits.to_vec(),
        codec_floors: codec_floors.cloned(),
    };
    let (profile, path, fresh) = cached_profile(engine, p, &key)?;
    if fresh {
        eprintln!("device profile measured and cached in {}", path.display());
    }
    Ok(profile)
}

async fn infer(args: Args) -> Result<ExitCode> {
    let (prepared, engine) = args.remote.load()?;
    let inputs = read_inputs(&args, &prepared)?;
    let profile = {
        let p = prepared.clone();
        let e = engine.clone();
        let (file, threads) = (args.device_profile.clone(), args.threads);
        let bits = args.codec_bits.clone();
        let floors = args
            .codec_floors
            .as_deref()
            .map(CodecFloors::load)
            .transpose()?;
        tokio::task::spawn_blocking(move || {
            device_profile(
                file.as_deref(),
                threads,
                &bits,
                floors.as_ref(),
                e.as_ref(),
                &p,
            )
        })
        .await??
    };
    let runtime = Arc::new(ModelRuntime::new(
        engine,
        prepared,
        Arc::new(PartCache::new(1 << 30)),
        LoadOptions {
            intra_threads: args.threads,
            ..LoadOptions::default()
        },
    ));
    let mut config = ClientConfig::new(&args.remote.server, args.remote.server_name());
    config.policy = args.policy.clone();
    config.device_slowdown = args.device_slowdown;
    config.access = args.remote.access.access()?;
    let client = Client::connect(config, runtime, profile, None).await?;
    if client.server_has_no_profile() && args.cut.is_none() {
        eprintln!(
            "warning: the server has no profile of this model, so there is nothing to plan \
             with: requests run on this device (a cut forced with --cut still offloads)"
        );
    } else if !client.wait_for_estimates(Duration::from_secs(3)).await {
        eprintln!(
            "warning: estimates not fresh after 3 s (server unreachable or slow); planning conservatively"
        );
    }
    if args.repeat > 1 && args.cut.is_none() {
        client.warm_up_likely_cuts(3).await?;
    }
    let opts = InferOptions {
        cut: args.cut.as_deref().map(CutId::parse).transpose()?,
        bandwidth_bytes_per_s: args.bandwidth,
        ..InferOptions::default()
    };
    let bar = loadpart_bench::progress::Progress::new(
        args.repeat > 1 && !args.json && std::io::stderr().is_terminal(),
    );
    let mut outcomes = Vec::with_capacity(args.repeat);
    for i in 0..args.repeat {
        let o = client.infer(inputs.clone(), &opts).await?;
        if args.json {
            println!("{}", serde_json::to_string(&o)?);
        }
        bar.update("inferences", i + 1, args.repeat);
        outcomes.push(o);
    }
    bar.finish();
    let last = outcomes.last().expect("at least one");
    if let Some(path) = &args.output {
        write_npz(path, &last.outputs)?;
    }
    if !args.json {
        print_outcome(last);
        if outcomes.len() > 1 {
            print_summary(&outcomes);
        }
        if let Some(path) = &args.output {
            outln!("outputs written to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_outcome(o: &InferOutcome) {
    for (name, t) in &o.outputs {
        let v = t.as_f32().unwrap_or(&[]);
        let (mut best, mut arg) = (f32::NEG_INFINITY, 0usize);
        for (i, &x) in v.iter().enumerate() {
            if x > best {
                (best, arg) = (x, i);
            }
        }
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
        outln!(
            "output {name} {:?}: argmax {arg} ({best:.4}), mean {mean:.4}",
            t.shape
        );
    }
    let route = serde_json::to_value(&o.route)
        .ok()
        .and_then(|v| v.get("route").and_then(|r| r.as_str()).map(String::from))
        .unwrap_or_default();
    outln!(
        "policy {}: cut {} ({:.0}% of the model on this device), {route}",
        o.policy,
        o.cut,
        o.head_fraction * 100.0
    );
    if let loadpart_client::Route::Fallback { why } = &o.route {
        outln!("  the server failed ({why}); finished on this device");
    }
    let p = o.predicted.scaled(1e-3);
    let m = &o.measured;
    let server = m.server.map_or(0.0, |s| s.total_us() * 1e-3);
    outln!("{:<22} {:>10} {:>10}", "ms", "predicted", "measured");
    outln!(
        "{:<22} {:>10.2} {:>10.2}",
        "device (head)",
        p.device,
        m.device_us * 1e-3
    );
    outln!(
        "{:<22} {:>10.2} {:>10.2}",
        "encode",
        p.encode,
        m.encode_us * 1e-3
    );
    outln!(
        "{:<22} {:>10.2} {:>10.2}",
        "network (up+rtt+down)",
        p.upload + p.rtt + p.download,
        m.network_us * 1e-3
    );
    outln!(
        "{:<22} {:>10.2} {:>10.2}",
        "server (queue+run)",
        p.queue + p.server + p.decode,
        server
    );
    if m.fallback_us > 0.0 {
        outln!(
            "{:<22} {:>10} {:>10.2}",
            "fallback on device",
            "",
            m.fallback_us * 1e-3
        );
    }
    outln!(
        "{:<22} {:>10.2} {:>10.2}",
        "total",
        p.total(),
        m.total_us * 1e-3
    );
    if let Some(s) = m.server {
        outln!(
            "server: queued {:.2} ms, decoded {:.2} ms, ran {:.2} ms in a batch of {}",
            s.queue_us * 1e-3,
            s.decode_us * 1e-3,
            s.compute_us * 1e-3,
            s.batch_size
        );
    }
    outln!(
        "estimates: up {:.1} Mbit/s, down {:.1} Mbit/s, rtt {:.2} ms, queue {:.2} ms, slowdown {:.2}, batch {:.1}",
        o.estimate.uplink_bytes_per_s * 8e-6,
        o.estimate.downlink_bytes_per_s * 8e-6,
        o.estimate.rtt_us * 1e-3,
        o.estimate.queue_us * 1e-3,
        o.estimate.server_slowdown,
        o.estimate.server_batch
    );
}

fn print_summary(all: &[InferOutcome]) {
    let lat: Vec<f64> = all.iter().map(|o| o.measured.total_us * 1e-3).collect();
    let q = |x| loadpart_bench::loadgen::quantile(&lat, x);
    let mean = lat.iter().sum::<f64>() / lat.len() as f64;
    let offloaded = all.iter().filter(|o| o.route.offloaded()).count();
    let mut cuts: Vec<(String, usize)> = Vec::new();
    for o in all {
        let c = o.cut.to_string();
        match cuts.iter_mut().find(|(k, _)| *k == c) {
            Some((_, n)) => *n += 1,
            None => cuts.push((c, 1)),
        }
    }
    cuts.sort_by_key(|c| std::cmp::Reverse(c.1));
    outln!(
        "\n{} inferences: mean {mean:.2} ms, p50 {:.2}, p95 {:.2}, p99 {:.2}; {offloaded} offloaded",
        all.len(),
        q(0.5),
        q(0.95),
        q(0.99)
    );
    for (c, n) in cuts.iter().take(5) {
        outln!("  cut {c}: {n}");
    }
}
