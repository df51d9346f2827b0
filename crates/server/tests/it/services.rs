//! The loadpart service, the health service, admission and deadlines.

use std::time::Duration;

use loadpart_proto::inference::infer_parameter::ParameterChoice;
use loadpart_proto::inference::{InferParameter, ServerLiveRequest, ServerReadyRequest};
use loadpart_proto::loadpart::{
    LoadReport, LoadRequest, ProbeDownloadRequest, ProbeUploadRequest, ServerProfileRequest,
};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadpart_and_health_services_answer() {
    let server = start(&["chain"], |_| {}).await;
    let m = server.models()[0].clone();
    let mut lp = loadpart_client(&server).await;

    let e = lp
        .get_server_profile(ServerProfileRequest {
            model_name: m.name.clone(),
        })
        .await
        .unwrap_err();
    // FAILED_PRECONDITION: the model exists, but nothing was measured to plan with.
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("no server profile"), "{e:?}");
    let e = lp
        .get_load(LoadRequest {
            model_name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Idle: every figure defined.
    let r = lp
        .get_load(LoadRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (r.queue_wait_mean_us, r.slowdown, r.mean_batch_size),
        (0.0, 1.0, 0.0)
    );
    assert_eq!(r.executors, 1);

    let up = lp
        .probe_upload(ProbeUploadRequest {
            payload: vec![7; 100_000],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(up.received_bytes, 100_000);
    let down = lp
        .probe_download(ProbeDownloadRequest { bytes: 1 << 20 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(down.payload.len(), 1 << 20);
    let e = lp
        .probe_download(ProbeDownloadRequest { bytes: 1 << 30 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let mut health = HealthClient::new(channel(&server).await);
    for service in ["", "inference.GRPCInferenceService", "loadpart.v1.Loadpart"] {
        let s = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(s.status(), ServingStatus::Serving, "{service:?}");
    }
    let mut inf = infer_client(&server).await;
    assert!(
        inf.server_live(ServerLiveRequest {})
            .await
            .unwrap()
            .into_inner()
            .live
    );
    assert!(
        inf.server_ready(ServerReadyRequest {})
            .await
            .unwrap()
            .into_inner()
            .ready
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_requests_and_a_full_queue_are_refused_at_once() {
    let server = start(&["inception"], |c| {
        c.max_batch_rows = 1;
        c.max_queue_len = 1;
    })
    .await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 3);
    let mut client = infer_client(&server).await;

    // A 1 µs timeout has passed before the request can run.
    let mut r = plain_request(&m.name, &x);
    r.parameters.insert(
        "timeout".into(),
        InferParameter {
            parameter_choice: Some(ParameterChoice::Int64Param(1)),
        },
    );
    let e = client.model_infer(r).await.unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");

    // Many requests at once against a queue of one: some are refused with RESOURCE_EXHAUSTED,
    // the rest succeed.
    let mut refused = 0;
    let mut served = 0;
    for _round in 0..10 {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let mut c = client.clone();
                let r = plain_request(&m.name, &x);
                tokio::spawn(async move { c.model_infer(r).await })
            })
            .collect();
        for t in tasks {
            match tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .unwrap()
                .unwrap()
            {
                Ok(_) => served += 1,
                Err(e) => {
                    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                    assert!(e.message().contains("queue full"), "{e:?}");
                    // The refusal carries the load report.
                    let bin = e
                        .metadata()
                        .get_bin("loadpart-load-report-bin")
                        .expect("a load report")
                        .to_bytes()
                        .unwrap();
                    let report = <LoadReport as prost::Message>::decode(bin).unwrap();
                    assert_eq!(report.executors, 1);
                    refused += 1;
                }
            }
        }
        if refused > 0 {
            break;
        }
    }
    eprintln!("queue of 1: {served} served, {refused} refused");
    assert!(refused > 0 && served > 0);
    client
        .model_infer(plain_request(&m.name, &x))
        .await
        .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused_by_the_transport() {
    let server = start(&["inception"], |c| c.max_message_bytes = 64 << 10).await;
    let m = server.models()[0].clone();
    let mut client = infer_client(&server).await;
    // 8 x 3 x 32 x 32 FP32 = 96 KiB of raw contents, over the 64 KiB limit.
    let big = plain_request(&m.name, &inputs(&m, 8, 1));
    let e = client.model_infer(big).await.unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    // 12 KiB passes, on the same connection.
    let x = inputs(&m, 1, 1);
    let r = client
        .model_infer(plain_request(&m.name, &x))
        .await
        .unwrap();
    assert!(rel_err(&reference(&m, &x), &outputs(r.get_ref())) < 1e-5);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_queued_requests_first() {
    // A long batching delay keeps the requests queued while shutdown begins.
    let server = start(&["inception"], |c| {
        c.max_queue_delay = Duration::from_millis(300);
    })
    .await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 5);
    let want = reference(&m, &x);
    let client = infer_client(&server).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let mut c = client.clone();
            let r = plain_request(&m.name, &x);
            tokio::spawn(async move { c.model_infer(r).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown finishes")
        .unwrap();
    for t in tasks {
        let r = t.await.unwrap().expect("a queued request is answered");
        assert!(rel_err(&want, &outputs(r.get_ref())) < 1e-5);
    }
    eprintln!(
        "shutdown with 4 queued requests took {:?}",
        started.elapsed()
    );
}
