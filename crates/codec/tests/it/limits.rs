//! Limits and malformed headers as tables of cases: at the limit, one over, custom.

use loadpart_codec::{
    CodecError, DecodeLimits, EncodeOptions, Precision, TensorHeader, WIRE_VERSION, decode_blob,
    encode, split_blob, validate,
};
use loadpart_errors::Classify;

fn f32_opts() -> EncodeOptions {
    EncodeOptions {
        precision: Precision::F32,
        compression: loadpart_codec::Compression::None,
        min_ratio: 1.0,
        bits: 8,
        delta: false,
    }
}

#[test]
fn element_and_byte_limits() {
    let data = vec![1.0f32; 100];
    let e = encode(&data, &[10, 10], &f32_opts()).unwrap();
    let bytes = e.to_bytes();
    let cases = [
        ("at both limits", 100, 400, None),
        ("one element over", 99, 400, Some("too_many_elements")),
        ("one byte over", 100, 399, Some("too_many_bytes")),
        ("custom large", 1 << 30, 1 << 40, None),
    ];
    for (name, max_elements, max_bytes, want) in cases {
        let limits = DecodeLimits {
            max_elements,
            max_bytes,
        };
        let got = decode_blob(&bytes, &limits).err().map(|e| e.label());
        assert_eq!(got, want, "{name}");
    }
    let err = decode_blob(
        &bytes,
        &DecodeLimits {
            max_elements: 99,
            max_bytes: 400,
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "tensor has 100 elements; the limit is 99");
}

/// A valid header with some fields replaced, re-sealed so that only the replaced field is
/// wrong.
fn tampered(f: impl FnOnce(&mut TensorHeader, &mut Vec<u8>)) -> Result<(), CodecError> {
    let data: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let mut e = encode(&data, &[2, 3, 4], &EncodeOptions::default()).unwrap();
    f(&mut e.header, &mut e.payload);
    e.header.seal(&e.payload);
    let limits = DecodeLimits::default();
    let bytes = e.to_bytes();
    let (h, p) = split_blob(&bytes, &limits)?;
    validate(&h, p, &limits).map(|_| ())
}

#[test]
fn semantic_checks() {
    let kind = |r: Result<(), CodecError>| r.err().map(|e| e.label());
    assert_eq!(kind(tampered(|_, _| {})), None);
    assert_eq!(
        kind(tampered(|h, _| h.shape = vec![u64::MAX, 2, 2])),
        Some("shape_overflow")
    );
    assert_eq!(
        kind(tampered(|h, _| h.shape = vec![4, 3, 4])),
        Some("raw_length")
    );
    assert_eq!(kind(tampered(|h, _| h.raw_len += 1)), Some("raw_length"));
    assert_eq!(
        kind(tampered(|h, p| {
            p.push(0);
            h.encoded_len = p.len() as u64 - 1
        })),
        Some("payload_length")
    );
    assert_eq!(
        kind(tampered(|h, _| h
            .quant
            .as_mut()
            .unwrap()
            .params
            .pop()
            .map(|_| ())
            .unwrap())),
        Some("param_count")
    );
    assert_eq!(
        kind(tampered(
            |h, _| h.quant.as_mut().unwrap().params[1].scale = f32::NAN
        )),
        Some("invalid_scale")
    );
    assert_eq!(
        kind(tampered(
            |h, _| h.quant.as_mut().unwrap().params[0].scale = -1.0
        )),
        Some("invalid_scale")
    );
    assert_eq!(
        kind(tampered(
            |h, _| h.quant.as_mut().unwrap().params[0].scale = f32::MAX
        )),
        Some("invalid_scale")
    );
    assert_eq!(
        kind(tampered(|h, _| h.quant = None)),
        Some("inconsistent_header")
    );
}

#[test]
fn unknown_codes_version_and_magic() {
    let e = encode(&[1.0, 0.0], &[2], &EncodeOptions::default()).unwrap();
    let good = e.to_bytes();
    let limits = DecodeLimits::default();
    let cases: [(usize, u8, &str); 6] = [
        (0, b'X', "bad_magic"),
        (4, WIRE_VERSION + 1, "unknown_version"),
        (5, 9, "unknown_dtype"),
        (6, 9, "unknown_codec"),
        (7, 9, "unknown_granularity"),
        (8, 200, "rank_too_high"),
    ];
    for (at, value, want) in cases {
        let mut b = good.clone();
        b[at] = value;
        let err = decode_blob(&b, &limits).unwrap_err();
        assert_eq!(err.label(), want, "byte {at} = {value}: {err}");
    }
    let err = decode_blob(&good[..3], &limits).unwrap_err();
    assert!(matches!(err, CodecError::Truncated { .. }), "{err}");
}

#[test]
fn declared_bomb_is_rejected_before_decompressing() {
    // 1 Mi zeros compress to a few hundred bytes; the receiver's limit is 64 KiB.
    let data = vec![0.0f32; 1 << 20];
    let e = encode(&data, &[1 << 20], &EncodeOptions::default()).unwrap();
    assert!(e.payload.len() < 4096);
    let limits = DecodeLimits {
        max_elements: 1 << 20,
        max_bytes: 64 << 10,
    };
    let err = decode_blob(&e.to_bytes(), &limits).unwrap_err();
    assert_eq!(err.label(), "too_many_bytes");
    assert!(err.to_string().contains("limit is 65536"), "{err}");
}

#[test]
fn lying_about_the_decompressed_size_is_caught() {
    // A header that declares fewer elements than the zstd frame holds: the frame's content
    // size disagrees, and decompression into the declared buffer could not overflow anyway.
    let data = vec![0.5f32; 4096];
    let opts = EncodeOptions::default();
    let mut e = encode(&data, &[4096], &opts).unwrap();
    e.header.shape = vec![1024];
    e.header.raw_len = 1024;
    e.header.quant.as_mut().unwrap().params.truncate(1024);
    e.header.seal(&e.payload);
    let limits = DecodeLimits::default();
    let err = decode_blob(&e.to_bytes(), &limits).unwrap_err();
    assert_eq!(err.label(), "decompressed_length", "{err}");
}

/// Fuzzer finding (crash-6d2e4daa..., kept as corpus/decode/regress-empty-tensor-huge-dims):
/// an empty tensor shaped [0, 2^47, 2^32] passed validation, and a batch built from its row
/// shape overflowed. Zero dims no longer hide the others from the element limit.
#[test]
fn empty_tensor_with_huge_dims_is_rejected() {
    let bytes = include_bytes!("../../fuzz/corpus/decode/regress-empty-tensor-huge-dims");
    let limits = DecodeLimits {
        max_elements: 1 << 16,
        max_bytes: 1 << 18,
    };
    let (mut h, payload) = split_blob(&bytes[1..], &limits).unwrap();
    assert_eq!(h.shape, vec![0, 1 << 47, 1 << 32]);
    h.seal(payload);
    let err = validate(&h, payload, &limits).unwrap_err();
    assert_eq!(err.label(), "shape_overflow", "{err}");
    // Large but representable other dims are held to the element limit.
    h.shape = vec![0, 1 << 20, 3];
    h.seal(payload);
    let err = validate(&h, payload, &limits).unwrap_err();
    assert_eq!(err.label(), "too_many_elements", "{err}");
    // A reasonable empty tensor still decodes.
    let e = encode(&[], &[0, 4, 5], &EncodeOptions::default()).unwrap();
    assert!(decode_blob(&e.to_bytes(), &limits).unwrap().data.is_empty());
}
