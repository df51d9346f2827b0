//! The protocol-parameter form: strict about its own keys, blind to others.

use loadpart_codec::{
    CodecError, DecodeLimits, EncodeOptions, ParamValue, TensorHeader, encode, validate,
};
use loadpart_errors::Classify;

fn sample() -> (TensorHeader, Vec<u8>) {
    let data: Vec<f32> = (0..24).map(|i| (i % 5) as f32 - 1.0).collect();
    let e = encode(&data, &[2, 3, 4], &EncodeOptions::default()).unwrap();
    (e.header, e.payload)
}

fn parse(p: &[(String, ParamValue)]) -> Result<TensorHeader, CodecError> {
    TensorHeader::from_params(
        p.iter().map(|(k, v)| (k.as_str(), v)),
        &DecodeLimits::default(),
    )
}

#[test]
fn keys_and_values_are_readable() {
    let (h, _) = sample();
    let p = h.to_params();
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("loadpart_version"), Some(ParamValue::Int64(1)));
    assert_eq!(
        get("loadpart_dtype"),
        Some(ParamValue::String("uint8".into()))
    );
    assert_eq!(
        get("loadpart_shape"),
        Some(ParamValue::String("2,3,4".into()))
    );
    assert_eq!(
        get("loadpart_granularity"),
        Some(ParamValue::String("per_row".into()))
    );
    assert_eq!(
        get("loadpart_zero_points"),
        Some(ParamValue::String("64,64".into()))
    );
}

#[test]
fn foreign_keys_are_ignored_own_unknown_keys_are_not() {
    let (h, payload) = sample();
    let mut p = h.to_params();
    p.push(("binary_data_size".into(), ParamValue::Int64(3)));
    let back = parse(&p).unwrap();
    assert!(validate(&back, &payload, &DecodeLimits::default()).is_ok());
    p.push(("loadpart_future".into(), ParamValue::Bool(true)));
    assert_eq!(parse(&p).unwrap_err().label(), "unknown_param");
}

#[test]
fn malformed_parameters() {
    let (h, payload) = sample();
    let base = h.to_params();
    let with = |key: &str, v: Option<ParamValue>| {
        let mut p: Vec<_> = base.iter().filter(|(k, _)| k != key).cloned().collect();
        if let Some(v) = v {
            p.push((key.to_owned(), v));
        }
        p
    };
    let s = |x: &str| Some(ParamValue::String(x.into()));
    let cases = [
        (
            "loadpart_version",
            Some(ParamValue::Int64(2)),
            "unknown_version",
        ),
        ("loadpart_version", None, "missing_param"),
        ("loadpart_version", s("1"), "bad_param"),
        ("loadpart_dtype", s("int4"), "unknown_dtype"),
        ("loadpart_codec", s("brotli"), "unknown_codec"),
        (
            "loadpart_granularity",
            s("per_pixel"),
            "unknown_granularity",
        ),
        ("loadpart_shape", s("2,x,4"), "bad_param"),
        (
            "loadpart_shape",
            s("1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"),
            "rank_too_high",
        ),
        (
            "loadpart_raw_bytes",
            Some(ParamValue::Int64(-1)),
            "bad_param",
        ),
        (
            "loadpart_checksum",
            Some(ParamValue::Int64(1 << 40)),
            "bad_param",
        ),
        ("loadpart_scales", s("0.1,nope"), "bad_param"),
        ("loadpart_zero_points", s("1,2,3"), "param_count"),
        ("loadpart_zero_points", s("1,256"), "bad_param"),
    ];
    for (key, value, want) in cases {
        let got = parse(&with(key, value.clone())).map(|h| {
            validate(&h, &payload, &DecodeLimits::default())
                .map(|_| ())
                .unwrap_err()
        });
        let kind = match got {
            Ok(e) | Err(e) => e.label(),
        };
        assert_eq!(kind, want, "{key} = {value:?}");
    }
    let mut dup = base.clone();
    dup.push(base[0].clone());
    assert_eq!(parse(&dup).unwrap_err().label(), "duplicate_param");
    // A changed scale parses but fails the checksum.
    let changed = with("loadpart_scales", s("0.5,0.5"));
    let h2 = parse(&changed).unwrap();
    let err = validate(&h2, &payload, &DecodeLimits::default()).unwrap_err();
    assert_eq!(err.label(), "checksum");
}
