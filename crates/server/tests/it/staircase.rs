//! Staircase merging: requests at an earlier cut run forward to a later cut and join its batch;
//! every output equals unbatched execution of the whole model. A segment is built off the
//! executors: until it is, batches run unmerged.

use std::time::{Duration, Instant};

use loadpart_codec::Precision;
use loadpart_cuts::CutId;
use loadpart_runtime::PartSpec;

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
    let segment = PartSpec::Segment {
        from: early.clone(),
        to: late.clone(),
    };
    assert!(m.runtime.cached(segment.clone()).is_none());
    let mut rounds = Vec::new();
    for round in 0..3 {
        if round == 1 {
            // The first round asked for the segment; it builds on a blocking task.
            let t0 = Instant::now();
            while m.runtime.cached(segment.clone()).is_none() {
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "segment never built"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
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
        let mut sizes = Vec::new();
        for t in tasks {
            let (err, size) = t.await.unwrap();
            assert!(err < 1e-5, "staircase output differs from unbatched: {err}");
            sizes.push(size);
        }
        rounds.push(sizes);
    }
    eprintln!("staircase {early} -> {late}: batch sizes per reply, per round {rounds:?}");
    // The segment was cold: the first round's batches ran unmerged (at most 3 rows, one cut
    // each) instead of an executor building it.
    assert!(rounds[0].iter().all(|&s| s <= 3.0), "{rounds:?}");
    // Once built, requests of both cuts ran in one batch of 6 rows.
    assert!(
        rounds[1..].iter().flatten().any(|&s| s == 6.0),
        "{rounds:?}"
    );
    server.shutdown().await.unwrap();
}
