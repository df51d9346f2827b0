//! Integration tests of loadpart-codec, one binary (see STYLE.md).

mod alloc_track;
mod batch;
mod corruption;
mod limits;
mod params;
mod roundtrip;
mod stats;

use loadpart_codec::{Compression, EncodeOptions, Granularity, Precision};

/// Every precision x compression combination the encoder supports, uint8 also with 6- and
/// 2-bit codes.
pub fn all_modes() -> Vec<EncodeOptions> {
    let mut v = Vec::new();
    for precision in [
        Precision::U8(Granularity::PerRow),
        Precision::U8(Granularity::PerChannel),
        Precision::U8Auto,
        Precision::F16,
        Precision::F32,
    ] {
        for compression in [
            Compression::None,
            Compression::Zstd { level: 1 },
            Compression::Lz4,
        ] {
            let base = EncodeOptions::with(precision, compression);
            v.push(base);
            if matches!(precision, Precision::U8(_) | Precision::U8Auto) {
                v.push(base.with_bits(6));
                v.push(base.with_bits(2));
                if matches!(compression, Compression::Zstd { .. }) {
                    v.push(base.with_delta(true));
                    v.push(base.with_bits(6).with_delta(true));
                }
            }
        }
    }
    v
}
