//! The codec profile the planner reads.

use loadpart_codec::{CodecStats, EncodeOptions, compression_pays, measure, synthetic_activations};

#[test]
fn measure_reports_sizes_times_and_error() {
    let shape = [1, 32, 14, 14];
    let data = synthetic_activations(&shape, 5);
    let s = measure(&data, &shape, &EncodeOptions::default(), 3).unwrap();
    assert_eq!(s.raw_bytes, data.len() as u64 * 4);
    assert_eq!(s.element_bytes, data.len() as u64);
    assert!(s.encoded_bytes < s.element_bytes);
    assert!(s.ratio > 4.0, "{s:?}");
    assert!(s.compression_ratio > 1.0);
    assert!(s.encode_s_per_byte > 0.0 && s.decode_s_per_byte > 0.0);
    assert!(s.max_abs_error > 0.0 && s.max_abs_error < 0.05);
    // At 10 Mbit/s compression of activations pays.
    assert!(compression_pays(
        s.compression_ratio,
        s.compress_s_per_byte,
        s.decompress_s_per_byte,
        1.25e6
    ));
    let json = serde_json::to_string(&s).unwrap();
    let back: CodecStats = serde_json::from_str(&json).unwrap();
    // serde_json's default float parsing may differ in the last ulp.
    assert_eq!(back.encoded_bytes, s.encoded_bytes);
    assert_eq!(back.options, s.options);
    assert!((back.compress_s_per_byte / s.compress_s_per_byte - 1.0).abs() < 1e-12);
}

#[test]
fn sender_follows_the_break_even_ratio() {
    use loadpart_codec::{Codec, Encoder, break_even_ratio};
    let shape = [1, 16, 14, 14];
    let data = synthetic_activations(&shape, 2);
    let mut enc = Encoder::new(EncodeOptions::default()).unwrap();
    // Slow link: compression pays.
    let r = break_even_ratio(5e-9, 2e-9, 1.25e6).unwrap();
    enc.set_min_ratio(r).unwrap();
    assert_eq!(enc.encode(&data, &shape).unwrap().header.codec, Codec::Zstd);
    // A link faster than the compressor: never compress.
    assert_eq!(break_even_ratio(5e-9, 2e-9, 1e9), None);
    enc.set_min_ratio(f64::INFINITY).unwrap();
    assert_eq!(enc.encode(&data, &shape).unwrap().header.codec, Codec::None);
    assert!(enc.set_min_ratio(0.5).is_err());
    assert!(enc.set_min_ratio(f64::NAN).is_err());
}

#[test]
fn measure_ignores_min_ratio_and_handles_incompressible_and_empty() {
    use loadpart_codec::{Codec, Compression, Precision};
    let shape = [1, 8, 8, 8];
    let data = synthetic_activations(&shape, 4);
    let strict = EncodeOptions {
        min_ratio: 1e9,
        ..EncodeOptions::default()
    };
    let s = measure(&data, &shape, &strict, 2).unwrap();
    assert_eq!(s.codec, Codec::Zstd);
    assert_eq!(s.options.min_ratio, 1.0);
    let raw = EncodeOptions {
        precision: Precision::F16,
        compression: Compression::None,
        min_ratio: 1.0,
        bits: 8,
        delta: false,
    };
    let s = measure(&data, &shape, &raw, 1).unwrap();
    assert_eq!((s.codec, s.compression_ratio), (Codec::None, 1.0));
    assert_eq!(s.decompress_ns, 0);
    let s = measure(&[], &[0, 3], &EncodeOptions::default(), 1).unwrap();
    assert_eq!(s.raw_bytes, 0);
    assert!(s.ratio.is_finite());
}
