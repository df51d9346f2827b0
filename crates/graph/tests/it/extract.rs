//! Head, tail and segment extraction keep exactly what they need.

use loadpart_graph::{BatchDim, OnnxModel, StageGraph, zoo};

#[test]
fn parts_keep_only_what_they_use() {
    let model = zoo::generate("inception").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let space = sg.cut_space(10_000);
    for c in space.all_candidate_cuts() {
        let cut = sg.names(&c.cut.tensors);
        let head = model.head(&cut, BatchDim::Dynamic).unwrap();
        let tail = model.tail(&cut, BatchDim::Dynamic).unwrap();
        let total = model.nodes().len();
        assert_eq!(
            head.model.graph.as_ref().unwrap().node.len()
                + tail.model.graph.as_ref().unwrap().node.len(),
            total
        );
        for part in [&head, &tail].into_iter().filter(|p| !p.is_empty()) {
            let g = part.model.graph.as_ref().unwrap();
            let used: std::collections::HashSet<&str> = g
                .node
                .iter()
                .flat_map(|n| n.input.iter().map(String::as_str))
                .collect();
            assert!(
                g.initializer.iter().all(|t| used.contains(t.name())),
                "unused initializer kept"
            );
            // Every part is itself a valid model.
            OnnxModel::from_proto(part.model.clone()).unwrap();
        }
    }
}

#[test]
fn segment_between_two_cuts() {
    let model = zoo::generate("chain").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let arts: Vec<String> = sg
        .cut_space(100)
        .articulation_tensors()
        .iter()
        .map(|t| sg.dag().tensor(*t).name.clone())
        .collect();
    let seg = model
        .segment(&arts[1..2], &arts[3..4], BatchDim::Dynamic)
        .unwrap();
    assert_eq!(seg.inputs, arts[1..2]);
    assert_eq!(seg.outputs, arts[3..4]);
    assert_eq!(
        seg.model.graph.as_ref().unwrap().node.len(),
        3,
        "conv, relu, maxpool"
    );
    // Asking for a tensor that depends on a model input not given is an uncut path.
    let err = model
        .segment(&arts[2..3], &arts[1..2], BatchDim::Dynamic)
        .unwrap_err();
    assert!(err.to_string().contains("not a cut"), "{err}");
}

#[test]
fn constant_subgraphs_are_copied_into_each_part() {
    let model = loadpart_graph::zoo::load_light("squeezenet").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let space = sg.cut_space(1000);
    let mid = space.all_candidate_cuts().nth(10).unwrap();
    let cut = sg.names(&mid.cut.tensors);
    for part in [
        model.head(&cut, BatchDim::Source).unwrap(),
        model.tail(&cut, BatchDim::Source).unwrap(),
    ] {
        let g = part.model.graph.as_ref().unwrap();
        assert!(
            g.node.iter().any(|n| n.op_type() == "ConstantOfShape"),
            "weights generators must travel with their users"
        );
        OnnxModel::from_proto(part.model.clone()).unwrap();
    }
}

#[test]
fn layout_relays_route_only_residual_inputs() {
    let model = zoo::generate("residual").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let space = sg.cut_space(10_000);
    let mut relayed_cuts = 0;
    for c in space.all_candidate_cuts() {
        let cut = sg.names(&c.cut.tensors);
        let mut tail = model.tail(&cut, BatchDim::Dynamic).unwrap();
        let g = tail.model.graph.as_ref().unwrap();
        let before = g.node.len();
        // Exactly the tail inputs that the residual Add reads get a relay, and the Add reads
        // the relay instead.
        let expected = g.node.iter().find(|n| n.op_type() == "Add").map_or(0, |a| {
            a.input.iter().filter(|i| tail.inputs.contains(i)).count()
        });
        let added = loadpart_graph::insert_layout_relays(&mut tail);
        let g = tail.model.graph.as_ref().unwrap();
        assert_eq!(g.node.len(), before + added);
        assert_eq!(added, expected, "cut {cut:?}");
        let add = g.node.iter().find(|n| n.op_type() == "Add");
        if added > 0 {
            relayed_cuts += 1;
            let add = add.unwrap();
            assert!(add.input.iter().all(|i| !tail.inputs.contains(i)));
            assert!(g.node[..added].iter().all(|n| n.op_type() == "MaxPool"));
        }
        if tail.is_empty() {
            continue;
        }
        // Still a valid model with the same outputs.
        let reloaded = OnnxModel::from_proto(tail.model.clone()).unwrap();
        assert_eq!(reloaded.outputs(), model.outputs());
    }
    // The skip input is a tail input on both cuts across the block, and at the block start.
    assert!(relayed_cuts >= 2, "{relayed_cuts}");
}
