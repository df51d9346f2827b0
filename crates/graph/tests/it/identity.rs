//! A model's identity is the hash of what actually runs.

use loadpart_graph::{
    BatchDim, OnnxModel, Prepared, make_batch_dynamic, randomize_for_checks, randomize_weights, zoo,
};

#[test]
fn different_weights_have_different_identities() {
    let source = zoo::load_light("squeezenet").unwrap();
    // A device that randomized its weights and a server that did not must not pass for each
    // other, nor two different seeds.
    let device = Prepared::new(&randomize_weights(&source, 1).unwrap()).unwrap();
    let server = Prepared::new(&source).unwrap();
    let other = Prepared::new(&randomize_weights(&source, 2).unwrap()).unwrap();
    assert_ne!(device.identity(), server.identity());
    assert_ne!(device.identity(), other.identity());
    // The same preparation on two processes gives the same identity and the same bytes.
    let again = Prepared::new(&randomize_weights(&source, 1).unwrap()).unwrap();
    assert_eq!(device.identity(), again.identity());
    assert_eq!(device.model.to_bytes(), again.model.to_bytes());
    // Removing the final softmax changes what is computed, hence the identity.
    let stripped = randomize_for_checks(&source, 1).unwrap();
    assert_ne!(
        stripped.hash(),
        randomize_weights(&source, 1).unwrap().hash()
    );
}

#[test]
fn a_dynamic_batch_keeps_the_identity() {
    let source = zoo::load_light("squeezenet").unwrap();
    assert_eq!(make_batch_dynamic(&source).unwrap().hash(), source.hash());
    assert_eq!(Prepared::new(&source).unwrap().identity(), source.hash());
}

#[test]
fn parts_keep_the_source_batch_dimension() {
    let pinned = zoo::load_light("squeezenet").unwrap();
    assert!(!pinned.has_dynamic_batch());
    let dynamic = make_batch_dynamic(&pinned).unwrap();
    assert!(dynamic.has_dynamic_batch());
    let sg = Prepared::new(&pinned).unwrap().stages;
    let space = sg.cut_space(1000);
    let mid = space.all_candidate_cuts().nth(5).unwrap();
    let cut = sg.names(&mid.cut.tensors);
    let dim0 = |m: &OnnxModel, batch: BatchDim| {
        let part = m.head(&cut, batch).unwrap();
        let part = OnnxModel::from_proto(part.model).unwrap();
        let input = part.inputs()[0].clone();
        part.declared(&input).unwrap().1[0]
    };
    assert_eq!(dim0(&pinned, BatchDim::Source), Some(1));
    assert_eq!(dim0(&pinned, BatchDim::Dynamic), None);
    assert_eq!(
        dim0(&dynamic, BatchDim::Source),
        None,
        "a dynamic source stays dynamic"
    );
}
