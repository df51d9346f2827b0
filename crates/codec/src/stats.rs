//! Codec costs for the planner, and the rule that decides whether compression pays.
//!
//! [`measure`] encodes and decodes one tensor several times and reports sizes and median stage
//! times; the profiler runs it on real activations of each candidate cut and saves the result
//! with the model's profile. [`compression_pays`] is the single rule the planner and the sender
//! share.

use serde::{Deserialize, Serialize};

use crate::{Codec, CodecError, DecodeLimits, Decoder, EncodeOptions, Encoder, validate};

/// Sizes and costs of encoding one tensor with one precision and compressor.
///
/// Measured with compression always applied when it shrinks the payload at all
/// (`min_ratio = 1`): whether it pays depends on the bandwidth at the time of the request, and
/// is decided then with [`compression_pays`] from `compression_ratio`, `compress_s_per_byte`
/// and `decompress_s_per_byte`. Without compression the costs are `quantize_s_per_byte` and
/// `dequantize_s_per_byte` and the size is `element_bytes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodecStats {
    /// The options measured, with `min_ratio` set to 1.
    pub options: EncodeOptions,
    pub shape: Vec<usize>,
    /// The codec of the measured payload: `None` when compression did not shrink it (or
    /// `options.compression` is `None`).
    pub codec: Codec,
    /// Bytes of the f32 input (elements x 4).
    pub raw_bytes: u64,
    /// Bytes after quantization, before compression (elements x 1, 2 or 4).
    pub element_bytes: u64,
    /// Payload bytes with compression applied (= `element_bytes` when `codec` is `None`).
    pub encoded_bytes: u64,
    /// Binary header bytes (the parameter form is of similar size).
    pub header_bytes: u64,
    /// `raw_bytes / (encoded_bytes + header_bytes)`: the end-to-end size reduction.
    pub ratio: f64,
    /// `element_bytes / encoded_bytes`: the ratio [`compression_pays`] takes (1 when `codec`
    /// is `None`).
    pub compression_ratio: f64,
    /// Median nanoseconds of each stage over the repeats (compress includes the checksum;
    /// decompress is 0 when `codec` is `None`).
    pub quantize_ns: u64,
    pub compress_ns: u64,
    pub decompress_ns: u64,
    pub dequantize_ns: u64,
    /// Quantization time per byte of f32 input (the whole encode without compression).
    pub quantize_s_per_byte: f64,
    /// Dequantization time per byte of f32 output (the whole decode without compression).
    pub dequantize_s_per_byte: f64,
    /// Seconds per byte of f32 input for the whole encode (quantize + compress).
    pub encode_s_per_byte: f64,
    /// Seconds per byte of f32 output for the whole decode (decompress + dequantize).
    pub decode_s_per_byte: f64,
    /// Compression time per element byte (input of the compressor), for [`compression_pays`].
    pub compress_s_per_byte: f64,
    /// Decompression time per element byte, for [`compression_pays`].
    pub decompress_s_per_byte: f64,
    /// Largest |x - decode(encode(x))| over the tensor.
    pub max_abs_error: f64,
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Encodes and decodes `data` `repeats` times (at least 1) with `opts` (its `min_ratio`
/// replaced by 1, see [`CodecStats`]) and reports sizes, median stage times and the
/// reconstruction error.
pub fn measure(
    data: &[f32],
    shape: &[usize],
    opts: &EncodeOptions,
    repeats: usize,
) -> Result<CodecStats, CodecError> {
    let repeats = repeats.max(1);
    let opts = EncodeOptions {
        min_ratio: 1.0,
        ..*opts
    };
    let mut enc = Encoder::new(opts)?;
    let mut dec = Decoder::new();
    let limits = DecodeLimits {
        max_elements: u64::MAX,
        max_bytes: u64::MAX,
    };
    let mut out = vec![0.0f32; data.len()];
    let (mut q, mut c, mut d, mut dq) = (vec![], vec![], vec![], vec![]);
    let mut last = None;
    for _ in 0..repeats {
        let e = enc.encode(data, shape)?;
        q.push(enc.timings().quantize_ns);
        c.push(enc.timings().compress_ns);
        let t = validate(&e.header, &e.payload, &limits)?;
        dec.decode_into(&t, &mut out)?;
        d.push(dec.timings().decompress_ns);
        dq.push(dec.timings().dequantize_ns);
        last = Some(e);
    }
    let e = last.expect("repeats >= 1");
    let element_bytes = e.header.raw_len;
    let encoded_bytes = e.payload.len() as u64;
    let max_abs_error = data
        .iter()
        .zip(&out)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs())
        .fold(0.0, f64::max);
    let raw_bytes = data.len() as u64 * 4;
    let (quantize_ns, compress_ns) = (median(&mut q), median(&mut c));
    let (decompress_ns, dequantize_ns) = (median(&mut d), median(&mut dq));
    let per = |ns: u64, bytes: u64| ns as f64 * 1e-9 / bytes.max(1) as f64;
    let header_bytes = e.header.binary_len() as u64;
    Ok(CodecStats {
        options: opts,
        shape: shape.to_vec(),
        codec: e.header.codec,
        raw_bytes,
        element_bytes,
        encoded_bytes,
        header_bytes,
        ratio: raw_bytes as f64 / (encoded_bytes + header_bytes) as f64,
        compression_ratio: element_bytes as f64 / encoded_bytes.max(1) as f64,
        quantize_ns,
        compress_ns,
        decompress_ns,
        dequantize_ns,
        quantize_s_per_byte: per(quantize_ns, raw_bytes),
        dequantize_s_per_byte: per(dequantize_ns, raw_bytes),
        encode_s_per_byte: per(quantize_ns + compress_ns, raw_bytes),
        decode_s_per_byte: per(decompress_ns + dequantize_ns, raw_bytes),
        compress_s_per_byte: per(compress_ns, element_bytes),
        decompress_s_per_byte: per(decompress_ns, element_bytes),
        max_abs_error,
    })
}

/// Whether compressing pays: the transfer time it saves exceeds the time it adds.
///
/// For `n` bytes entering the compressor, sending them compressed saves
/// `n / bandwidth * (1 - 1 / ratio)` seconds and costs `n * (compress + decompress)` seconds,
/// so it pays when `(1 - 1/ratio) / bandwidth > compress_s_per_byte + decompress_s_per_byte`.
/// Units: `ratio` = uncompressed / compressed bytes; times in seconds per uncompressed byte;
/// `bandwidth` in bytes per second. Non-finite or non-positive inputs give `false`.
pub fn compression_pays(
    ratio: f64,
    compress_s_per_byte: f64,
    decompress_s_per_byte: f64,
    bandwidth_bytes_per_s: f64,
) -> bool {
    let valid = ratio.is_finite()
        && bandwidth_bytes_per_s.is_finite()
        && bandwidth_bytes_per_s > 0.0
        && compress_s_per_byte >= 0.0
        && decompress_s_per_byte >= 0.0;
    valid
        && ratio > 1.0
        && (1.0 - 1.0 / ratio) / bandwidth_bytes_per_s > compress_s_per_byte + decompress_s_per_byte
}

/// The smallest ratio at which compression pays under [`compression_pays`]'s rule, or `None`
/// when no ratio can (the link is faster than the compressor). Use it as
/// [`EncodeOptions::min_ratio`] so the sender drops compression that does not pay.
pub fn break_even_ratio(
    compress_s_per_byte: f64,
    decompress_s_per_byte: f64,
    bandwidth_bytes_per_s: f64,
) -> Option<f64> {
    let cost = (compress_s_per_byte + decompress_s_per_byte) * bandwidth_bytes_per_s;
    if !(0.0..1.0).contains(&cost) || bandwidth_bytes_per_s <= 0.0 {
        return None;
    }
    Some(1.0 / (1.0 - cost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pays_on_slow_links_only() {
        // 2x ratio, 2 ns/B compress, 1 ns/B decompress.
        let (c, d) = (2e-9, 1e-9);
        assert!(compression_pays(2.0, c, d, 1.25e6)); // 10 Mbit/s
        assert!(!compression_pays(2.0, c, d, 1.25e9)); // 10 Gbit/s
        assert!(!compression_pays(1.0, 0.0, 0.0, 1e6));
        assert!(!compression_pays(f64::NAN, c, d, 1e6));
        let r = break_even_ratio(c, d, 1e8).unwrap();
        assert!(compression_pays(r * 1.001, c, d, 1e8));
        assert!(!compression_pays(r * 0.999, c, d, 1e8));
        assert_eq!(break_even_ratio(c, d, 1e9), None);
    }
}
