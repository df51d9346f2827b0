//! Concurrent clients form batches; the statistics and the load report show them.

use std::time::{Duration, Instant};

use loadpart_proto::loadpart::WatchLoadRequest;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_batch_and_answer_correctly() {
    let server = start(&["inception"], |c| {
        c.max_batch_rows = 8;
        c.max_queue_delay = Duration::from_millis(2);
    })
    .await;
    let m = server.models()[0].clone();
    const CLIENTS: u32 = 8;
    const PER_CLIENT: usize = 20;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client = infer_client(&server).await;
        let x = inputs(&m, 1, 100 + c);
        let want = reference(&m, &x);
        let name = m.name.clone();
        tasks.push(tokio::spawn(async move {
            let mut batch_sizes = Vec::new();
            for _ in 0..PER_CLIENT {
                let r = client.model_infer(plain_request(&name, &x)).await.unwrap();
                let r = r.into_inner();
                let err = rel_err(&want, &outputs(&r));
                assert!(err < 1e-5, "batched output differs: {err}");
                batch_sizes.push(param(&r, "loadpart_batch_size"));
            }
            batch_sizes
        }));
    }
    let started = Instant::now();
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let elapsed = started.elapsed();
    let mean_seen = seen.iter().sum::<f64>() / seen.len() as f64;

    let report = load_report(&server, &m.name).await;
    let s = model_stats(&server, &m.name).await;
    let total = (CLIENTS as usize * PER_CLIENT) as u64;
    assert_eq!(s.inference_count, total);
    assert_eq!(
        s.inference_stats
            .as_ref()
            .unwrap()
            .success
            .as_ref()
            .unwrap()
            .count,
        total
    );
    let stats_mean = s.inference_count as f64 / s.execution_count as f64;
    eprintln!(
        "{total} requests from {CLIENTS} clients in {elapsed:?}: mean batch size {stats_mean:.2} \
         (statistics), {:.2} (load report), {mean_seen:.2} (per reply); batch mix {:?}; \
         queue wait mean {:.0} us p95 {:.0} us; {:.0} req/s",
        report.mean_batch_size,
        batch_mix(&report),
        report.queue_wait_mean_us,
        report.queue_wait_p95_us,
        report.requests_per_s,
    );
    assert!(stats_mean > 1.0, "mean batch size {stats_mean}");
    assert!(report.mean_batch_size > 1.0, "{report:?}");
    assert!(report.slowdown.is_finite() && report.slowdown > 0.0);

    // WatchLoad streams reports at the asked interval.
    let mut watch = loadpart_client(&server)
        .await
        .watch_load(WatchLoadRequest {
            model_name: String::new(),
            min_interval_ms: 20,
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        let r = watch.message().await.unwrap().expect("a report");
        assert!(r.queue_wait_mean_us.is_finite());
    }
    drop(watch);
    server.shutdown().await.unwrap();
}
