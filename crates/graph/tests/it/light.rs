//! The model-zoo light models load, get shapes, stages and cut spaces.

use loadpart_graph::{OnnxModel, Shapes, StageGraph, zoo};

#[test]
fn all_light_models_analyse() {
    let mut seen = 0;
    for entry in
        std::fs::read_dir(zoo::light_model_path("resnet50").unwrap().parent().unwrap()).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "onnx") {
            continue;
        }
        seen += 1;
        let model = OnnxModel::load(&path).unwrap();
        let shapes = Shapes::infer(&model, 1).unwrap();
        let out = shapes.get(&model.outputs()[0]).unwrap();
        assert_eq!(out.dims[..2], [1, 1000], "{}", path.display());
        let sg = StageGraph::build(&model).unwrap();
        let space = sg.cut_space(10_000);
        assert!(
            space.is_complete(),
            "{}: a block was not enumerated",
            path.display()
        );
        // No cut tensor is a constant (weights are never offered as cut tensors).
        for c in space.all_candidate_cuts() {
            for t in &c.cut.tensors {
                assert!(!model.is_constant_tensor(&sg.dag().tensor(*t).name));
            }
        }
    }
    assert_eq!(seen, 9);
}

#[test]
fn resnet50_cut_structure() {
    let model = zoo::load_light("resnet50").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let space = sg.cut_space(10_000);
    // 16 bottleneck blocks; the 4 with a projection skip have 7 inner cuts, the rest 3.
    let inner: Vec<usize> = space
        .blocks()
        .iter()
        .map(|b| match b.cut_count() {
            loadpart_cuts::CutCount::Exact(n) => n,
            other => panic!("{other:?}"),
        })
        .filter(|n| *n > 0)
        .collect();
    assert_eq!(inner.len(), 16);
    assert_eq!(inner.iter().filter(|n| **n == 7).count(), 4);
}
