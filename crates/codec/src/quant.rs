//! Element conversions: asymmetric uint8 quantization, f16, and little-endian f32.
//!
//! uint8 is affine per group (a batch row, or one channel of a row):
//! `q = clamp(round(x / scale) + zero_point, 0, 255)` and `x' = (q - zero_point) * scale`
//! (round half to even).
//! The range is widened to include 0 and the zero point is an integer, so an exact 0.0 (half of
//! a post-ReLU activation) decodes to exactly 0.0. For every finite x in the group,
//! `|x - x'| <= scale / 2` up to f32 rounding (a few ulps of `255 * scale`; the property tests
//! check `scale * (0.5 + 2^-12)`).
//!
//! The loops work on fixed-size chunks with per-lane accumulators and no bounds checks inside,
//! so LLVM vectorizes them with the baseline x86-64 instruction set.

use serde::{Deserialize, Serialize};

use crate::CodecError;

/// Largest finite f16 magnitude; larger inputs are rejected in f16 mode rather than sent as
/// infinity.
pub const F16_MAX: f32 = 65504.0;

/// Lanes per chunk in the hot loops: two AVX or four SSE registers of f32.
const LANES: usize = 16;

/// Affine uint8 parameters of one quantization group.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantParam {
    /// Step between adjacent codes, in the tensor's units. Finite, > 0.
    pub scale: f32,
    /// The code that decodes to exactly 0.0.
    pub zero_point: u8,
}

impl QuantParam {
    /// Parameters of an all-zero group: every code decodes to `(q - 0) * 1.0`, zeros stay zero.
    pub const ZERO: QuantParam = QuantParam {
        scale: 1.0,
        zero_point: 0,
    };

    /// Parameters covering `[min, max]` (finite, `min <= max`) widened to include 0.
    ///
    /// The scale is at least `f32::MIN_POSITIVE` so that its reciprocal is finite; a group whose
    /// dequantized grid would overflow f32 (|x| near `f32::MAX`) is `RangeTooWide`.
    pub fn from_range(min: f32, max: f32, group: usize) -> Result<Self, CodecError> {
        Self::from_range_levels(min, max, group, u8::MAX)
    }

    /// [`QuantParam::from_range`] with codes `0..=levels` only (`levels` = 2^bits - 1 for
    /// `bits`-bit quantization, at least 1): a coarser grid whose codes carry fewer bits of
    /// entropy, which the compressor then saves. Decoding is the same for any `levels`.
    pub fn from_range_levels(
        min: f32,
        max: f32,
        group: usize,
        levels: u8,
    ) -> Result<Self, CodecError> {
        let lo = f64::from(min.min(0.0));
        let hi = f64::from(max.max(0.0));
        if hi == lo {
            return Ok(Self::ZERO);
        }
        let top = f64::from(levels.max(1));
        // The f32 scale is what travels, so the zero point is derived from it, not from the
        // exact f64 quotient.
        let scale = (((hi - lo) / top) as f32).max(f32::MIN_POSITIVE);
        let zero_point = (-lo / f64::from(scale)).round().clamp(0.0, top) as u8;
        let p = Self { scale, zero_point };
        if p.is_valid() {
            Ok(p)
        } else {
            Err(CodecError::RangeTooWide { group, min, max })
        }
    }

    /// True when the scale is finite and positive and every code dequantizes to a finite f32.
    /// The decoder accepts no other parameters.
    pub fn is_valid(&self) -> bool {
        let reach = f64::from(self.zero_point.max(255 - self.zero_point));
        self.scale.is_finite()
            && self.scale > 0.0
            && f64::from(self.scale) * reach <= f64::from(f32::MAX)
    }
}

/// Min, max and whether every element is finite, in one vectorizable pass.
/// An empty slice gives `(inf, -inf, true)`.
pub(crate) fn min_max(data: &[f32]) -> (f32, f32, bool) {
    let mut mn = [f32::INFINITY; LANES];
    let mut mx = [f32::NEG_INFINITY; LANES];
    // x * 0.0 is 0.0 for finite x and NaN for NaN or +-inf; NaN sticks in the sum.
    let mut bad = [0.0f32; LANES];
    let chunks = data.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            let x = c[i];
            mn[i] = if x < mn[i] { x } else { mn[i] };
            mx[i] = if x > mx[i] { x } else { mx[i] };
            bad[i] += x * 0.0;
        }
    }
    let (mut lo, mut hi, mut poison) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f32);
    for i in 0..LANES {
        lo = lo.min(mn[i]);
        hi = hi.max(mx[i]);
        poison += bad[i];
    }
    for &x in tail {
        lo = lo.min(x);
        hi = hi.max(x);
        poison += x * 0.0;
    }
    (lo, hi, poison == 0.0)
}

/// The first non-finite element as an error; called only after [`min_max`] found one.
fn non_finite_error(data: &[f32], offset: usize) -> CodecError {
    let (index, value) = data
        .iter()
        .enumerate()
        .find(|(_, x)| !x.is_finite())
        .map(|(i, &x)| (i, x))
        .unwrap_or((0, f32::NAN));
    CodecError::NonFinite {
        index: offset + index,
        value,
    }
}

/// Quantizes `data` in groups of `group_len` elements into `out` (same length) and pushes one
/// [`QuantParam`] per group onto `params`.
///
/// `group_len` must divide `data.len()` (0 only when `data` is empty). NaN and infinities are
/// `NonFinite` errors; on error `out` and `params` hold partial results.
pub fn quantize_u8(
    data: &[f32],
    group_len: usize,
    params: &mut Vec<QuantParam>,
    out: &mut [u8],
) -> Result<(), CodecError> {
    quantize_levels(data, group_len, u8::MAX, params, out)
}

/// [`quantize_u8`] onto codes `0..=levels` (see [`QuantParam::from_range_levels`]): the error
/// bound is still `scale / 2`, with a scale `255 / levels` times larger.
pub fn quantize_levels(
    data: &[f32],
    group_len: usize,
    levels: u8,
    params: &mut Vec<QuantParam>,
    out: &mut [u8],
) -> Result<(), CodecError> {
    debug_assert_eq!(data.len(), out.len());
    if data.is_empty() || group_len == 0 {
        return Ok(());
    }
    debug_assert_eq!(data.len() % group_len, 0);
    for (g, (xs, qs)) in data
        .chunks_exact(group_len)
        .zip(out.chunks_exact_mut(group_len))
        .enumerate()
    {
        let (lo, hi, finite) = min_max(xs);
        if !finite {
            return Err(non_finite_error(xs, g * group_len));
        }
        // A coarse grid over a range near f32::MAX can have a step whose 255 codes (what a
        // decoder must accept) overflow; such a group falls back to the full 8-bit grid.
        let (p, top) = match QuantParam::from_range_levels(lo, hi, g, levels) {
            Ok(p) => (p, levels),
            Err(_) if levels < u8::MAX => (QuantParam::from_range(lo, hi, g)?, u8::MAX),
            Err(e) => return Err(e),
        };
        quantize_group(xs, p, top, qs);
        params.push(p);
    }
    Ok(())
}

/// `q = clamp(round(x / scale) + zero_point, 0, levels)` over one group, rounding half to even.
fn quantize_group(xs: &[f32], p: QuantParam, levels: u8, qs: &mut [u8]) {
    let inv = 1.0 / p.scale;
    let zp = f32::from(p.zero_point);
    let top = f32::from(levels);
    // For v in [0, 255], v + 2^23 lands on an integer-spaced binade: the addition rounds v to
    // the nearest integer (ties to even) and the low mantissa byte is that integer. This is
    // 2.5x faster than a float-to-int conversion with baseline x86-64 SIMD.
    const ROUND: f32 = 8_388_608.0;
    let q = |x: f32| -> u8 {
        let v = x * inv + zp;
        let v = if v > 0.0 { v } else { 0.0 };
        let v = if v < top { v } else { top };
        (v + ROUND).to_bits() as u8
    };
    let mut xc = xs.chunks_exact(LANES);
    let mut qc = qs.chunks_exact_mut(LANES);
    for (x, o) in (&mut xc).zip(&mut qc) {
        for i in 0..LANES {
            o[i] = q(x[i]);
        }
    }
    for (x, o) in xc.remainder().iter().zip(qc.into_remainder()) {
        *o = q(*x);
    }
}

/// Inverse of [`quantize_u8`]: `out[i] = (q[i] - zero_point) * scale` per group.
/// `params.len() * group_len` must equal `q.len()` and `out.len()`.
pub fn dequantize_u8(q: &[u8], group_len: usize, params: &[QuantParam], out: &mut [f32]) {
    debug_assert_eq!(q.len(), out.len());
    if q.is_empty() || group_len == 0 {
        return;
    }
    for ((qs, os), p) in q
        .chunks_exact(group_len)
        .zip(out.chunks_exact_mut(group_len))
        .zip(params)
    {
        // (q - zp) is exact in f32, so each value is rounded once, as in the table.
        let (zp, scale) = (f32::from(p.zero_point), p.scale);
        let mut qc = qs.chunks_exact(LANES);
        let mut oc = os.chunks_exact_mut(LANES);
        for (q, o) in (&mut qc).zip(&mut oc) {
            for i in 0..LANES {
                o[i] = (f32::from(q[i]) - zp) * scale;
            }
        }
        for (q, o) in qc.remainder().iter().zip(oc.into_remainder()) {
            *o = (f32::from(*q) - zp) * scale;
        }
    }
}

/// Checks that every element is finite (and, for f16, within +-[`F16_MAX`]).
pub(crate) fn check_range(data: &[f32], f16_bound: bool) -> Result<(), CodecError> {
    const CHUNK: usize = 1 << 14;
    for (k, c) in data.chunks(CHUNK).enumerate() {
        let (lo, hi, finite) = min_max(c);
        if !finite {
            return Err(non_finite_error(c, k * CHUNK));
        }
        if f16_bound && (lo < -F16_MAX || hi > F16_MAX) {
            let (index, value) = c
                .iter()
                .enumerate()
                .find(|(_, x)| x.abs() > F16_MAX)
                .map(|(i, &x)| (i, x))
                .unwrap_or((0, hi));
            return Err(CodecError::OutOfRange {
                index: k * CHUNK + index,
                value,
                dtype: "float16",
                max: F16_MAX,
            });
        }
    }
    Ok(())
}

/// f32 -> little-endian f16 bytes (`out.len() == 2 * data.len()`), round to nearest even.
/// Callers check the range first with [`check_range`].
pub(crate) fn f32_to_f16_bytes(data: &[f32], out: &mut [u8]) {
    debug_assert_eq!(out.len(), data.len() * 2);
    let mut buf = [half::f16::ZERO; 256];
    for (xs, os) in data.chunks(256).zip(out.chunks_mut(512)) {
        let b = &mut buf[..xs.len()];
        half::slice::HalfFloatSliceExt::convert_from_f32_slice(b, xs);
        for (h, o) in b.iter().zip(os.chunks_exact_mut(2)) {
            o.copy_from_slice(&h.to_le_bytes());
        }
    }
}

/// Little-endian f16 bytes -> f32 (`bytes.len() == 2 * out.len()`).
/// Any bit pattern is accepted; f16 NaN and infinity decode to f32 NaN and infinity.
pub(crate) fn f16_bytes_to_f32(bytes: &[u8], out: &mut [f32]) {
    debug_assert_eq!(bytes.len(), out.len() * 2);
    let mut buf = [half::f16::ZERO; 256];
    for (bs, os) in bytes.chunks(512).zip(out.chunks_mut(256)) {
        let b = &mut buf[..os.len()];
        for (h, c) in b.iter_mut().zip(bs.chunks_exact(2)) {
            *h = half::f16::from_le_bytes([c[0], c[1]]);
        }
        half::slice::HalfFloatSliceExt::convert_to_f32_slice(&*b, os);
    }
}

/// f32 -> little-endian bytes (`out.len() == 4 * data.len()`).
pub(crate) fn f32_to_le_bytes(data: &[f32], out: &mut [u8]) {
    if cfg!(target_endian = "little") {
        out.copy_from_slice(bytemuck::cast_slice(data));
    } else {
        for (x, o) in data.iter().zip(out.chunks_exact_mut(4)) {
            o.copy_from_slice(&x.to_le_bytes());
        }
    }
}

/// Little-endian bytes -> f32 (`bytes.len() == 4 * out.len()`), bit for bit.
pub(crate) fn le_bytes_to_f32(bytes: &[u8], out: &mut [f32]) {
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice_mut::<f32, u8>(out).copy_from_slice(bytes);
    } else {
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(xs: &[f32]) -> (Vec<f32>, QuantParam) {
        let mut q = vec![0u8; xs.len()];
        let mut params = Vec::new();
        quantize_u8(xs, xs.len(), &mut params, &mut q).unwrap();
        let mut out = vec![0.0; xs.len()];
        dequantize_u8(&q, xs.len(), &params, &mut out);
        (out, params[0])
    }

    #[test]
    fn fewer_levels_keep_zero_exact_and_codes_in_range() {
        let xs: Vec<f32> = (0..200)
            .map(|i| (i as f32 * 0.11).sin() * 3.0 - 0.5)
            .collect();
        for levels in [3u8, 15, 63, 255] {
            let mut q = vec![0u8; xs.len()];
            let mut params = Vec::new();
            quantize_levels(&xs, xs.len(), levels, &mut params, &mut q).unwrap();
            assert!(q.iter().all(|&c| c <= levels), "levels {levels}");
            let p = params[0];
            let mut out = vec![0.0; xs.len()];
            dequantize_u8(&q, xs.len(), &params, &mut out);
            for (x, y) in xs.iter().zip(&out) {
                assert!(
                    (x - y).abs() <= p.scale * 0.5001,
                    "levels {levels}: {x} {y}"
                );
            }
            let mut zero = [0.0f32];
            let mut zq = [0u8];
            quantize_group(&[0.0], p, levels, &mut zq);
            dequantize_u8(&zq, 1, &[p], &mut zero);
            assert_eq!(zero[0], 0.0);
        }
    }

    #[test]
    fn zeros_stay_exact_and_bound_holds() {
        let xs: Vec<f32> = (0..100)
            .map(|i| {
                if i % 3 == 0 {
                    0.0
                } else {
                    (i as f32 * 0.37).sin() * 5.0
                }
            })
            .collect();
        let (out, p) = round_trip(&xs);
        for (x, y) in xs.iter().zip(&out) {
            if *x == 0.0 {
                assert_eq!(*y, 0.0);
            }
            assert!(
                (x - y).abs() <= p.scale * (0.5 + 1.0 / 4096.0),
                "{x} {y} {p:?}"
            );
        }
    }

    #[test]
    fn constant_and_zero_groups() {
        let (out, p) = round_trip(&[0.0; 40]);
        assert_eq!(p, QuantParam::ZERO);
        assert!(out.iter().all(|&y| y == 0.0));
        let (out, p) = round_trip(&[3.5; 40]);
        assert_eq!(p.zero_point, 0);
        assert!(out.iter().all(|&y| (y - 3.5).abs() <= p.scale * 0.5));
        let (out, p) = round_trip(&[-2.0; 7]);
        assert_eq!(p.zero_point, 255);
        assert!(out.iter().all(|&y| (y + 2.0).abs() <= p.scale * 0.5));
    }

    #[test]
    fn non_finite_is_reported_with_index() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut xs = vec![1.0f32; 50];
            xs[37] = bad;
            let mut q = vec![0u8; 50];
            let err = quantize_u8(&xs, 25, &mut Vec::new(), &mut q).unwrap_err();
            assert!(
                matches!(err, CodecError::NonFinite { index: 37, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn extreme_ranges() {
        assert!(QuantParam::from_range(-f32::MAX, f32::MAX, 0).is_err());
        let p = QuantParam::from_range(0.0, f32::MAX, 0).unwrap();
        assert!(p.is_valid());
        let p = QuantParam::from_range(0.0, 1e-42, 0).unwrap();
        assert_eq!(p.scale, f32::MIN_POSITIVE);
    }

    #[test]
    fn f16_range_checked() {
        assert!(check_range(&[1.0, 65504.0, -65504.0], true).is_ok());
        let err = check_range(&[1.0, 70000.0], true).unwrap_err();
        assert!(matches!(err, CodecError::OutOfRange { index: 1, .. }));
        assert!(check_range(&[1.0, 70000.0], false).is_ok());
    }
}
