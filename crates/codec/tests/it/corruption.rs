//! Corrupted input: an error or the original tensor, never a panic, never a large allocation.

use loadpart_codec::{DecodeLimits, decode_blob, encode, synthetic_activations};
use proptest::prelude::*;

use crate::all_modes;
use crate::alloc_track::peak_alloc;

/// Small limits so that "beyond the configured maximum" is easy to detect.
const LIMITS: DecodeLimits = DecodeLimits {
    max_elements: 4096,
    max_bytes: 16384,
};

/// The largest single allocation decoding may make under `LIMITS` for a blob of `len` bytes:
/// the f32 output, the decompression scratch, or a copy of something the input holds.
fn allowed(len: usize) -> usize {
    (LIMITS.max_elements as usize * 4)
        .max(LIMITS.max_bytes as usize)
        .max(len * 8)
}

fn blob(mode: usize, seed: u64, rows: usize) -> (Vec<u8>, Vec<f32>) {
    let shape = [rows, 3, 5, 7];
    let data = synthetic_activations(&shape, seed);
    let e = encode(&data, &shape, &all_modes()[mode]).unwrap();
    let bytes = e.to_bytes();
    let reference = decode_blob(&bytes, &LIMITS).unwrap().data;
    (bytes, reference)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_byte_changed(mode in 0usize..12, seed in 0u64..50, rows in 1usize..4,
                        pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let (mut bytes, reference) = blob(mode, seed, rows);
        let i = pos.index(bytes.len());
        bytes[i] ^= xor;
        let (r, peak) = peak_alloc(|| decode_blob(&bytes, &LIMITS));
        prop_assert!(peak <= allowed(bytes.len()), "allocated {} bytes", peak);
        if let Ok(d) = r {
            prop_assert_eq!(d.data, reference, "corruption at {} accepted", i);
        }
    }

    #[test]
    fn several_bytes_changed(mode in 0usize..12, seed in 0u64..50,
                             edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let (mut bytes, reference) = blob(mode, seed, 2);
        for (pos, v) in &edits {
            let i = pos.index(bytes.len());
            bytes[i] = *v;
        }
        let (r, peak) = peak_alloc(|| decode_blob(&bytes, &LIMITS));
        prop_assert!(peak <= allowed(bytes.len()), "allocated {} bytes", peak);
        if let Ok(d) = r {
            prop_assert_eq!(d.data, reference);
        }
    }

    #[test]
    fn truncated_or_extended(mode in 0usize..12, cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..16)) {
        let (bytes, _) = blob(mode, 1, 1);
        let n = cut.index(bytes.len());
        prop_assert!(decode_blob(&bytes[..n], &LIMITS).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(decode_blob(&longer, &LIMITS).is_err());
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let (r, peak) = peak_alloc(|| decode_blob(&bytes, &LIMITS));
        prop_assert!(peak <= allowed(bytes.len()));
        prop_assert!(r.is_err());
    }
}
