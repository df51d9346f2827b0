//! Codec throughput in CPU time of one thread, robust to other processes sharing the cores
//! (criterion's wall-clock numbers are not, on a busy 2-core machine).
//!
//! `cargo run --release -p loadpart-codec --example codec_speed [REPEATS]`
//!
//! Prints one line per shape and mode: ratio (f32 bytes / wire bytes) and mean encode and
//! decode MB/s of f32 (10^6 bytes per second), decode including validation and checksum.
//! CPU time comes from /proc/thread-self/schedstat (Linux); elsewhere it falls back to wall time.

use std::time::Instant;

use loadpart_codec::{DecodeLimits, Decoder, Encoder, synthetic_activations, validate};

/// Nanoseconds this thread has run on a CPU, or wall-clock nanoseconds if unavailable.
fn cpu_ns(start: Instant) -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| start.elapsed().as_nanos() as u64)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(30);
    let modes = loadpart_codec::NAMED_MODES;
    let limits = DecodeLimits::default();
    let t0 = Instant::now();
    println!("shape        mode          ratio   encode MB/s   decode MB/s");
    for shape in [[1usize, 256, 56, 56], [1, 832, 7, 7], [8, 256, 28, 28]] {
        let data = synthetic_activations(&shape, 7);
        let mb = data.len() as f64 * 4.0 / 1e6;
        for (name, opts) in modes {
            let mut enc = Encoder::new(opts)?;
            let mut dec = Decoder::new();
            let mut out = vec![0.0f32; data.len()];
            let e = enc.encode(&data, &shape)?;
            let wire = e.wire_len();
            // Totals over all repeats: schedstat advances at scheduler ticks, so single
            // iterations would be quantised.
            // At least `repeats` runs and 0.3 s of wall time per measurement.
            let enough =
                |i: usize, since: Instant| i >= repeats && since.elapsed().as_secs_f64() > 0.3;
            let (a, w, mut ne) = (cpu_ns(t0), Instant::now(), 0usize);
            while !enough(ne, w) {
                std::hint::black_box(enc.encode(&data, &shape)?);
                ne += 1;
            }
            let (b, w, mut nd) = (cpu_ns(t0), Instant::now(), 0usize);
            while !enough(nd, w) {
                let t = validate(&e.header, &e.payload, &limits)?;
                dec.decode_into(&t, &mut out)?;
                nd += 1;
            }
            let c = cpu_ns(t0);
            let (te, td) = ((b - a) / ne as u64, (c - b) / nd as u64);
            let rate = |ns: u64| mb / (ns as f64 * 1e-9);
            println!(
                "{:<12} {:<12} {:>6.2} {:>13.0} {:>13.0}",
                shape.map(|d| d.to_string()).join("x"),
                name,
                data.len() as f64 * 4.0 / wire as f64,
                rate(te),
                rate(td),
            );
        }
    }
    Ok(())
}
