//! Overload: about 4x the measured capacity, open loop, for 20 s. The queue stays bounded,
//! refusals come at once, accepted requests meet their deadlines, goodput stays near capacity,
//! and every request gets an answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loadpart_proto::inference::infer_parameter::ParameterChoice;
use loadpart_proto::inference::{InferParameter, ModelStatisticsRequest};
use loadpart_proto::loadpart::LoadRequest;
use tonic::Code;

use crate::*;

const MAX_QUEUE: usize = 256;
const OVERLOAD_S: f64 = 20.0;
const FACTOR: f64 = 4.0;

/// The value at quantile `q` (nearest rank) of sorted `v`; zero when empty.
fn quantile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

enum Outcome {
    Ok(Duration),
    Refused(Duration),
    Expired(Duration),
    Other(Code),
    Lost,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_times_capacity_for_twenty_seconds() {
    let server = start(&[], |c| {
        c.models.push(ModelSpec {
            randomize_seed: Some(7),
            ..ModelSpec::new("squeezenet")
        });
        c.max_batch_rows = 8;
        c.max_queue_len = MAX_QUEUE;
        // One executor on one core: the load generator, in this process, runs on the other,
        // so that the server's capacity is the same in the closed-loop measurement and under
        // 4x the traffic (on two cores, ONNX Runtime's threads would otherwise share with it).
        c.executors = 1;
        c.intra_threads = 1;
    })
    .await;
    let m = server.models()[0].clone();
    // What devices send: the cut tensor after SqueezeNet's first squeeze layer (16x55x55),
    // uint8 and zstd, about 1/12 of the image's FP32 bytes; the server runs the rest (nearly
    // all of the model). Encoded once and replayed, as a load generator does.
    let cut = loadpart_cuts::CutId::parse("r4").unwrap();
    let x = inputs(&m, 1, 1);
    let request = partitioned_request(&m, &cut, &x, loadpart_codec::Precision::U8Auto);
    let payload: usize = request.raw_input_contents.iter().map(|b| b.len()).sum();
    // Several connections, as from several devices.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(infer_client(&server).await);
    }

    // Capacity: closed loop, 16 requests outstanding (two full batches), for 5 s after a warm-up.
    let closed = |secs: f64| {
        let clients = clients.clone();
        let request = request.clone();
        async move {
            let done = Arc::new(AtomicUsize::new(0));
            let until = Instant::now() + Duration::from_secs_f64(secs);
            let tasks: Vec<_> = (0..16)
                .map(|i| {
                    let mut c = clients[i % clients.len()].clone();
                    let (r, done) = (request.clone(), done.clone());
                    tokio::spawn(async move {
                        let mut compute = Vec::new();
                        while Instant::now() < until {
                            let reply = c.model_infer(r.clone()).await.unwrap();
                            compute.push(param(reply.get_ref(), "loadpart_compute_us"));
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        compute
                    })
                })
                .collect();
            let started = Instant::now();
            let mut compute = Vec::new();
            for t in tasks {
                compute.extend(t.await.unwrap());
            }
            let n = done.load(Ordering::Relaxed);
            (n as f64 / started.elapsed().as_secs_f64(), compute)
        }
    };
    closed(1.0).await;
    let (capacity, mut compute) = closed(5.0).await;
    let closed = &closed;
    compute.sort_by(f64::total_cmp);
    let batch_us = compute[compute.len() / 2];
    // A deadline of many full batches: enough to queue some work, short enough that 4x
    // capacity cannot all fit.
    let deadline = Duration::from_micros((batch_us * 10.0) as u64)
        .clamp(Duration::from_millis(100), Duration::from_secs(2));
    let rate = capacity * FACTOR;

    // Overload: open-loop arrivals at `rate` for OVERLOAD_S, each with `deadline` as its
    // `timeout`; every request waits at most 30 s for its answer, then counts as lost.
    let mut timed = request.clone();
    timed.parameters.insert(
        "timeout".into(),
        InferParameter {
            parameter_choice: Some(ParameterChoice::Int64Param(deadline.as_micros() as i64)),
        },
    );
    let mut lp = loadpart_client(&server).await;
    let max_queue_seen = Arc::new(AtomicUsize::new(0));
    let watching = {
        let seen = max_queue_seen.clone();
        let name = m.name.clone();
        tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs_f64(OVERLOAD_S);
            while Instant::now() < until {
                let r = lp
                    .get_load(LoadRequest {
                        model_name: name.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                seen.fetch_max(r.queue_length as usize, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let stats = |mut c: GrpcInferenceServiceClient<tonic::transport::Channel>, name: String| async move {
        let s = c
            .model_statistics(ModelStatisticsRequest {
                name,
                version: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let s = &s.model_stats[0];
        let ns = |f: fn(
            &loadpart_proto::inference::InferBatchStatistics,
        ) -> Option<&loadpart_proto::inference::StatisticDuration>|
         -> u64 { s.batch_stats.iter().map(|b| f(b).map_or(0, |d| d.ns)).sum() };
        let infer_ns = ns(|b| b.compute_infer.as_ref());
        let busy_ns =
            infer_ns + ns(|b| b.compute_input.as_ref()) + ns(|b| b.compute_output.as_ref());
        (s.execution_count, s.inference_count, busy_ns, infer_ns)
    };
    let before = stats(clients[0].clone(), m.name.clone()).await;
    let t0 = Instant::now();
    let n = (rate * OVERLOAD_S) as usize;
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let at = t0 + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let mut c = clients[i % clients.len()].clone();
        let r = timed.clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            match tokio::time::timeout(Duration::from_secs(30), c.model_infer(r)).await {
                Err(_) => Outcome::Lost,
                Ok(Ok(_)) => Outcome::Ok(sent.elapsed()),
                Ok(Err(e)) => match e.code() {
                    Code::ResourceExhausted => Outcome::Refused(sent.elapsed()),
                    Code::DeadlineExceeded => Outcome::Expired(sent.elapsed()),
                    other => Outcome::Other(other),
                },
            }
        }));
    }
    let offered_s = t0.elapsed().as_secs_f64();
    let (mut ok, mut refused, mut expired, mut other, mut lost) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
    for t in tasks {
        match t.await.unwrap() {
            Outcome::Ok(d) => ok.push(d),
            Outcome::Refused(d) => refused.push(d),
            Outcome::Expired(d) => expired.push(d),
            Outcome::Other(c) => other.push(c),
            Outcome::Lost => lost += 1,
        }
    }
    let span_s = t0.elapsed().as_secs_f64();
    watching.await.unwrap();
    let after = stats(clients[0].clone(), m.name.clone()).await;
    let (batches, rows) = (after.0 - before.0, after.1 - before.1);
    let busy = (after.2 - before.2) as f64 / 1e9 / span_s;
    let infer_ms = (after.3 - before.3) as f64 / 1e6 / batches.max(1) as f64;
    // Capacity again, to see how much the host's speed moved meanwhile.
    let (capacity_after, mut compute_after) = closed(5.0).await;
    compute_after.sort_by(f64::total_cmp);
    let batch_us_after = compute_after[compute_after.len() / 2];
    eprintln!(
        "overload: {batches} batches, mean {:.2} rows, executor busy {:.0}% of the time, \
         {:.1} ms per batch ({infer_ms:.1} ms in the engine; closed loop before {:.1} ms, \
         after {:.1} ms)",
        rows as f64 / batches.max(1) as f64,
        100.0 * busy,
        (after.2 - before.2) as f64 / 1e6 / batches.max(1) as f64,
        batch_us / 1e3,
        batch_us_after / 1e3,
    );
    let capacity_before = capacity;
    let capacity = (capacity_before + capacity_after) / 2.0;
    ok.sort();
    refused.sort();
    let in_time = ok.iter().filter(|d| **d <= deadline).count();
    let goodput = in_time as f64 / span_s;
    let max_queue = max_queue_seen.load(Ordering::Relaxed);
    eprintln!(
        "overload: capacity {capacity:.0} req/s (closed loop, batch time {batch_us:.0} us), \
         offered {:.0} req/s for {offered_s:.1} s ({n} requests of {payload} bytes), \
         deadline {deadline:?}\n  \
         ok {} (p50 {:?}, p99 {:?}, {} within the deadline), refused {} (latency p50 {:?}, \
         p99 {:?}, max {:?}), expired {}, other {:?}, lost {lost}\n  \
         goodput {goodput:.0} req/s = {:.0}% of capacity (mean of {capacity_before:.0} before and \
         {capacity_after:.0} after); max queue length seen {max_queue}",
        n as f64 / offered_s,
        ok.len(),
        quantile(&ok, 0.5),
        quantile(&ok, 0.99),
        in_time,
        refused.len(),
        quantile(&refused, 0.5),
        quantile(&refused, 0.99),
        refused.last(),
        expired.len(),
        other,
        100.0 * goodput / capacity,
    );
    // Nothing lost silently: every request has an answer, and only the expected ones.
    assert_eq!(lost, 0);
    assert!(other.is_empty(), "unexpected codes {other:?}");
    assert_eq!(ok.len() + refused.len() + expired.len(), n);
    // The queue stays bounded.
    assert!(max_queue <= MAX_QUEUE, "{max_queue}");
    // Overload is refused, and refusals come early: well before the deadline.
    assert!(
        refused.len() > n / 4,
        "only {} of {n} refused",
        refused.len()
    );
    assert!(
        quantile(&refused, 0.99) < deadline / 2,
        "refusal p99 {:?} against a deadline of {deadline:?}",
        quantile(&refused, 0.99)
    );
    // Accepted requests meet their deadline (measured from the client, so with its own
    // overhead on a shared machine: a generous margin). The goal is all of them; with the load
    // generator in this process on 2 cores, 86-98% were measured, so this guards against a
    // collapse, not the goal.
    assert!(
        in_time as f64 >= 0.75 * ok.len() as f64,
        "{in_time} of {} in time",
        ok.len()
    );
    assert!(quantile(&ok, 0.99) < deadline * 2);
    assert!(
        expired.len() <= n / 20,
        "{} expired in the queue",
        expired.len()
    );
    // Goodput stays near capacity (the goal is 90%; the margin is for a shared host).
    assert!(
        goodput >= 0.7 * capacity,
        "goodput {goodput:.0} req/s against capacity {capacity:.0}"
    );
    server.shutdown().await.unwrap();
}
