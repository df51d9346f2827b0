//! Exact cut counts on generated models, and rejection of invalid cuts.

use loadpart_cuts::CutCount;
use loadpart_graph::{GraphError, StageGraph, zoo};

fn counts(name: &str) -> (usize, usize, Vec<usize>) {
    let model = zoo::generate(name).unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let space = sg.cut_space(10_000);
    let inner = space
        .blocks()
        .iter()
        .map(|b| match b.cut_count() {
            CutCount::Exact(n) => n,
            CutCount::AtLeast(n) => panic!("block of {name} not enumerated ({n}+)"),
        })
        .collect();
    (sg.stages().len(), space.all_candidate_cuts().count(), inner)
}

#[test]
fn chain_cuts_are_every_stage_boundary() {
    // 7 stages in a line: the input, 6 articulation tensors and the output.
    assert_eq!(counts("chain"), (7, 8, vec![0; 7]));
}

#[test]
fn residual_block_has_two_cuts_across_skip_and_main_path() {
    // Inside the block: {main conv1 out, skip} and {main conv2 out, skip}.
    let (stages, total, inner) = counts("residual");
    assert_eq!((stages, total), (7, 8));
    assert_eq!(inner.iter().sum::<usize>(), 2);
}

#[test]
fn inception_block_cuts_are_all_branch_combinations() {
    // Branch lengths 1, 2, 2, 2 stages: 2*3*3*3 downsets, minus the empty one (a boundary).
    let (stages, total, inner) = counts("inception");
    assert_eq!(stages, 12);
    assert_eq!(inner.iter().sum::<usize>(), 53);
    assert_eq!(total, 59);
}

#[test]
fn dense_block_cuts_carry_several_tensors() {
    let model = zoo::generate("dense").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let space = sg.cut_space(10_000);
    assert_eq!(space.all_candidate_cuts().count(), 12);
    let multi = space
        .all_candidate_cuts()
        .filter(|c| c.cut.tensors.len() > 1)
        .count();
    assert_eq!(
        multi, 6,
        "each inner dense-block cut also sends the stem output the later concats read"
    );
}

#[test]
fn two_inputs_two_outputs_are_handled() {
    let model = zoo::generate("two-io").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    let space = sg.cut_space(10_000);
    assert_eq!(sg.stages().len(), 9);
    assert_eq!(space.all_candidate_cuts().count(), 23);
    let full_offload = space.all_candidate_cuts().next().unwrap();
    assert_eq!(sg.names(&full_offload.cut.tensors), vec!["a", "b"]);
}

#[test]
fn invalid_cut_names_the_uncut_path() {
    let model = zoo::generate("residual").unwrap();
    let sg = StageGraph::build(&model).unwrap();
    // Cutting only the main path leaves the skip connection uncut.
    let stem = &sg
        .dag()
        .tensor(sg.dag().node(loadpart_cuts::NodeId(0)).outputs[0])
        .name;
    let main1 = &sg
        .dag()
        .tensor(sg.dag().node(loadpart_cuts::NodeId(1)).outputs[0])
        .name;
    assert!(sg.validate_cut(&[stem]).is_ok());
    let err = sg.validate_cut(&[main1]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GraphError::Cut(_)), "{msg}");
    assert!(
        msg.contains(stem) && msg.contains("x"),
        "error should name the uncut path through the skip: {msg}"
    );
    let unknown = sg.validate_cut(&["no_such_tensor"]).unwrap_err();
    assert!(unknown.to_string().contains("no_such_tensor"));
}
