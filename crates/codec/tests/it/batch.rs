//! Batch assembly straight into one buffer.

use loadpart_codec::{
    BatchAssembler, DecodeLimits, EncodeOptions, decode_blob, encode, synthetic_activations,
    validate,
};
use loadpart_errors::Classify;

#[test]
fn requests_land_in_consecutive_rows() {
    let limits = DecodeLimits::default();
    let row = [4usize, 6, 6];
    let mut batch = BatchAssembler::new(&row, 8).unwrap();
    let mut expected = Vec::new();
    for (i, rows) in [1usize, 3, 2].into_iter().enumerate() {
        let shape = [rows, 4, 6, 6];
        let data = synthetic_activations(&shape, i as u64);
        let e = encode(&data, &shape, &EncodeOptions::default()).unwrap();
        expected.extend(decode_blob(&e.to_bytes(), &limits).unwrap().data);
        let t = validate(&e.header, &e.payload, &limits).unwrap();
        let before = batch.rows();
        assert_eq!(batch.push(&t).unwrap(), before..before + rows);
    }
    assert_eq!(batch.shape(), vec![6, 4, 6, 6]);
    assert_eq!(batch.data(), &expected[..]);
    batch.clear();
    assert_eq!(batch.rows(), 0);
    assert!(batch.data().is_empty());
}

#[test]
fn mismatched_or_overflowing_requests_leave_the_batch_unchanged() {
    let limits = DecodeLimits::default();
    let mut batch = BatchAssembler::new(&[2, 3], 2).unwrap();
    let enc = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        encode(&vec![1.0; n], shape, &EncodeOptions::default()).unwrap()
    };
    let ok = enc(&[1, 2, 3]);
    batch
        .push(&validate(&ok.header, &ok.payload, &limits).unwrap())
        .unwrap();
    let cases: [(&[usize], &str); 3] = [
        (&[1, 3, 2], "batch_shape"),
        (&[1, 2, 3, 1], "batch_shape"),
        (&[2, 2, 3], "batch_full"),
    ];
    for (shape, want) in cases {
        let e = enc(shape);
        let t = validate(&e.header, &e.payload, &limits).unwrap();
        let err = batch.push(&t).unwrap_err();
        assert_eq!(err.label(), want, "{shape:?}: {err}");
        assert_eq!(batch.rows(), 1);
    }
    assert!(BatchAssembler::new(&[usize::MAX, 2], 1).is_err());
}

#[test]
fn one_call_decode_into_a_row_range() {
    let limits = DecodeLimits::default();
    let shape = [2usize, 3, 4];
    let data = synthetic_activations(&shape, 9);
    let e = encode(&data, &shape, &EncodeOptions::default()).unwrap();
    let mut rows = [f32::NAN; 48];
    loadpart_codec::decode_into(&e, &mut rows[24..], &limits).unwrap();
    assert_eq!(
        &rows[24..],
        &decode_blob(&e.to_bytes(), &limits).unwrap().data[..]
    );
    let err = loadpart_codec::decode_into(&e, &mut rows[..10], &limits).unwrap_err();
    assert_eq!(err.label(), "output_length");
}
