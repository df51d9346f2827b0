//! Cut theory on small hand-built DAGs: exact cut counts, articulation tensors, rejection of
//! invalid cuts, and agreement with a brute force over every node subset.

use crate::*;
use std::collections::HashSet;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A tiny DSL: `node(b, "name", &["in", ...], &["out", ...])` by tensor names.
fn node(
    b: &mut DagBuilder,
    known: &mut Vec<(String, TensorId)>,
    name: &str,
    ins: &[&str],
    outs: &[&str],
) {
    let ids: Vec<TensorId> = ins
        .iter()
        .map(|i| known.iter().find(|(n, _)| n == i).expect("known tensor").1)
        .collect();
    let (_, out) = b.add_node(name, &ids, s(outs)).unwrap();
    for (n, t) in outs.iter().zip(out) {
        known.push((n.to_string(), t));
    }
}

fn build(inputs: &[&str], nodes: &[(&str, &[&str], &[&str])], outputs: &[&str]) -> Dag {
    let mut b = DagBuilder::new();
    let mut known = Vec::new();
    for i in inputs {
        let t = b.add_input(*i);
        known.push((i.to_string(), t));
    }
    for (name, ins, outs) in nodes {
        node(&mut b, &mut known, name, ins, outs);
    }
    for o in outputs {
        let t = known.iter().find(|(n, _)| n == o).unwrap().1;
        b.mark_output(t).unwrap();
    }
    b.build().unwrap()
}

pub(crate) fn chain() -> Dag {
    build(
        &["x"],
        &[
            ("n1", &["x"], &["a"]),
            ("n2", &["a"], &["b"]),
            ("n3", &["b"], &["y"]),
        ],
        &["y"],
    )
}

pub(crate) fn residual() -> Dag {
    build(
        &["x"],
        &[
            ("stem", &["x"], &["a"]),
            ("m1", &["a"], &["b"]),
            ("m2", &["b"], &["c"]),
            ("s1", &["a"], &["d"]),
            ("add", &["c", "d"], &["e"]),
            ("head", &["e"], &["y"]),
        ],
        &["y"],
    )
}

pub(crate) fn inception() -> Dag {
    build(
        &["x"],
        &[
            ("stem", &["x"], &["a"]),
            ("p1", &["a"], &["p"]),
            ("q1", &["a"], &["q0"]),
            ("q2", &["q0"], &["q"]),
            ("r1", &["a"], &["r0"]),
            ("r2", &["r0"], &["r"]),
            ("s1", &["a"], &["s0"]),
            ("s2", &["s0"], &["s"]),
            ("cat", &["p", "q", "r", "s"], &["c"]),
            ("fc", &["c"], &["y"]),
        ],
        &["y"],
    )
}

/// Torchvision-style dense block: every layer reads the block input and all earlier features.
pub(crate) fn dense() -> Dag {
    build(
        &["x"],
        &[
            ("stem", &["x"], &["a"]),
            ("u1", &["a"], &["g1"]),
            ("v1", &["g1"], &["f1"]),
            ("u2", &["a", "f1"], &["g2"]),
            ("v2", &["g2"], &["f2"]),
            ("u3", &["a", "f1", "f2"], &["g3"]),
            ("v3", &["g3"], &["f3"]),
            ("cat", &["a", "f1", "f2", "f3"], &["c"]),
            ("fc", &["c"], &["y"]),
        ],
        &["y"],
    )
}

pub(crate) fn two_in_two_out() -> Dag {
    build(
        &["x1", "x2"],
        &[
            ("e1", &["x1"], &["a"]),
            ("e2", &["x2"], &["b"]),
            ("j", &["a", "b"], &["c"]),
            ("h1", &["c"], &["y1"]),
            ("h2", &["c"], &["y2"]),
        ],
        &["y1", "y2"],
    )
}

fn names(dag: &Dag, ts: &[TensorId]) -> Vec<String> {
    ts.iter().map(|&t| dag.tensor(t).name.clone()).collect()
}

/// Every downset of `dag`, by brute force over node subsets (small DAGs only).
fn brute_force_cut_ids(dag: &Dag) -> HashSet<String> {
    let n = dag.node_count();
    assert!(n <= 20);
    let mut ids = HashSet::new();
    for mask in 0u32..(1 << n) {
        let mut head = NodeSet::empty(n);
        for i in 0..n {
            if mask & (1 << i) != 0 {
                head.insert(NodeId(i as u32));
            }
        }
        if dag.is_downset(&head) {
            let cut = dag.cut_of(head);
            assert!(dag.validate_cut(&cut.tensors).is_ok());
            assert!(
                ids.insert(cut.id(dag).to_string()),
                "two downsets with one cut"
            );
        }
    }
    ids
}

fn check_space(dag: &Dag, articulation: &[&str], inner: &[usize]) {
    let space = CutSpace::analyze(dag, 1000);
    assert_eq!(names(dag, space.articulation_tensors()), s(articulation));
    let counts: Vec<CutCount> = space.blocks().iter().map(|b| b.cut_count()).collect();
    let expected: Vec<CutCount> = inner.iter().map(|&c| CutCount::Exact(c)).collect();
    assert_eq!(counts, expected);
    let listed: Vec<String> = space
        .all_candidate_cuts()
        .map(|c| c.cut.id(dag).to_string())
        .collect();
    let unique: HashSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "duplicate candidates");
    assert_eq!(unique, brute_force_cut_ids(dag));
    assert!(space.is_complete());
    let cands: Vec<Candidate> = space.all_candidate_cuts().collect();
    assert_eq!(cands.first().unwrap().kind, CandidateKind::FullOffload);
    assert_eq!(cands.last().unwrap().kind, CandidateKind::FullLocal);
}

#[test]
fn chain_cuts() {
    let dag = chain();
    check_space(&dag, &["x", "a", "b", "y"], &[0, 0, 0]);
    assert_eq!(CutSpace::analyze(&dag, 10).all_candidate_cuts().count(), 4);
}

#[test]
fn residual_cuts() {
    let dag = residual();
    // Main path prefixes {0,1,2} x skip {0,1}, minus the empty one: 5 inner cuts; 9 in all.
    check_space(&dag, &["x", "a", "e", "y"], &[0, 5, 0]);
    assert_eq!(brute_force_cut_ids(&dag).len(), 9);
    let v = dag.validate_cut_names(&["c", "d"]).unwrap();
    assert_eq!(dag.cut_of(v.head.clone()).id(&dag), "c,d");
}

#[test]
fn inception_cuts() {
    let dag = inception();
    // Branch prefixes 2*3*3*3 = 54, minus the empty one.
    check_space(&dag, &["x", "a", "c", "y"], &[0, 53, 0]);
    assert_eq!(brute_force_cut_ids(&dag).len(), 57);
}

#[test]
fn dense_cuts() {
    let dag = dense();
    check_space(&dag, &["x", "a", "c", "y"], &[0, 6, 0]);
    let space = CutSpace::analyze(&dag, 100);
    let BlockCuts::Enumerated(cuts) = &space.blocks()[1].cuts else {
        panic!("enumerated")
    };
    let ids: Vec<String> = cuts.iter().map(|c| c.id(&dag).to_string()).collect();
    assert!(ids.contains(&"a,f1,f2".to_string()));
    assert!(ids.contains(&"a,f1,g2".to_string()));
}

#[test]
fn two_inputs_two_outputs() {
    let dag = two_in_two_out();
    check_space(&dag, &["c"], &[3, 2]);
    let space = CutSpace::analyze(&dag, 100);
    let first = &space.boundaries()[0].cut;
    assert_eq!(first.id(&dag), "x1,x2");
    let last = &space.boundaries().last().unwrap().cut;
    assert_eq!(last.id(&dag), "y1,y2");
    assert_eq!(last.sent_tensors(&dag).count(), 0);
    // Head {e1, e2, j, h1}: y1 stays on the device, only c is sent.
    let v = dag.validate_cut_names(&["c", "y1"]).unwrap();
    let mut head = v.head.clone();
    assert_eq!(head.len(), 4);
    let cut = dag.cut_of(head.clone());
    assert_eq!(cut.id(&dag), "c,y1");
    assert_eq!(
        names(&dag, &cut.sent_tensors(&dag).collect::<Vec<_>>()),
        s(&["c"])
    );
    assert_eq!(
        v.tail
            .iter()
            .map(|n| dag.node(n).name.clone())
            .collect::<Vec<_>>(),
        s(&["h2"])
    );
    head.remove(dag.node_by_name("h1").unwrap());
    assert_eq!(dag.cut_of(head).id(&dag), "c");
}

#[test]
fn invalid_cuts_name_the_uncut_path() {
    let dag = residual();
    let err = dag.validate_cut_names(&["b"]).unwrap_err();
    assert_eq!(
        err,
        CutError::UncutPath {
            path: s(&["x", "stem", "a", "s1", "d", "add", "e", "head", "y"])
        }
    );
    assert!(err.to_string().contains("x -> stem -> a -> s1"));

    let dag = two_in_two_out();
    let err = dag.validate_cut_names(&["a", "y1"]).unwrap_err();
    assert_eq!(
        err,
        CutError::UncutPath {
            path: s(&["x2", "e2", "b", "j", "c", "h2", "y2"])
        }
    );
    assert_eq!(
        dag.validate_cut_names(&["a", "nope"]).unwrap_err(),
        CutError::UnknownTensor {
            name: "nope".into()
        }
    );
    assert!(matches!(
        dag.validate_cut(&[TensorId(99)]),
        Err(CutError::UnknownTensorId { id: 99, .. })
    ));
    assert!(matches!(
        dag.validate_cut(&[]),
        Err(CutError::UncutPath { .. })
    ));

    let dag = inception();
    let err = dag.validate_cut_names(&["p", "q", "r0"]).unwrap_err();
    assert_eq!(
        err,
        CutError::UncutPath {
            path: s(&[
                "x", "stem", "a", "s1", "s0", "s2", "s", "cat", "c", "fc", "y"
            ])
        }
    );
}

#[test]
fn redundant_cut_is_valid_with_head_and_tail() {
    let dag = chain();
    let v = dag.validate_cut_names(&["b", "a", "a"]).unwrap();
    let nm = |set: &NodeSet| {
        set.iter()
            .map(|n| dag.node(n).name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(nm(&v.head), s(&["n1", "n2"]));
    assert_eq!(nm(&v.tail), s(&["n3"]));
    assert_eq!(names(&dag, &v.tensors), s(&["a", "b"]));
    let v = dag.validate_cut_names(&["x"]).unwrap();
    assert!(v.head.is_empty());
    assert_eq!(v.tail.len(), 3);
}

#[test]
fn cut_ids_resolve_to_the_canonical_cut() {
    let dag = residual();
    // Any order; a redundant cut is the canonical cut of its head.
    let c = dag.cut_by_id(&CutId::from_names(["d", "c", "b"])).unwrap();
    assert_eq!(c.id(&dag), CutId::from_names(["c", "d"]));
    assert!(matches!(
        dag.cut_by_id(&CutId::from_names(["c"])),
        Err(CutError::UncutPath { .. })
    ));
    assert!(matches!(
        dag.cut_by_id(&CutId::from_names(["nope"])),
        Err(CutError::UnknownTensor { .. })
    ));
}

#[test]
fn enumeration_cap_reports_too_many() {
    let dag = inception();
    let space = CutSpace::analyze(&dag, 10);
    assert_eq!(space.blocks()[1].cut_count(), CutCount::AtLeast(11));
    assert!(!space.is_complete());
    // Boundaries are still listed: full offload, a, c, full local.
    assert_eq!(space.all_candidate_cuts().count(), 4);
    let space = CutSpace::analyze(&dag, 53);
    assert_eq!(space.blocks()[1].cut_count(), CutCount::Exact(53));
}

#[test]
fn requests_resolve_to_their_canonical_cut() {
    let dag = two_in_two_out();
    let id = |r: &RequestCut| r.cut.id(&dag).to_string();
    let outs = |r: &RequestCut| names(&dag, &r.outputs);
    // Full offload: every output computed by the tail.
    let r = dag.cut_for_request(&["x2", "x1"], None).unwrap();
    assert_eq!((id(&r), outs(&r)), ("x1,x2".into(), s(&["y1", "y2"])));
    // Only c sent and no outputs listed: the tail computes both outputs.
    let r = dag.cut_for_request(&["c"], None).unwrap();
    assert_eq!((id(&r), outs(&r)), ("c".into(), s(&["y1", "y2"])));
    // The device kept y1: the same sent tensor, another cut, told apart by the outputs asked for.
    let r = dag.cut_for_request(&["c"], Some(&["y2"])).unwrap();
    assert_eq!((id(&r), outs(&r)), ("c,y1".into(), s(&["y2"])));
    assert_eq!(r.cut.head.len(), 4);
}

#[test]
fn bad_requests_are_typed_errors() {
    let dag = two_in_two_out();
    let err = |sent: &[&str], outs: Option<&[&str]>| dag.cut_for_request(sent, outs).unwrap_err();
    assert!(matches!(
        err(&["nope"], None),
        CutError::UnknownTensor { .. }
    ));
    assert!(matches!(err(&["c"], Some(&["a"])), CutError::BadOutputs(_)));
    assert!(matches!(err(&["y1", "y2"], None), CutError::BadOutputs(_)));
    // a alone cannot compute anything: x2's branch is missing.
    assert!(matches!(
        err(&["a"], Some(&["y1"])),
        CutError::UncutPath { .. }
    ));
    // c plus a superfluous a: the canonical cut sends only c.
    match err(&["c", "a"], None) {
        CutError::SentMismatch { sent, expected } => {
            assert_eq!((sent, expected), (s(&["a", "c"]), s(&["c"])));
        }
        other => panic!("{other}"),
    }
}
