//! Admission by predicted completion: requests that cannot finish by their deadline are
//! refused at arrival, quickly and with the load report; the ones admitted finish in time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_proto::inference::InferParameter;
use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::inference::infer_parameter::ParameterChoice;
use loadpart_proto::loadpart::LoadReport;
use loadpart_runtime::NamedTensors;
use loadpart_server::{RunningServer, ServedModel};
use tonic::Code;
use tonic::transport::Channel;

use crate::*;

fn with_timeout_us(mut r: ModelInferRequest, us: i64) -> ModelInferRequest {
    r.parameters.insert(
        "timeout".into(),
        InferParameter {
            parameter_choice: Some(ParameterChoice::Int64Param(us)),
        },
    );
    r
}

/// A server with one executor and batches of at most 8 rows, an input of 8 rows (seeded by
/// `seed`) that fills a batch, a client, and the median time of such a batch in µs, learnt
/// from 8 requests (which also warm the engine).
async fn full_batches(
    seed: u32,
) -> (
    RunningServer,
    Arc<ServedModel>,
    NamedTensors,
    GrpcInferenceServiceClient<Channel>,
    f64,
) {
    let server = start(&["inception"], |c| {
        c.max_batch_rows = 8;
        c.max_queue_len = 1000;
    })
    .await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 8, seed);
    let mut client = infer_client(&server).await;
    let mut compute_us = Vec::new();
    for _ in 0..8 {
        let r = client
            .model_infer(plain_request(&m.name, &x))
            .await
            .unwrap();
        compute_us.push(param(r.get_ref(), "loadpart_compute_us"));
    }
    compute_us.sort_by(f64::total_cmp);
    let t_us = compute_us[compute_us.len() / 2].max(200.0);
    (server, m, x, client, t_us)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_cannot_finish_in_time_are_refused_at_arrival() {
    // Requests of 8 rows fill a batch each, so that a batch takes a few ms and the deadline is
    // many times the gRPC overhead.
    let (server, m, x, mut client, t_us) = full_batches(11).await;

    // 48 requests at once, each with a deadline of about 10 batch times: with full batches on
    // one executor, only the first few can make it; the rest must be refused at once rather
    // than queued to fail. (10, not fewer: admission predicts pessimistically, mean plus two
    // deviations, within 90% of the deadline, and on a busy 2-core machine the deviations are
    // large.)
    let budget_us = (10.0 * t_us) as i64;
    let tasks: Vec<_> = (0..48)
        .map(|_| {
            let mut c = client.clone();
            let r = with_timeout_us(plain_request(&m.name, &x), budget_us);
            tokio::spawn(async move {
                let t0 = Instant::now();
                let r = c.model_infer(r).await;
                (r, t0.elapsed())
            })
        })
        .collect();
    let (mut ok, mut refused, mut late) = (0, 0, 0);
    let mut refusal_latency = Vec::new();
    let mut ok_latency = Vec::new();
    for t in tasks {
        let (r, took) = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("answered")
            .unwrap();
        match r {
            Ok(_) => {
                ok += 1;
                ok_latency.push(took);
            }
            Err(e) if e.code() == Code::ResourceExhausted => {
                assert!(e.message().contains("cannot finish in time"), "{e:?}");
                let bin = e
                    .metadata()
                    .get_bin("loadpart-load-report-bin")
                    .expect("a load report")
                    .to_bytes()
                    .unwrap();
                <LoadReport as prost::Message>::decode(bin).unwrap();
                refused += 1;
                refusal_latency.push(took);
            }
            Err(e) if e.code() == Code::DeadlineExceeded => late += 1,
            Err(e) => panic!("unexpected status {e:?}"),
        }
    }
    refusal_latency.sort();
    ok_latency.sort();
    eprintln!(
        "batch time {t_us:.0} us, deadline {budget_us} us: {ok} ok, {refused} refused at \
         admission, {late} expired in the queue; refusal latency max {:?}; ok latency max {:?}",
        refusal_latency.last(),
        ok_latency.last(),
    );
    assert_eq!(ok + refused + late, 48);
    assert!(ok >= 1, "the first requests fit their deadline");
    assert!(
        refused >= 24,
        "most of 48 cannot fit in 10 batch times: {refused}"
    );
    // Admission, not the queue, does the refusing: few expire after being queued.
    assert!(late <= 12, "{late} requests were queued and then expired");
    // Refusals come at once: well before the deadline, not after it.
    let slowest_refusal = *refusal_latency.last().unwrap();
    assert!(
        slowest_refusal < Duration::from_micros(budget_us as u64) + Duration::from_millis(200),
        "{slowest_refusal:?}"
    );

    // Once the queue has drained, the same deadline is met again: within 5 s (batch-time
    // averages that the burst pushed up fall with each batch that runs, and a refused request
    // runs none, so at worst they go stale after the 3 s load window).
    let mut last = None;
    for _ in 0..25 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match client
            .model_infer(with_timeout_us(plain_request(&m.name, &x), budget_us))
            .await
        {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    assert!(
        last.is_none(),
        "an idle server admits a request that fits: {last:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_default_caps_a_longer_timeout() {
    let server = start(&["inception"], |c| {
        c.default_timeout = Duration::from_micros(1);
    })
    .await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 2);
    let mut client = infer_client(&server).await;
    // The client allows 10 s; the server's default of 1 µs wins.
    let mut r = tonic::Request::new(with_timeout_us(plain_request(&m.name, &x), 10_000_000));
    r.set_timeout(Duration::from_secs(10));
    let e = client.model_infer(r).await.unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_report_gives_the_backlog_as_the_queue_stands() {
    let (server, m, x, client, t_us) = full_batches(12).await;
    let idle = load_report(&server, &m.name).await;
    assert!(
        idle.backlog_us.is_some_and(|b| b < t_us),
        "an idle server has no backlog: {idle:?}"
    );

    // 24 full batches at once on one executor: while several are queued, the backlog is
    // several batch times (expected times, no margin; checked loosely, at half).
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let mut c = client.clone();
            let r = plain_request(&m.name, &x);
            tokio::spawn(async move { c.model_infer(r).await.map(|_| ()) })
        })
        .collect();
    let mut lp = loadpart_client(&server).await;
    let mut seen = None;
    for _ in 0..500 {
        let r = lp
            .get_load(LoadRequest {
                model_name: m.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if r.queue_length >= 6 {
            seen = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let r = seen.expect("a queue of 6 batches formed");
    let backlog = r.backlog_us.expect("a backlog once batch times are known");
    eprintln!(
        "batch time {t_us:.0} us; {} queued: backlog {backlog:.0} us",
        r.queue_length
    );
    assert!(
        backlog >= 0.5 * (f64::from(r.queue_length) - 1.0) * t_us,
        "backlog {backlog} us for {} queued batches of {t_us} us",
        r.queue_length
    );
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Afterwards the window remembers: the backlog stood at several batch times for a while, so
    // its average over time is positive; and the one cut's mean wait is the window's (every
    // request was at it).
    let after = load_report(&server, &m.name).await;
    let mean = after
        .backlog_mean_us
        .expect("the backlog was known in the window");
    assert!(mean > 0.0 && mean < 2.0 * 24.0 * t_us, "{after:?}");
    let [cut] = after.cut_batches.as_slice() else {
        panic!("one cut ran: {:?}", after.cut_batches)
    };
    assert!(
        (cut.queue_wait_mean_us - after.queue_wait_mean_us).abs()
            <= 1e-6 * after.queue_wait_mean_us,
        "{cut:?} vs {}",
        after.queue_wait_mean_us
    );
    assert!(cut.queue_wait_mean_us > t_us, "{cut:?}");
    server.shutdown().await.unwrap();
}
