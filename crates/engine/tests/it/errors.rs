//! Bad bytes and bad requests give typed errors, never panics.

use loadpart_engine::{EngineError, EngineKind, LoadOptions, TensorRef};
use loadpart_graph::onnx::GraphProto;

use crate::dynamic::load;
use crate::fixtures::{model, node, value_info};
use crate::light::model_bytes;
use crate::small_net::{C_IN, CLASSES, HW, SmallNet};
use crate::support::{Rng, engine};

fn load_err(kind: EngineKind, bytes: &[u8]) -> EngineError {
    match engine(kind).load(bytes, &LoadOptions::default()) {
        Ok(m) => panic!(
            "{kind} loaded {} bytes of junk: {:?}",
            bytes.len(),
            m.inputs()
        ),
        Err(e) => e,
    }
}

pub fn bad_bytes(kind: EngineKind) {
    let mut rng = Rng::new(42);
    let garbage: Vec<u8> = (0..4096)
        .map(|_| (rng.next() * 127.0 + 128.0) as u8)
        .collect();
    let resnet = model_bytes("resnet50");
    let small = SmallNet::new(1).onnx();
    let cases: [(&str, &[u8]); 5] = [
        ("garbage", &garbage),
        ("empty", &[]),
        ("text", b"this is not an onnx model"),
        ("truncated resnet50", &resnet[..resnet.len() / 2]),
        ("truncated small net", &small[..small.len() / 2]),
    ];
    for (what, bytes) in cases {
        let err = load_err(kind, bytes);
        assert!(
            matches!(err, EngineError::Load { .. } | EngineError::Panic { .. }),
            "{kind} {what}: {err:?}"
        );
        println!("{kind} {what}: {err}");
    }
}

/// A graph output that no node produces (tract panics on it internally).
pub fn dangling_output(kind: EngineKind) {
    let graph = GraphProto {
        name: Some("dangling".into()),
        node: vec![node("Relu", &["x"], &["y"], vec![])],
        input: vec![value_info("x", &[Some(1), Some(4)])],
        output: vec![value_info("nope", &[Some(1), Some(4)])],
        ..Default::default()
    };
    let err = load_err(kind, &model(graph));
    println!("{kind} dangling output: {err}");
}

pub fn bad_requests(kind: EngineKind) {
    let model = load(kind, &SmallNet::new(1));
    let (x1, s1, s2) = (
        vec![0f32; C_IN * HW * HW],
        vec![0f32; CLASSES],
        vec![0f32; 2 * CLASSES],
    );
    let (x_shape, s_shape, s2_shape) = ([1, C_IN, HW, HW], [1, CLASSES], [2, CLASSES]);
    let small_shape = [1, C_IN, HW - 1, HW + 1];
    let ints = vec![0i64; CLASSES];
    let x = TensorRef::f32(&x_shape, &x1).unwrap();
    let s = TensorRef::f32(&s_shape, &s1).unwrap();
    let s_batch2 = TensorRef::f32(&s2_shape, &s2).unwrap();
    let x_small = TensorRef::f32(&small_shape, &x1[..C_IN * (HW - 1) * (HW + 1)]).unwrap();
    let s_int = TensorRef::i64(&s_shape, &ints).unwrap();
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, TensorRef<'a>)>,
        fn(&EngineError) -> bool,
    );
    let cases: [Case; 7] = [
        (
            "unknown name",
            vec![("x", x), ("s", s), ("z", s)],
            |e| matches!(e, EngineError::UnknownInput { received, .. } if received == "z"),
        ),
        (
            "missing",
            vec![("x", x)],
            |e| matches!(e, EngineError::MissingInput { name, .. } if name == "s"),
        ),
        ("duplicate", vec![("x", x), ("x", x), ("s", s)], |e| {
            matches!(e, EngineError::DuplicateInput { .. })
        }),
        (
            "wrong shape",
            vec![("x", x_small), ("s", s)],
            |e| matches!(e, EngineError::ShapeMismatch { name, .. } if name == "x"),
        ),
        (
            "batch disagrees",
            vec![("x", x), ("s", s_batch2)],
            |e| matches!(e, EngineError::ShapeMismatch { name, .. } if name == "s"),
        ),
        ("wrong dtype", vec![("x", x), ("s", s_int)], |e| {
            matches!(e, EngineError::DtypeMismatch { .. })
        }),
        ("nothing", vec![], |e| {
            matches!(e, EngineError::MissingInput { .. })
        }),
    ];
    for (what, inputs, expected) in cases {
        let err = match model.run(&inputs) {
            Ok(_) => panic!("{kind} {what}: ran"),
            Err(e) => e,
        };
        assert!(expected(&err), "{kind} {what}: {err:?}");
    }
    assert!(
        model.run(&[("x", x), ("s", s)]).is_ok(),
        "still usable afterwards"
    );
}
