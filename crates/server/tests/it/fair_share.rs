//! Fair share end to end: a device over its share is refused with RESOURCE_EXHAUSTED saying so,
//! with gRPC's retry pushback and its own share in the attached load report, counted by device;
//! the other device keeps being served; load reports carry each caller's own share.

use std::time::Duration;

use loadpart_proto::loadpart::LoadRequest;
use loadpart_server::FairShareConfig;
use prost::Message;

use super::*;

fn as_device<T>(msg: T, device: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("loadpart-device", device.parse().unwrap());
    r
}

/// A share far below what one device sends, in a bucket of one: one request, then a refusal.
fn tiny_share(enabled: bool) -> FairShareConfig {
    FairShareConfig {
        enabled,
        rate_factor: 1e-6,
        burst_min: 1.0,
        ..FairShareConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_over_its_share_is_refused_and_the_others_are_served() {
    let server = start(&["chain"], |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.fair_share = tiny_share(true);
    })
    .await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 1);
    let mut infer = infer_client(&server).await;
    // b runs a batch (so the capacity is known) and is active.
    infer
        .model_infer(as_device(plain_request(&m.name, &x), "b"))
        .await
        .expect("b is served");
    // The gate re-reads the capacity every 250 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = infer
        .model_infer(as_device(plain_request(&m.name, &x), "a"))
        .await
        .expect("a's first request fits its burst");
    let share = wire::parse_reply(first.into_inner())
        .unwrap()
        .load
        .and_then(|l| l.device_share)
        .expect("the reply carries a's share");
    assert_eq!((share.active_devices, share.queued), (2, 1));
    assert!(share.rate_limit_per_s.is_some_and(|r| r < 1.0), "{share:?}");

    let refused = infer
        .model_infer(as_device(plain_request(&m.name, &x), "a"))
        .await
        .expect_err("a is over its share");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused.message().contains("\"a\" is over its fair share"),
        "{}",
        refused.message()
    );
    let pushback: u64 = refused
        .metadata()
        .get(loadpart_proto::names::RETRY_PUSHBACK_METADATA)
        .expect("a retry hint")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pushback >= 1, "{pushback}");
    let bytes = refused
        .metadata()
        .get_bin(loadpart_proto::names::LOAD_REPORT_METADATA)
        .expect("a load report")
        .to_bytes()
        .unwrap();
    let report = loadpart_proto::loadpart::LoadReport::decode(bytes.as_ref()).unwrap();
    assert_eq!(report.device_share.unwrap().device, "a");

    // b's share is its own: its bucket was not touched by a.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut lp = loadpart_client(&server).await;
    let b = lp
        .get_load(as_device(LoadRequest::default(), "b"))
        .await
        .unwrap()
        .into_inner()
        .device_share
        .expect("b's share");
    assert_eq!((b.device.as_str(), b.queued), ("b", 0));
    // Without a header the peer address names the caller.
    let anon = lp
        .get_load(LoadRequest::default())
        .await
        .unwrap()
        .into_inner()
        .device_share
        .unwrap();
    assert_eq!(anon.device, "peer:127.0.0.1");

    let text = super::metrics_text(server.metrics_addr().unwrap()).await;
    assert!(
        text.contains("loadpart_fair_share_refusals_total{device=\"a\",reason=\"rate\"} 1"),
        "{text}"
    );
    assert!(!text.contains("device=\"b\""), "b was never refused");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fair_share_off_reports_no_share_and_refuses_nothing() {
    let server = start(&["chain"], |c| c.fair_share = tiny_share(false)).await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 1);
    let mut infer = infer_client(&server).await;
    for d in ["b", "a", "a", "a"] {
        let r = infer
            .model_infer(as_device(plain_request(&m.name, &x), d))
            .await
            .expect("no fair share: served");
        let load = wire::parse_reply(r.into_inner()).unwrap().load.unwrap();
        assert_eq!(load.device_share, None);
    }
    server.shutdown().await.unwrap();
}
