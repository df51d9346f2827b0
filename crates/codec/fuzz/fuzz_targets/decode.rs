//! Fuzzes the decoder of untrusted tensors.
//!
//! The first input byte picks how the rest is read:
//! - 0: a blob as received (binary header + payload); the checksum must hold.
//! - 1: a blob whose checksum is recomputed before validation, so that the fuzzer reaches
//!   the semantic checks, decompression and dequantization behind it.
//! - 2: protocol parameters (a small key/value encoding, see `params`) plus payload, re-sealed.
//!
//! Invariants checked beyond "no panic": a decoded tensor has the validated element count and
//! only finite values, and batch assembly of it agrees with the plain decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadpart_codec::{
    BatchAssembler, DecodeLimits, Decoder, PARAM_KEYS, ParamValue, TensorHeader, decode_blob, split_blob,
    validate,
};

const LIMITS: DecodeLimits = DecodeLimits {
    max_elements: 1 << 16,
    max_bytes: 1 << 18,
};

/// The codec's keys, then one unknown prefixed key and one of the protocol's own.
const KEYS: [&str; PARAM_KEYS.len() + 2] = {
    let mut k = [""; PARAM_KEYS.len() + 2];
    let mut i = 0;
    while i < PARAM_KEYS.len() {
        k[i] = PARAM_KEYS[i];
        i += 1;
    }
    k[PARAM_KEYS.len()] = "loadpart_other";
    k[PARAM_KEYS.len() + 1] = "binary_data_size";
    k
};
/// Entries of `[key index + 1, kind, len, bytes..]` until a zero key byte; the rest after it
/// is the payload.
fn params(mut b: &[u8]) -> (Vec<(String, ParamValue)>, &[u8]) {
    let mut v = Vec::new();
    while b.len() >= 3 && b[0] != 0 {
        let key = KEYS[usize::from(b[0] - 1) % KEYS.len()].to_owned();
        let (kind, len) = (b[1], usize::from(b[2]));
        b = &b[3..];
        let n = len.min(b.len());
        let (raw, rest) = b.split_at(n);
        b = rest;
        let s = String::from_utf8_lossy(raw).into_owned();
        let value = match kind % 4 {
            0 => ParamValue::String(s),
            1 => ParamValue::Int64(s.parse().unwrap_or(i64::from(len as u8))),
            2 => ParamValue::Bool(len % 2 == 0),
            _ => ParamValue::Double(f64::from(len as u8)),
        };
        v.push((key, value));
    }
    (v, b.get(1..).unwrap_or(&[]))
}

fn check(header: &mut TensorHeader, payload: &[u8]) {
    header.seal(payload);
    let Ok(t) = validate(header, payload, &LIMITS) else {
        return;
    };
    let mut out = vec![0.0f32; t.elements()];
    if Decoder::new().decode_into(&t, &mut out).is_err() {
        return;
    }
    assert!(
        out.iter().all(|x| x.is_finite()),
        "decoded a non-finite value"
    );
    if let Some((&rows, row)) = t.shape().split_first() {
        let mut batch = BatchAssembler::new(row, rows).expect("validated shape");
        batch.push(&t).expect("decoded once already");
        assert_eq!(batch.data(), &out[..]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(d) = decode_blob(rest, &LIMITS) {
                assert_eq!(d.data.len(), d.shape.iter().product::<usize>());
            }
        }
        1 => {
            if let Ok((mut h, payload)) = split_blob(rest, &LIMITS) {
                check(&mut h, payload);
            }
        }
        _ => {
            let (p, payload) = params(rest);
            let parsed = TensorHeader::from_params(p.iter().map(|(k, v)| (k.as_str(), v)), &LIMITS);
            if let Ok(mut h) = parsed {
                check(&mut h, payload);
            }
        }
    }
});
