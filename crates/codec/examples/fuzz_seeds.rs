//! Writes seed inputs for the `decode` fuzz target: one valid blob per mode, prefixed with the
//! target's mode byte 0 (as received) and 1 (re-sealed), plus one parameter-form input.
//!
//! `cargo run -p loadpart-codec --example fuzz_seeds -- crates/codec/fuzz/corpus/decode`

use loadpart_codec::{
    Compression, EncodeOptions, Granularity, PARAM_KEYS, ParamValue, Precision, encode,
    synthetic_activations,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: fuzz_seeds DIR")?;
    std::fs::create_dir_all(&dir)?;
    let shape = [2usize, 3, 4, 4];
    let data = synthetic_activations(&shape, 11);
    let precisions = [
        ("u8row", Precision::U8(Granularity::PerRow)),
        ("u8ch", Precision::U8(Granularity::PerChannel)),
        ("f16", Precision::F16),
        ("f32", Precision::F32),
    ];
    // zstd-delta: uint8 feature maps as row differences (ignored for f16 and f32).
    let compressions = [
        ("none", Compression::None, false),
        ("zstd", Compression::Zstd { level: 1 }, false),
        ("zstd_delta", Compression::Zstd { level: 1 }, true),
        ("lz4", Compression::Lz4, false),
    ];
    for (pn, precision) in precisions {
        for (cn, compression, delta) in compressions {
            let opts = EncodeOptions {
                precision,
                compression,
                min_ratio: 1.0,
                bits: 8,
                delta,
            };
            let e = encode(&data, &shape, &opts)?;
            for mode in [0u8, 1] {
                let mut b = vec![mode];
                b.extend(e.to_bytes());
                std::fs::write(format!("{dir}/seed-{pn}-{cn}-{mode}"), b)?;
            }
            if cn == "zstd" {
                // Parameter form for the target's mode 2.
                let mut b = vec![2u8];
                for (k, v) in e.header.to_params() {
                    let idx = PARAM_KEYS
                        .iter()
                        .position(|&n| n == k)
                        .ok_or("unknown key")? as u8
                        + 1;
                    let (kind, s) = match v {
                        ParamValue::String(s) => (0u8, s),
                        ParamValue::Int64(i) => (1, i.to_string()),
                        other => return Err(format!("unexpected {other:?}").into()),
                    };
                    if s.len() > 255 {
                        continue;
                    }
                    b.extend([idx, kind, s.len() as u8]);
                    b.extend(s.as_bytes());
                }
                b.push(0);
                b.extend(&e.payload);
                std::fs::write(format!("{dir}/seed-{pn}-params"), b)?;
            }
        }
    }
    Ok(())
}
