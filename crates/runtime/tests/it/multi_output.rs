//! Multi-output models end to end: outputs the head computes stay on the device, the tail
//! computes only the rest from the sent tensors alone, and the merge equals the whole model.

use loadpart_engine::EngineKind;
use loadpart_runtime::{NamedTensors, views};

use crate::{inputs, names, rel_err, runtime};

#[test]
fn two_io_model_at_every_cut_with_only_the_sent_tensors() {
    for kind in EngineKind::ALL {
        let rt = runtime(kind, "two-io", usize::MAX);
        let prepared = rt.prepared().clone();
        let dag = prepared.stages.dag();
        let x = inputs(&prepared.model, 2, 11);
        let whole = rt.full().unwrap().run(&views(&x)).unwrap().outputs;
        let space = prepared.stages.cut_space(10_000);
        let mut checked = 0;
        let mut kept_somewhere = false;
        for candidate in space.all_candidate_cuts() {
            let cut = candidate.cut;
            let id = cut.id(dag);
            let head = rt.head(&id).unwrap();
            let head_out = head.run(&views(&x)).unwrap().outputs;
            let sent_names: Vec<String> = cut
                .sent_tensors(dag)
                .map(|t| dag.tensor(t).name.clone())
                .collect();
            // Only the sent tensors cross: exactly what the tail reads.
            let sent: NamedTensors = head_out
                .iter()
                .filter(|(n, _)| sent_names.contains(n))
                .cloned()
                .collect();
            let mut merged: NamedTensors = Vec::new();
            if !cut.is_full_local() {
                let tail = rt.tail(&id).unwrap();
                let mut reads = tail.inputs().to_vec();
                reads.sort();
                let mut want = sent_names.clone();
                want.sort();
                assert_eq!(reads, want, "{id}: the tail reads exactly the sent tensors");
                merged = tail.run(&views(&sent)).unwrap().outputs;
            }
            // Outputs the head computed stay on the device and join the server's.
            for o in prepared.model.outputs() {
                if let Some(kept) = head_out.iter().find(|(n, _)| n == o) {
                    assert!(
                        !merged.iter().any(|(n, _)| n == o),
                        "{id}: the tail recomputed {o}, which the head already has"
                    );
                    kept_somewhere |= !cut.is_full_local();
                    merged.push(kept.clone());
                }
            }
            let err = rel_err(&whole, &merged);
            assert!(err <= 1e-5, "{kind} {id}: {err} ({:?})", names(&merged));
            checked += 1;
        }
        assert_eq!(checked, 23, "every cut of two-io");
        assert!(kept_somewhere, "some cut keeps an output on the device");
    }
}

#[test]
fn a_cut_id_that_is_not_a_cut_is_an_error() {
    use loadpart_errors::Classify;
    let rt = runtime(EngineKind::Tract, "residual", usize::MAX);
    let stages = &rt.prepared().stages;
    // A tensor inside the residual block: the skip connection goes around it.
    let inner = stages
        .dag()
        .tensors()
        .iter()
        .map(|t| t.name.clone())
        .find(|n| stages.validate_cut(&[n.as_str()]).is_err())
        .expect("a tensor that is no cut alone");
    let err = rt
        .tail(&loadpart_cuts::CutId::from_names([&inner]))
        .unwrap_err();
    assert_eq!(err.label(), "not_a_cut", "{err}");
    let err = rt
        .head(&loadpart_cuts::CutId::from_names(["no_such_tensor"]))
        .unwrap_err();
    assert_eq!(err.label(), "unknown_tensor", "{err}");
    assert_eq!(err.kind(), loadpart_errors::ErrorKind::Caller);
}
