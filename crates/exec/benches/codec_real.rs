//! Codec speed and ratio on real cut-tensor activations: ResNet-50 and Inception v1 (weights
//! randomised, seed 7; one random input at batch 1), at an early, a middle and a late
//! single-tensor cut of each, per mode. Run:
//! `cargo bench -p loadpart-exec --bench codec_real` (needs `scripts/setup.sh`'s light models
//! and ONNX Runtime, else tract computes the activations).
//!
//! It first prints a table measured in this thread's CPU time (median of 7 chunks of >= 0.15 s
//! each; robust to other processes on a busy machine), then runs criterion (wall time; medians
//! in `target/criterion/codec_real_<model>_<cut>/<encode|decode>_<mode>/new/estimates.json`).
//! MB/s are of f32 input (10^6 B/s); decode includes validation and the checksum.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use loadpart_codec::{DecodeLimits, Decoder, Encoder, validate};
use loadpart_engine::EngineKind;
use loadpart_exec::{EncodeOptions, Prepared, Split, random_inputs, randomize_for_checks};

/// One cut tensor of one model.
struct Activation {
    label: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Every named codec mode (one table for all benches: [`loadpart_codec::NAMED_MODES`]).
fn modes() -> impl Iterator<Item = (&'static str, EncodeOptions)> {
    loadpart_codec::NAMED_MODES.into_iter()
}

/// Head outputs at the single-tensor cuts found at 20%, 50% and 80% of each model's boundary
/// list (full offload and full local excluded).
fn activations() -> Vec<Activation> {
    let engine = loadpart_engine::engine(EngineKind::Ort)
        .or_else(|_| loadpart_engine::engine(EngineKind::Tract))
        .expect("an engine");
    let mut out = Vec::new();
    for name in ["resnet50", "inception_v1"] {
        let model = loadpart_graph::zoo::load_light(name).unwrap_or_else(|e| panic!("{e}"));
        let prepared = Prepared::new(&randomize_for_checks(&model, 7).expect("randomizes"))
            .expect("light model prepares");
        let space = prepared.stages.cut_space(10_000);
        let inner: Vec<_> = space
            .boundaries()
            .iter()
            .filter(|b| {
                !b.cut.is_full_offload() && !b.cut.is_full_local() && b.cut.tensors.len() == 1
            })
            .map(|b| b.cut.id(prepared.stages.dag()))
            .collect();
        let inputs = random_inputs(&prepared.model, 1, 7).expect("inputs");
        for (pos, frac) in [("early", 0.2), ("middle", 0.5), ("late", 0.8)] {
            let cut = &inner[((inner.len() - 1) as f64 * frac).round() as usize];
            let runner =
                Split::load(engine.as_ref(), &prepared, cut, &Default::default()).expect("loads");
            let mut t = runner.run_head(&inputs).expect("head runs").outputs;
            let (tensor, t) = t.swap_remove(0);
            let shape = t.shape.clone();
            let data = t.into_f32().expect("f32 activation");
            let clean: String = tensor
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            out.push(Activation {
                label: format!("{name}_{pos}_{clean}"),
                shape,
                data,
            });
        }
    }
    out
}

/// Nanoseconds this thread has run on a CPU (Linux), or wall-clock nanoseconds.
fn cpu_ns(start: Instant) -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| start.elapsed().as_nanos() as u64)
}

/// Median over 7 chunks (each >= 0.15 s and >= 5 calls) of MB/s in CPU time and in wall time.
fn rates(mb: f64, mut f: impl FnMut()) -> (f64, f64) {
    let t0 = Instant::now();
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let (c0, w0) = (cpu_ns(t0), Instant::now());
        let mut n = 0usize;
        while n < 5 || w0.elapsed().as_secs_f64() < 0.15 {
            f();
            n += 1;
        }
        let (c, w) = (cpu_ns(t0) - c0, w0.elapsed().as_nanos() as u64);
        cpu.push(mb * n as f64 / (c.max(1) as f64 * 1e-9));
        wall.push(mb * n as f64 / (w.max(1) as f64 * 1e-9));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_unstable_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(cpu), median(wall))
}

fn cpu_table(acts: &[Activation]) {
    let limits = DecodeLimits::default();
    println!(
        "{:<44} {:<14} {:<11} {:>6}  {:>9} {:>9}  {:>9} {:>9}",
        "activation", "shape", "mode", "ratio", "enc cpu", "enc wall", "dec cpu", "dec wall"
    );
    for a in acts {
        let mb = a.data.len() as f64 * 4.0 / 1e6;
        for (mode, opts) in modes() {
            let mut enc = Encoder::new(opts).expect("valid options");
            let e = enc.encode(&a.data, &a.shape).expect("encodes");
            let mut dec = Decoder::new();
            let mut out = vec![0f32; a.data.len()];
            let (ec, ew) = rates(mb, || {
                black_box(enc.encode(black_box(&a.data), &a.shape).expect("encodes"));
            });
            let (dc, dw) = rates(mb, || {
                let t = validate(&e.header, &e.payload, &limits).expect("valid");
                dec.decode_into(&t, &mut out).expect("decodes");
            });
            let shape = a
                .shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x");
            let ratio = a.data.len() as f64 * 4.0 / e.wire_len() as f64;
            println!(
                "{:<44} {shape:<14} {mode:<11} {ratio:>6.2}  {ec:>9.0} {ew:>9.0}  {dc:>9.0} {dw:>9.0}",
                a.label
            );
        }
    }
    println!("(MB/s of f32 input, one thread, median of 7 chunks; cpu = this thread's CPU time)\n");
}

fn criterion_benches(c: &mut Criterion, acts: &[Activation]) {
    let limits = DecodeLimits::default();
    for a in acts {
        let mut g = c.benchmark_group(format!("codec_real_{}", a.label));
        g.throughput(Throughput::Bytes(a.data.len() as u64 * 4));
        for (mode, opts) in modes() {
            let mut enc = Encoder::new(opts).expect("valid options");
            let e = enc.encode(&a.data, &a.shape).expect("encodes");
            g.bench_function(format!("encode_{mode}"), |b| {
                b.iter(|| black_box(enc.encode(black_box(&a.data), &a.shape).expect("encodes")))
            });
            let mut dec = Decoder::new();
            let mut out = vec![0f32; a.data.len()];
            g.bench_function(format!("decode_{mode}"), |b| {
                b.iter(|| {
                    let t = validate(&e.header, &e.payload, &limits).expect("valid");
                    dec.decode_into(&t, &mut out).expect("decodes");
                })
            });
        }
        g.finish();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--test" || a == "--list");
    let acts = activations();
    if !quick && std::env::var_os("CODEC_REAL_NO_CPU_TABLE").is_none() {
        cpu_table(&acts);
    }
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1))
        .configure_from_args();
    criterion_benches(&mut c, &acts);
    c.final_summary();
}
