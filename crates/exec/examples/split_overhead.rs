//! Split overhead: head + tail time against whole-model time, on the same engine in the same
//! process, runs interleaved so machine noise hits both alike, both timed as wall time around
//! the engine calls (output hand-over included). Prints medians and the median of per-run ratios.
//!
//! `cargo run --release -p loadpart-exec --example split_overhead -- [MODEL.onnx] [ort|tract] [cuts] [runs] [threads]`
//! `[copy]` (default: the light ResNet-50 installed by scripts/setup.sh, ort, 8 cuts, 30 runs,
//! the engine's default thread count; `copy` adds a column timing head + tail with every output
//! copied out of the engine, as it was before the engine handed its memory over).

use std::time::{Duration, Instant};

use loadpart_engine::{EngineKind, LoadOptions};
use loadpart_exec::{Prepared, Split, random_inputs, randomize_for_checks};
use loadpart_graph::OnnxModel;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).cloned().unwrap_or_else(|| {
        loadpart_graph::zoo::light_model_path("resnet50")
            .expect("light models installed (scripts/setup.sh)")
            .display()
            .to_string()
    });
    let kind: EngineKind = args
        .get(2)
        .map(|s| s.parse().expect("engine"))
        .unwrap_or(EngineKind::Ort);
    let n_cuts: usize = args.get(3).map(|s| s.parse().expect("cuts")).unwrap_or(8);
    let runs: usize = args.get(4).map(|s| s.parse().expect("runs")).unwrap_or(30);
    let threads: usize = args
        .get(5)
        .map(|s| s.parse().expect("threads"))
        .unwrap_or(0);
    // "copy": also time head + tail with every output copied into a `Vec`, as the engine did
    // before it handed ONNX Runtime's memory over, interleaved with the rest.
    let with_copy = args.get(6).is_some_and(|s| s == "copy");

    let engine = loadpart_engine::engine(kind).expect("engine");
    let model = randomize_for_checks(&OnnxModel::load(&path).expect("model"), 7).expect("weights");
    let prepared = Prepared::new(&model).expect("prepare");
    // A device's settings: workers that sleep when idle, in the shared pool unless a thread
    // count is given.
    let opts = LoadOptions {
        intra_threads: threads,
        ..Default::default()
    };
    let full = engine
        .load(&prepared.model.to_bytes(), &opts)
        .expect("load");
    let inputs = random_inputs(&prepared.model, 1, 1).expect("inputs");
    let views: Vec<_> = inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();

    let space = prepared.stages.cut_space(10_000);
    let cuts: Vec<_> = space
        .all_candidate_cuts()
        .filter(|c| !c.cut.is_full_local() && !c.cut.is_full_offload())
        .map(|c| c.cut.id(prepared.stages.dag()))
        .collect();
    let step = (cuts.len() / n_cuts.max(1)).max(1);
    println!(
        "{path} on {kind}, batch 1, {} intra-op threads, median of {runs} interleaved runs",
        if threads == 0 {
            "default".to_owned()
        } else {
            threads.to_string()
        }
    );
    println!(
        "{:>4}  {:>9}  {:>9}  {:>9}  {:>11}  {:>8}  {:>8}  cut",
        "#",
        "full ms",
        "head ms",
        "tail ms",
        "head+tail",
        "ratio",
        if with_copy { "w/ copy" } else { "" }
    );
    let (mut ratios, mut copy_ratios) = (Vec::new(), Vec::new());
    for (i, cut) in cuts.iter().step_by(step).take(n_cuts).enumerate() {
        let runner = Split::load(engine.as_ref(), &prepared, cut, &opts).expect("split");
        let (mut tf, mut th, mut tt, mut ts) = (vec![], vec![], vec![], vec![]);
        let (mut per_run, mut per_run_copy) = (Vec::new(), Vec::new());
        for k in 0..runs + 3 {
            // Both sides timed the same way: wall time around the engine calls, output
            // hand-over included; which goes first alternates from run to run.
            let whole = || {
                let start = Instant::now();
                full.run(&views).expect("full");
                start.elapsed()
            };
            let split = || {
                let start = Instant::now();
                let head = runner.run_head(&inputs).expect("head");
                // The tail reads the tensors it needs from the head's outputs in place (a part
                // ignores tensors it does not read), as the engine hands them over: no copy.
                let t = runner.run_tail(&head.outputs).expect("tail").elapsed;
                (head.elapsed, t, start.elapsed())
            };
            let copied = || {
                if !with_copy {
                    return Duration::ZERO;
                }
                let start = Instant::now();
                let head = runner.run_head(&inputs).expect("head");
                let sent: Vec<_> = head.outputs.to_vec();
                let tail = runner.run_tail(&sent).expect("tail");
                let kept: Vec<_> = tail.outputs.to_vec();
                let wall = start.elapsed();
                drop((sent, kept));
                wall
            };
            let (f, (h, t, wall), c) = if k % 2 == 0 {
                let f = whole();
                let s = split();
                (f, s, copied())
            } else {
                let c = copied();
                let s = split();
                (whole(), s, c)
            };
            if k >= 3 {
                tf.push(f);
                th.push(h);
                tt.push(t);
                ts.push(wall);
                per_run.push(wall.as_secs_f64() / f.as_secs_f64());
                per_run_copy.push(c.as_secs_f64() / f.as_secs_f64());
            }
        }
        let (f, h, t, s) = (median(tf), median(th), median(tt), median(ts));
        // Median of per-run ratios: the host's speed drifts over seconds, and each ratio
        // compares runs made moments apart.
        per_run.sort_by(f64::total_cmp);
        let ratio = per_run[per_run.len() / 2];
        ratios.push(ratio);
        per_run_copy.sort_by(f64::total_cmp);
        let copy_ratio = per_run_copy[per_run_copy.len() / 2];
        copy_ratios.push(copy_ratio);
        let copy_column = if with_copy {
            format!("{copy_ratio:.3}")
        } else {
            String::new()
        };
        println!(
            "{i:>4}  {f:>9.2}  {h:>9.2}  {t:>9.2}  {s:>11.2}  {ratio:>8.3}  {copy_column:>8}  {cut}"
        );
    }
    ratios.sort_by(f64::total_cmp);
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    println!(
        "head+tail / full: mean {mean:.3}, median {:.3}, max {:.3}",
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1]
    );
    if with_copy {
        let mean = copy_ratios.iter().sum::<f64>() / copy_ratios.len() as f64;
        let max = copy_ratios.iter().copied().fold(0.0, f64::max);
        println!("with every output copied: mean {mean:.3}, max {max:.3}");
    }
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort_unstable();
    v[v.len() / 2].as_secs_f64() * 1e3
}
