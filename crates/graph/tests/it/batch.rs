//! Making the batch dynamic on files exported with batch 1.

use loadpart_graph::{OnnxModel, Shapes, make_batch_dynamic, zoo};

#[test]
fn light_models_become_dynamic_batch() {
    for name in ["alexnet", "shufflenet", "inception_v1", "vgg19"] {
        let model = zoo::load_light(name).unwrap();
        // The original hard-codes batch 1 in a Reshape target: batch 4 cannot be inferred.
        assert!(
            Shapes::infer(&model, 4).is_err(),
            "{name}: expected a hard-coded batch"
        );
        let dynamic = make_batch_dynamic(&model).unwrap();
        let s = Shapes::infer(&dynamic, 4).unwrap();
        assert_eq!(s.get(&dynamic.outputs()[0]).unwrap().dims[0], 4, "{name}");
        assert_eq!(
            dynamic.hash(),
            model.hash(),
            "a rewrite keeps the model's identity"
        );
    }
}

#[test]
fn flatten_of_the_batch_is_refused() {
    let mut proto = loadpart_graph::zoo::chain();
    let g = proto.graph.as_mut().unwrap();
    let flatten = g
        .node
        .iter_mut()
        .find(|n| n.op_type() == "Flatten")
        .unwrap();
    flatten.attribute[0].i = Some(0);
    let model = OnnxModel::from_proto(proto).unwrap();
    let err = make_batch_dynamic(&model).unwrap_err();
    assert!(err.to_string().contains("axis=0"), "{err}");
}
