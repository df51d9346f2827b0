//! Head and tail times of chosen cuts, interleaved with whole-model runs, to study what a
//! profile should predict.
//!
//! `cargo run --release -p loadpart-exec --example time_cuts -- MODEL.onnx BATCH RUNS CUT [CUT...]`
//! where each CUT is comma-separated tensor names.

use std::time::{Duration, Instant};

use loadpart_engine::{EngineKind, LoadOptions};
use loadpart_exec::{Prepared, SplitRunner, random_inputs};
use loadpart_graph::OnnxModel;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, batch, runs, cuts @ ..] = args.as_slice() else {
        eprintln!("usage: time_cuts MODEL BATCH RUNS CUT...");
        std::process::exit(2);
    };
    let batch: usize = batch.parse().expect("batch");
    let runs: usize = runs.parse().expect("runs");
    let engine = loadpart_engine::engine(EngineKind::Ort).expect("engine");
    let prepared = Prepared::new(&OnnxModel::load(path).expect("model"), None).expect("prepare");
    let opts = LoadOptions::default();
    let full = engine
        .load(&prepared.model.to_bytes(), &opts)
        .expect("load");
    let inputs = random_inputs(&prepared.model, batch, 1).expect("inputs");
    let views: Vec<_> = inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    println!(
        "{:>30}  {:>8} {:>8} {:>8} {:>8}  (min / median ms)",
        "cut", "full", "head", "tail", "h+t wall"
    );
    for cut in cuts {
        let names: Vec<String> = cut.split(',').map(str::to_owned).collect();
        let runner =
            SplitRunner::load(engine.as_ref(), &prepared.model, &names, &opts).expect("split");
        let (mut f, mut h, mut t, mut w) = (vec![], vec![], vec![], vec![]);
        for k in 0..runs + 2 {
            let start = Instant::now();
            full.run(&views).expect("full");
            let fw = start.elapsed();
            let start = Instant::now();
            let (c, th) = runner.run_head(&inputs).expect("head");
            let (_, tt) = runner.run_tail(&c).expect("tail");
            let ww = start.elapsed();
            if k >= 2 {
                f.push(fw);
                h.push(th);
                t.push(tt);
                w.push(ww);
            }
        }
        let s = |v: &mut Vec<Duration>| {
            v.sort_unstable();
            format!(
                "{:.1}/{:.1}",
                v[0].as_secs_f64() * 1e3,
                v[v.len() / 2].as_secs_f64() * 1e3
            )
        };
        println!(
            "{cut:>30}  {} {} {} {}",
            s(&mut f),
            s(&mut h),
            s(&mut t),
            s(&mut w)
        );
    }
}
