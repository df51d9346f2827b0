//! loadpart's ONNX Runtime engine against Python `onnxruntime` on the same model files, threads
//! and cores, run by run in lock step.
//!
//! `scripts/bench-engine.sh` is the command (it pins the cores, checks that both sides use the
//! pinned ONNX Runtime version and builds this example); it passes its arguments here:
//!
//! `vs_onnxruntime --python PY --worker scripts/ort_worker.py [--models resnet50,inception_v1,squeezenet]
//!  [--batches 1,8] [--threads 2] [--spinning on|off] [--copy-outputs off|on] [--runs 40]
//!  [--warmup 5] [--gap-ms 50] [--order alternate|blocks|blocks-python-first] [--dir DIR]`
//!
//! Each run starts after `--gap-ms` (default 50) of quiet: ONNX Runtime's idle workers spin for
//! milliseconds after a run (its default), and without the gap one process's spinning workers
//! take the 2 cores from the other's next run, which measures the pair rather than the engine.
//!
//! `--order blocks` (a diagnostic) runs every run of loadpart's side, then every run of Python's
//! (`blocks-python-first` the other way round),
//! instead of alternating, to show how much the two processes' thread pools disturb each other.
//! `--copy-outputs on` copies every output into a `Vec` inside the timed call, as the engine did
//! before it handed ONNX Runtime's output memory over, to measure that change on its own.
//!
//! Each light model is written once with a dynamic batch (and seeded random weights, so that
//! activations look like a trained network's rather than one repeated constant) to DIR, and both
//! sides load that file. Python runs it in a long-lived worker (`scripts/ort_worker.py`) with
//! default `SessionOptions` except `intra_op_num_threads`; this side loads it through
//! `loadpart_engine` with the same thread count. Both sides read the same input bytes. Pair k
//! runs one side then the other, the first side alternating with k, so machine noise hits both
//! alike; each side is timed as wall clock around its run call, outputs handed over included
//! (Python: `InferenceSession.run` returning numpy arrays; here: `Model::run` returning owned
//! tensors). Printed per model and batch: median times, and the ratio loadpart / Python as the
//! median of the per-pair ratios with a distribution-free 95% confidence interval (order
//! statistics), and as the geometric mean with a t interval.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use loadpart_engine::{LoadOptions, Model, Spinning, TensorRef};

struct Args {
    python: String,
    worker: String,
    models: Vec<String>,
    batches: Vec<usize>,
    threads: usize,
    spinning: Spinning,
    copy_outputs: bool,
    blocks: bool,
    python_first: bool,
    gap: std::time::Duration,
    runs: usize,
    warmup: usize,
    dir: PathBuf,
}

fn parse_args() -> Args {
    let mut a = Args {
        python: "python3".into(),
        worker: "scripts/ort_worker.py".into(),
        models: ["resnet50", "inception_v1", "squeezenet"]
            .map(String::from)
            .to_vec(),
        batches: vec![1, 8],
        threads: 2,
        spinning: Spinning::On,
        copy_outputs: false,
        blocks: false,
        python_first: false,
        gap: std::time::Duration::from_millis(50),
        runs: 40,
        warmup: 5,
        dir: PathBuf::from("target/bench-models"),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
    for pair in args.chunks(2) {
        let [key, value] = pair else {
            panic!("arguments come as --key value pairs, got {pair:?}");
        };
        match key.as_str() {
            "--python" => a.python = value.clone(),
            "--worker" => a.worker = value.clone(),
            "--models" => a.models = list(value),
            "--batches" => {
                a.batches = list(value)
                    .iter()
                    .map(|b| b.parse().expect("batch"))
                    .collect()
            }
            "--threads" => a.threads = value.parse().expect("threads"),
            "--spinning" => a.spinning = value.parse().expect("spinning: on or off"),
            "--copy-outputs" => a.copy_outputs = value == "on",
            "--order" => {
                a.blocks = value.starts_with("blocks");
                a.python_first = value == "blocks-python-first";
            }
            "--gap-ms" => a.gap = std::time::Duration::from_millis(value.parse().expect("gap")),
            "--runs" => a.runs = value.parse().expect("runs"),
            "--warmup" => a.warmup = value.parse().expect("warmup"),
            "--dir" => a.dir = PathBuf::from(value),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        a.threads > 0,
        "--threads must be at least 1 (both sides share it)"
    );
    assert!(a.runs >= 8, "--runs must be at least 8 for an interval");
    a
}

/// The Python `onnxruntime` worker, answering one line per command.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn spawn(python: &str, script: &str) -> Worker {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {python} {script}: {e}"));
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Worker {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("worker stdin");
        self.stdin.flush().expect("worker stdin");
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("worker stdout");
        let reply = reply.trim().to_owned();
        assert!(
            !reply.is_empty() && !reply.starts_with("err"),
            "python worker on {line:?}: {reply:?}"
        );
        reply
    }

    /// Seconds of one timed run, after `gap` of quiet.
    fn run(&mut self, gap: std::time::Duration) -> f64 {
        std::thread::sleep(gap);
        self.ask("run").parse::<f64>().expect("nanoseconds") * 1e-9
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Writes `name` once as a dynamic-batch model with seeded random weights; returns its path.
fn write_model(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.dynamic.onnx"));
    if !path.exists() {
        let src = loadpart_graph::zoo::light_model_path(name)
            .unwrap_or_else(|e| panic!("light model {name} (scripts/setup.sh): {e}"));
        let model = loadpart_graph::OnnxModel::load(&src).expect("model");
        let model = loadpart_graph::randomize_weights(&model, 7).expect("weights");
        let model = loadpart_graph::make_batch_dynamic(&model).expect("dynamic batch");
        std::fs::create_dir_all(dir).expect("model dir");
        std::fs::write(&path, model.to_bytes()).expect("write model");
    }
    path
}

/// Deterministic inputs in [0, 1), the same bytes for both sides.
fn input_data(n: usize) -> Vec<f32> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Median of `r` with a distribution-free 95% interval: order statistics n/2 -+ 1.96 sqrt(n)/2.
fn median_ci(r: &[f64]) -> (f64, f64, f64) {
    let mut s = r.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    let half = 0.98 * n.sqrt();
    let lo = ((n / 2.0 - half).floor().max(0.0)) as usize;
    let hi = ((n / 2.0 + half).ceil() as usize).min(s.len() - 1);
    (median(r), s[lo], s[hi])
}

/// Geometric mean of `r` with a 95% t interval on the logs (normal quantile past 30 pairs).
fn geomean_ci(r: &[f64]) -> (f64, f64, f64) {
    let logs: Vec<f64> = r.iter().map(|x| x.ln()).collect();
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = if n > 30.0 { 1.96 } else { 2.05 };
    let half = t * (var / n).sqrt();
    (mean.exp(), (mean - half).exp(), (mean + half).exp())
}

fn main() {
    let args = parse_args();
    let engine = loadpart_engine::engine(loadpart_engine::EngineKind::Ort).expect("ort engine");
    let opts = LoadOptions {
        intra_threads: args.threads,
        spinning: args.spinning,
        ..Default::default()
    };
    let mut worker = Worker::spawn(&args.python, &args.worker);
    println!(
        "loadpart ort engine / python onnxruntime, {} threads, loadpart spinning {}{}, {} pairs after {} warm-up, {} ms between runs, cpus {}",
        args.threads,
        args.spinning,
        if args.copy_outputs {
            ", outputs copied"
        } else {
            ""
        },
        args.runs,
        args.warmup,
        args.gap.as_millis(),
        allowed_cpus()
    );
    println!(
        "{:<14} {:>5} {:>11} {:>11} {:>24} {:>24}",
        "model",
        "batch",
        "loadpart ms",
        "python ms",
        "median ratio [95% CI]",
        "geomean ratio [95% CI]"
    );
    let mut version = String::new();
    for name in &args.models {
        let path = write_model(&args.dir, name);
        let model = engine
            .load(&std::fs::read(&path).expect("read model"), &opts)
            .expect("load");
        for &batch in &args.batches {
            let info = &model.inputs()[0];
            assert_eq!(model.inputs().len(), 1, "{name}: one input expected");
            let shape: Vec<usize> = std::iter::once(batch)
                .chain(info.shape[1..].iter().map(|d| match d {
                    loadpart_engine::Dim::Fixed(n) => *n,
                    loadpart_engine::Dim::Dynamic(_) => {
                        panic!("{name}: only the batch may be dynamic")
                    }
                }))
                .collect();
            let data = input_data(shape.iter().product());
            let input_file = args.dir.join(format!("{name}.b{batch}.input.f32"));
            let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(&input_file, bytes).expect("write input");
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            let reply = worker.ask(&format!(
                "load {} {} {} {} {}",
                path.display(),
                args.threads,
                info.name,
                input_file.display(),
                dims.join(",")
            ));
            version = reply.trim_start_matches("ok ").to_owned();
            let view = [(
                info.name.as_str(),
                TensorRef::f32(&shape, &data).expect("input"),
            )];
            let gap = args.gap;
            let ours = |m: &dyn Model| {
                std::thread::sleep(gap);
                let start = Instant::now();
                let out = m.run(&view).expect("run");
                // What the engine did before it handed ONNX Runtime's memory over: a copy of
                // every output into a Vec (to measure that change on its own).
                let copies: Vec<Vec<f32>> = if args.copy_outputs {
                    out.outputs
                        .iter()
                        .filter_map(|(_, t)| t.as_f32().map(<[f32]>::to_vec))
                        .collect()
                } else {
                    Vec::new()
                };
                let t = start.elapsed().as_secs_f64();
                drop(copies);
                drop(out);
                t
            };
            let (mut a, mut b, mut ratios) = (vec![], vec![], vec![]);
            if args.blocks {
                // Diagnostic: every run of one side, then every run of the other.
                let n = args.warmup + args.runs;
                let (mut ta, mut tb): (Vec<f64>, Vec<f64>) = if args.python_first {
                    let tb = (0..n).map(|_| worker.run(gap)).collect();
                    ((0..n).map(|_| ours(model.as_ref())).collect(), tb)
                } else {
                    let ta = (0..n).map(|_| ours(model.as_ref())).collect();
                    (ta, (0..n).map(|_| worker.run(gap)).collect())
                };
                a = ta.split_off(args.warmup);
                b = tb.split_off(args.warmup);
                ratios = a.iter().zip(&b).map(|(x, y)| x / y).collect();
            }
            for k in 0..if args.blocks {
                0
            } else {
                args.warmup + args.runs
            } {
                let (ta, tb) = if k % 2 == 0 {
                    let ta = ours(model.as_ref());
                    (ta, worker.run(gap))
                } else {
                    let tb = worker.run(gap);
                    (ours(model.as_ref()), tb)
                };
                if k >= args.warmup {
                    a.push(ta);
                    b.push(tb);
                    ratios.push(ta / tb);
                }
            }
            let (m, mlo, mhi) = median_ci(&ratios);
            let (g, glo, ghi) = geomean_ci(&ratios);
            println!(
                "{:<14} {:>5} {:>11.2} {:>11.2} {:>24} {:>24}",
                name,
                batch,
                median(&a) * 1e3,
                median(&b) * 1e3,
                format!("{m:.3} [{mlo:.3}, {mhi:.3}]"),
                format!("{g:.3} [{glo:.3}, {ghi:.3}]")
            );
        }
    }
    println!("python onnxruntime {version}");
}

/// The CPUs this process may run on (the worker inherits them), from /proc.
fn allowed_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "?".into())
}
