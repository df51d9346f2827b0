//! Integration tests of loadpart-codec, one binary (see STYLE.md).

mod alloc_track;
mod batch;
mod corruption;
mod limits;
mod params;
mod roundtrip;
mod stats;

use loadpart_codec::{Compression, EncodeOptions, Granularity, Precision};

/// Every precision x compression combination the encoder supports.
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
            v.push(EncodeOptions {
                precision,
                compression,
                min_ratio: 1.0,
            });
        }
    }
    v
}
