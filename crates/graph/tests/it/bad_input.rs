//! Malformed and truncated files give clear errors, never panics.

use loadpart_graph::{GraphError, OnnxModel, zoo};
use prost::Message;

#[test]
fn garbage_and_truncated_files_are_errors() {
    assert!(matches!(
        OnnxModel::from_bytes(b"definitely not onnx"),
        Err(GraphError::Malformed(_)) | Err(GraphError::NoGraph)
    ));
    let bytes = zoo::chain().encode_to_vec();
    for cut in [1, 7, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        // Truncation either fails to decode or leaves a graph whose references do not resolve.
        let r = std::panic::catch_unwind(|| {
            OnnxModel::from_bytes(&bytes[..cut]).map(|m| m.nodes().len())
        });
        assert!(r.is_ok(), "panicked on a file truncated at {cut} bytes");
        assert!(
            r.unwrap().is_err(),
            "a file truncated at {cut} of {} bytes was accepted",
            bytes.len()
        );
    }
    assert!(OnnxModel::from_bytes(&[]).is_err());
}

#[test]
fn every_single_byte_flip_is_handled() {
    let bytes = zoo::residual().encode_to_vec();
    for i in (0..bytes.len()).step_by(97) {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let r = std::panic::catch_unwind(|| {
            if let Ok(m) = OnnxModel::from_bytes(&b) {
                let _ = loadpart_graph::StageGraph::build(&m)
                    .map(|sg| sg.cut_space(1000).blocks().len());
                let _ = loadpart_graph::Shapes::infer(&m, 2);
            }
        });
        assert!(r.is_ok(), "panicked with byte {i} flipped");
    }
}

#[test]
fn dangling_references_are_reported() {
    let mut proto = zoo::chain();
    proto.graph.as_mut().unwrap().node[2].input[0] = "ghost".into();
    let err = OnnxModel::from_proto(proto).unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
}

#[test]
fn unknown_generated_model_is_an_error() {
    assert!(
        zoo::generate("nope")
            .unwrap_err()
            .to_string()
            .contains("chain")
    );
}
