//! Round trips: lossless f32 is bit-exact, uint8 meets its error bound, f16 its relative one.

use loadpart_codec::{
    Codec, DecodeLimits, Decoder, EncodeOptions, Encoder, Granularity, Precision, QuantParam,
    decode_blob, encode, synthetic_activations,
};
use loadpart_errors::Classify;
use proptest::prelude::*;

use crate::all_modes;

/// Shapes of rank 1 to 4 whose product is small, plus the data for them.
fn tensor() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    (prop::collection::vec(1usize..6, 1..=4), any::<u64>()).prop_flat_map(|(shape, _)| {
        let n: usize = shape.iter().product();
        let value = prop_oneof![
            3 => Just(0.0f32),
            3 => -10.0f32..10.0,
            1 => -1e-3f32..1e-3,
            1 => -1e30f32..1e30,
            1 => prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
        ];
        (Just(shape), prop::collection::vec(value, n))
    })
}

fn scale_of(params: &[QuantParam], group_len: usize, i: usize) -> f32 {
    params[i / group_len].scale
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lossless_f32_is_bit_exact((shape, data) in tensor(), c in 0usize..3) {
        let opts = all_modes().into_iter().filter(|o| o.precision == Precision::F32).nth(c).unwrap();
        let e = encode(&data, &shape, &opts).unwrap();
        let d = decode_blob(&e.to_bytes(), &DecodeLimits::default()).unwrap();
        prop_assert_eq!(&d.shape, &shape);
        let a: Vec<u32> = data.iter().map(|x| x.to_bits()).collect();
        let b: Vec<u32> = d.data.iter().map(|x| x.to_bits()).collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn uint8_error_is_at_most_half_a_step((shape, data) in tensor(), mode in 0usize..3, c in 0usize..11) {
        let precision = [
            Precision::U8(Granularity::PerRow),
            Precision::U8(Granularity::PerChannel),
            Precision::U8Auto,
        ][mode];
        let opts = all_modes().into_iter().filter(|o| o.precision == precision).nth(c).unwrap();
        let e = match encode(&data, &shape, &opts) {
            Ok(e) => e,
            Err(err) => {
                // Only groups spanning nearly the whole f32 range are refused.
                prop_assert_eq!(err.label(), "range_too_wide");
                prop_assert!(data.iter().any(|x| x.abs() > 1e38));
                return Ok(());
            }
        };
        let quant = e.header.quant.as_ref().unwrap();
        prop_assert_eq!(Some(quant.granularity), precision.u8_granularity(&shape));
        let params = &quant.params;
        let axes = if quant.granularity == Granularity::PerChannel { 2 } else { 1 };
        let group_len: usize = shape[axes.min(shape.len())..].iter().product();
        prop_assert_eq!(params.len() * group_len, data.len());
        let d = decode_blob(&e.to_bytes(), &DecodeLimits::default()).unwrap();
        for (i, (&x, &y)) in data.iter().zip(&d.data).enumerate() {
            let s = scale_of(params, group_len, i);
            let err = (f64::from(x) - f64::from(y)).abs();
            prop_assert!(err <= f64::from(s) * (0.5 + 1.0 / 4096.0),
                "element {} x={} y={} scale={} err={}", i, x, y, s, err);
            if x == 0.0 {
                prop_assert_eq!(y, 0.0);
            }
        }
    }

    #[test]
    fn f16_relative_error((shape, data) in tensor()) {
        let data: Vec<f32> = data.into_iter().map(|x| x.clamp(-65504.0, 65504.0)).collect();
        let opts = EncodeOptions { precision: Precision::F16, ..EncodeOptions::default() };
        let e = encode(&data, &shape, &opts).unwrap();
        let d = decode_blob(&e.to_bytes(), &DecodeLimits::default()).unwrap();
        for (&x, &y) in data.iter().zip(&d.data) {
            // Half an ulp relative for normal f16, half the subnormal step (2^-25) below.
            let bound = (f64::from(x.abs()) * 2f64.powi(-11)).max(2f64.powi(-25));
            prop_assert!((f64::from(x) - f64::from(y)).abs() <= bound, "x={} y={}", x, y);
        }
    }

    #[test]
    fn params_form_round_trips((shape, data) in tensor(), m in 0usize..39) {
        let opts = all_modes()[m];
        let data: Vec<f32> = data.into_iter().map(|x| x.clamp(-1e30, 1e30)).collect();
        let data: Vec<f32> = if opts.precision == Precision::F16 {
            data.into_iter().map(|x| x.clamp(-65504.0, 65504.0)).collect()
        } else {
            data
        };
        let e = encode(&data, &shape, &opts).unwrap();
        let params = e.header.to_params();
        let back = loadpart_codec::TensorHeader::from_params(
            params.iter().map(|(k, v)| (k.as_str(), v)), &DecodeLimits::default()).unwrap();
        prop_assert_eq!(&back, &e.header);
        let bin = e.header.to_bytes();
        prop_assert_eq!(bin.len(), e.header.binary_len());
        let (parsed, n) = loadpart_codec::TensorHeader::parse(&bin, &DecodeLimits::default()).unwrap();
        prop_assert_eq!(n, bin.len());
        prop_assert_eq!(&parsed, &e.header);
        let t = loadpart_codec::validate(&back, &e.payload, &DecodeLimits::default()).unwrap();
        let out = Decoder::new().decode(&t).unwrap();
        let direct = decode_blob(&e.to_bytes(), &DecodeLimits::default()).unwrap();
        prop_assert_eq!(out, direct.data);
    }
}

#[test]
fn every_mode_round_trips_activations() {
    let shape = [2, 16, 9, 9];
    let data = synthetic_activations(&shape, 3);
    for opts in all_modes() {
        let mut enc = Encoder::new(opts).unwrap();
        let e = enc.encode(&data, &shape).unwrap();
        assert!(!e.payload.is_empty(), "{opts:?}");
        let d = decode_blob(&e.to_bytes(), &DecodeLimits::default()).unwrap();
        assert_eq!(d.shape, shape);
        let max_err = data
            .iter()
            .zip(&d.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let bound = match opts.precision {
            Precision::F32 => 0.0,
            Precision::F16 => 1e-2,
            // 2^bits levels over the same range: the step grows as they shrink.
            Precision::U8(_) | Precision::U8Auto => 0.05 * 255.0 / f32::from(opts.levels()),
        };
        assert!(max_err <= bound, "{opts:?}: {max_err}");
        // Zeros of ReLU stay exact in every mode.
        for (x, y) in data.iter().zip(&d.data) {
            if *x == 0.0 {
                assert_eq!(*y, 0.0);
            }
        }
    }
}

#[test]
fn incompressible_payload_is_sent_raw_not_empty() {
    let mut s = 0x1234_5678_9abc_def1u64;
    let data: Vec<f32> = (0..4096)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Random bits, with infinities and NaNs turned into finite values.
            let bits = s as u32;
            let bits = if bits & 0x7f80_0000 == 0x7f80_0000 {
                bits ^ 0x0080_0000
            } else {
                bits
            };
            f32::from_bits(bits)
        })
        .collect();
    for opts in all_modes()
        .into_iter()
        .filter(|o| o.precision == Precision::F32)
    {
        let e = encode(&data, &[4096], &opts).unwrap();
        assert_eq!(e.header.codec, Codec::None, "{opts:?}");
        assert_eq!(e.payload.len(), 4096 * 4);
        let d = decode_blob(&e.to_bytes(), &DecodeLimits::default()).unwrap();
        assert_eq!(d.data, data);
    }
}

#[test]
fn min_ratio_drops_compression_that_does_not_pay() {
    let shape = [1, 8, 16, 16];
    let data = synthetic_activations(&shape, 1);
    let opts = EncodeOptions::default();
    let kept = encode(&data, &shape, &opts).unwrap();
    assert_eq!(kept.header.codec, Codec::Zstd);
    let ratio = kept.header.raw_len as f64 / kept.payload.len() as f64;
    let strict = EncodeOptions {
        min_ratio: ratio * 1.01,
        ..opts
    };
    let dropped = encode(&data, &shape, &strict).unwrap();
    assert_eq!(dropped.header.codec, Codec::None);
    assert_eq!(dropped.payload.len() as u64, dropped.header.raw_len);
}

#[test]
fn empty_and_scalar_tensors() {
    for opts in all_modes() {
        for (shape, data) in [
            (vec![0usize, 3, 4], vec![]),
            (vec![3, 0], vec![]),
            (vec![], vec![2.5f32]),
        ] {
            let e = encode(&data, &shape, &opts).unwrap();
            let d = decode_blob(&e.to_bytes(), &DecodeLimits::default()).unwrap();
            assert_eq!(d.shape, shape);
            assert_eq!(d.data.len(), data.len());
        }
    }
}

#[test]
fn non_finite_and_out_of_range_inputs_are_typed_errors() {
    for opts in all_modes() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let err = encode(&[1.0, bad, 2.0], &[3], &opts).unwrap_err();
            assert_eq!(err.label(), "non_finite", "{opts:?}");
        }
    }
    let f16 = EncodeOptions {
        precision: Precision::F16,
        ..EncodeOptions::default()
    };
    assert_eq!(
        encode(&[1e5], &[1], &f16).unwrap_err().label(),
        "out_of_range"
    );
    let err = encode(&[1.0, 2.0], &[3], &EncodeOptions::default()).unwrap_err();
    assert_eq!(err.label(), "shape_mismatch");
    assert!(err.to_string().contains("3 elements but 2"), "{err}");
}

#[test]
fn delta_coding_sends_the_same_codes_in_fewer_bytes() {
    // Smooth feature maps, as CNN activations of natural images are: along each row a random
    // walk of small steps (seeded), so that neighbours are close and nothing repeats.
    let shape = [2usize, 16, 28, 28];
    let mut state = 0x2545_f491u32;
    let mut level = 0.0f32;
    let smooth: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let step = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            level = if i % 28 == 0 {
                step * 4.0
            } else {
                level + 0.1 * step
            };
            level.max(0.0)
        })
        .collect();
    let limits = DecodeLimits::default();
    let plain = EncodeOptions::default().with_delta(false);
    for bits in [8, 5] {
        let a = encode(&smooth, &shape, &plain.with_bits(bits)).unwrap();
        let b = encode(&smooth, &shape, &plain.with_bits(bits).with_delta(true)).unwrap();
        assert_eq!(
            (a.header.codec, b.header.codec),
            (Codec::Zstd, Codec::ZstdDelta)
        );
        assert!(
            b.payload.len() < a.payload.len(),
            "{bits} bits: {} against {}",
            b.payload.len(),
            a.payload.len()
        );
        let da = decode_blob(&a.to_bytes(), &limits).unwrap();
        let db = decode_blob(&b.to_bytes(), &limits).unwrap();
        assert_eq!(da, db, "{bits} bits: lossless on the codes");
    }
    // Noise-like activations keep their codes: differences would not pay.
    let noisy = synthetic_activations(&shape, 5);
    let n = encode(&noisy, &shape, &EncodeOptions::default()).unwrap();
    assert_eq!(n.header.codec, Codec::Zstd);
    // Rank-2 tensors have no spatial rows: sent as plain zstd.
    let flat = encode(&smooth, &[2, 16 * 28 * 28], &EncodeOptions::default()).unwrap();
    assert_eq!(flat.header.codec, Codec::Zstd);
    // A delta payload claiming float elements is refused before decoding.
    let mut f = encode(&smooth, &shape, &plain).unwrap();
    f.header.dtype = loadpart_codec::Dtype::F32;
    f.header.raw_len *= 4;
    f.header.codec = Codec::ZstdDelta;
    f.header.seal(&f.payload);
    let err = f.validate(&limits).unwrap_err();
    assert_eq!(err.label(), "inconsistent_header", "{err}");
}
