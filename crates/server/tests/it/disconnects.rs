//! Clients that leave mid-request: the batch still answers the others, and nothing the leavers
//! held (the in-flight count, their queue places) stays behind.

use std::time::{Duration, Instant};

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_leave_mid_request_leave_nothing_behind() {
    let server = start(&["inception"], |c| {
        c.max_batch_rows = 8;
        // Batches wait a little for company, so that leavers are queued beside stayers.
        c.max_queue_delay = Duration::from_millis(20);
    })
    .await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 5);
    let want = reference(&m, &x);
    for round in 0..6u64 {
        let mut leavers = Vec::new();
        let mut stayers = Vec::new();
        for i in 0..8 {
            let mut c = infer_client(&server).await;
            let req = plain_request(&m.name, &x);
            let call = tokio::spawn(async move { c.model_infer(req).await });
            if i % 2 == 0 {
                leavers.push(call);
            } else {
                stayers.push(call);
            }
        }
        // Leave at different moments: before the batch forms, while queued, while it runs.
        tokio::time::sleep(Duration::from_millis(10 * round)).await;
        for l in &leavers {
            l.abort();
        }
        for s in stayers {
            let r = tokio::time::timeout(Duration::from_secs(30), s)
                .await
                .expect("a stayer is answered")
                .expect("its task did not panic")
                .expect("the server answered it")
                .into_inner();
            let err = rel_err(&want, &outputs(&r));
            assert!(
                err < 1e-5,
                "round {round}: a stayer's output differs: {err}"
            );
        }
    }
    // Nothing is left: no request in flight, none queued.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = load_report(&server, &m.name).await;
        if r.in_flight == 0 && r.queue_length == 0 {
            break;
        }
        assert!(Instant::now() < until, "left behind after 10 s: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the server still serves.
    let mut c = infer_client(&server).await;
    let r = c
        .model_infer(plain_request(&m.name, &x))
        .await
        .expect("served after the leavers")
        .into_inner();
    assert!(rel_err(&want, &outputs(&r)) < 1e-5);
}
