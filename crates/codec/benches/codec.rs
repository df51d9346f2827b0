//! Encode and decode throughput (MB/s of f32) and size ratio per mode on activation-like data.
//!
//! `cargo bench -p loadpart-codec --bench codec`. Ratios are printed once per case on stderr
//! (criterion reports only times). Decode includes validation (checksum) as the server runs it.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use loadpart_codec::{
    DecodeLimits, Decoder, EncodeOptions, Encoder, synthetic_activations, validate,
};

/// Every named codec mode (one table for all benches: [`loadpart_codec::NAMED_MODES`]).
fn modes() -> impl Iterator<Item = (&'static str, EncodeOptions)> {
    loadpart_codec::NAMED_MODES.into_iter()
}

fn bench(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    for shape in [[1usize, 256, 56, 56], [1, 832, 7, 7]] {
        let data = synthetic_activations(&shape, 7);
        let bytes = (data.len() * 4) as u64;
        let label = format!("{}x{}x{}x{}", shape[0], shape[1], shape[2], shape[3]);
        let mut g = c.benchmark_group(format!("codec/{label}"));
        g.throughput(Throughput::Bytes(bytes));
        g.sample_size(20);
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(2));
        for (name, opts) in modes() {
            let mut enc = Encoder::new(opts).unwrap();
            let e = enc.encode(&data, &shape).unwrap();
            eprintln!(
                "ratio {label} {name}: {:.2} (payload {} B + header {} B, codec {:?})",
                bytes as f64 / e.wire_len() as f64,
                e.payload.len(),
                e.header.binary_len(),
                e.header.codec
            );
            g.bench_function(BenchmarkId::new("encode", name), |b| {
                b.iter(|| enc.encode(black_box(&data), &shape).unwrap())
            });
            let mut dec = Decoder::new();
            let mut out = vec![0.0f32; data.len()];
            g.bench_function(BenchmarkId::new("decode", name), |b| {
                b.iter(|| {
                    let t = validate(&e.header, black_box(&e.payload), &limits).unwrap();
                    dec.decode_into(&t, &mut out).unwrap();
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
