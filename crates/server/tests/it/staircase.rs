//! Staircase merging: requests at an earlier cut run forward to a later cut and join its batch;
//! every output equals unbatched execution of the whole model.

use std::time::Duration;

use loadpart_codec::Precision;
use loadpart_cuts::CutId;

use crate::*;

/// Two inner articulation cuts of `m`, the first and one in the middle (their heads nest).
pub fn two_nesting_cuts(m: &ServedModel) -> (CutId, CutId) {
    let prepared = m.runtime.prepared();
    let dag = prepared.stages.dag();
    let space = prepared.stages.cut_space(0);
    let inner: Vec<CutId> = space
        .boundaries()
        .iter()
        .filter(|b| !b.cut.is_full_offload() && !b.cut.is_full_local())
        .filter(|b| b.cut.tensors.iter().all(|&t| !dag.is_output(t)))
        .map(|b| b.cut.id(dag))
        .collect();
    assert!(inner.len() >= 2, "{inner:?}");
    (inner[0].clone(), inner[inner.len() / 2].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_staircases_equal_unbatched_execution() {
    let server = start(&["inception"], |c| {
        c.staircase = true;
        c.max_batch_rows = 8;
        // Long enough that requests sent together queue together and leave as one staircase.
        c.max_queue_delay = Duration::from_millis(200);
    })
    .await;
    let m = server.models()[0].clone();
    let (early, late) = two_nesting_cuts(&m);
    let mut cases = Vec::new();
    for (i, cut) in [&early, &early, &early, &late, &late, &late]
        .into_iter()
        .enumerate()
    {
        let x = inputs(&m, 1, 40 + i as u32);
        let want = reference(&m, &x);
        cases.push((partitioned_request(&m, cut, &x, Precision::F32), want));
    }
    let client = infer_client(&server).await;
    let mut sizes = Vec::new();
    for _round in 0..3 {
        let tasks: Vec<_> = cases
            .iter()
            .map(|(r, want)| {
                let (mut c, r, want) = (client.clone(), r.clone(), want.clone());
                tokio::spawn(async move {
                    let reply = c.model_infer(r).await.unwrap().into_inner();
                    let err = rel_err(&want, &outputs(&reply));
                    (err, param(&reply, "loadpart_batch_size"))
                })
            })
            .collect();
        for t in tasks {
            let (err, size) = t.await.unwrap();
            assert!(err < 1e-5, "staircase output differs from unbatched: {err}");
            sizes.push(size);
        }
    }
    eprintln!("staircase {early} -> {late}: batch sizes per reply {sizes:?}");
    // Requests of both cuts ran in one batch of 6 rows at least once.
    assert!(sizes.contains(&6.0), "{sizes:?}");
    server.shutdown().await.unwrap();
}
