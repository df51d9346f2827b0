//! Never losing a result: a server that is not there, goes away, or comes back.

use std::time::{Duration, Instant};

use loadpart_client::{InferOptions, LocalReason, Route};
use loadpart_plan::ProfileRole;
use loadpart_testkit::free_port;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_and_restarts_loses_nothing() {
    let p = prepared("residual");
    let srv_profile = profile(&p, ProfileRole::Server);
    let srv_file = profile_file(&srv_profile, "residual-srv");
    let device = profile(&p, ProfileRole::Device);
    let port = free_port();
    let srv = server("residual", port, &srv_file).await;
    let rt = device_runtime(p.clone());
    let addr = srv.addr();
    let c = client(addr, "residual", rt.clone(), &device, |_| {}).await;
    let planner = c.planner().unwrap();
    // Force offloading at an inner cut so that every request needs the server.
    let cut = planner
        .candidates()
        .map(|k| k.cut.clone())
        .find(|k| !k.is_full_local() && !k.is_full_offload())
        .unwrap()
        .id(planner.dag());
    let opts = InferOptions {
        cut: Some(cut.clone()),
        ..InferOptions::default()
    };
    let x = inputs(&p, 3);
    let want = local(&rt, &x);
    let o = c.infer(x.clone(), &opts).await.unwrap();
    assert_eq!(o.route, Route::Offloaded);

    srv.shutdown().await.unwrap();
    // The server is gone: results still come, from the device.
    let o = c.infer(x.clone(), &opts).await.unwrap();
    assert!(matches!(o.route, Route::Fallback { .. }), "{:?}", o.route);
    assert!(rel_err(&want, &o.outputs) < 0.05);
    let o = c.infer(x.clone(), &opts).await.unwrap();
    assert_eq!(
        o.route,
        Route::LocalOnly {
            why: LocalReason::BackingOff
        }
    );
    assert_eq!(rel_err(&want, &o.outputs), 0.0);

    // Back on the same port: offloading resumes by itself.
    let srv = server("residual", port, &srv_file).await;
    let restarted = Instant::now();
    let resumed = loop {
        let o = c.infer(x.clone(), &opts).await.unwrap();
        assert!(rel_err(&want, &o.outputs) < 0.05);
        if o.route == Route::Offloaded {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "offloading did not resume"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("offloading resumed {resumed:?} after the restart");
    assert!(resumed < Duration::from_secs(3), "{resumed:?}");
    drop(c);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_at_start_runs_locally_then_offloads_when_it_appears() {
    let p = prepared("chain");
    let srv_file = profile_file(&profile(&p, ProfileRole::Server), "chain-late");
    let device = profile(&p, ProfileRole::Device);
    let port = free_port();
    let rt = device_runtime(p.clone());
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let c = client(addr, "chain", rt.clone(), &device, |c| {
        c.device_slowdown = 20.0
    })
    .await;
    assert!(c.planner().is_none());
    let x = inputs(&p, 5);
    let o = c.infer(x.clone(), &InferOptions::default()).await.unwrap();
    assert_eq!(
        o.route,
        Route::LocalOnly {
            why: LocalReason::NoServerProfile
        }
    );
    let srv = server("chain", port, &srv_file).await;
    let t0 = Instant::now();
    while c.planner().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "profile never fetched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "server profile fetched {:?} after the server started",
        t0.elapsed()
    );
    let o = c
        .infer(
            x,
            &InferOptions {
                policy: Some(loadpart_plan::PolicyKind::Server),
                ..InferOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(o.route, Route::Offloaded);
    drop(c);
    srv.shutdown().await.unwrap();
}

/// A caller's bad input is refused on the device, before anything is sent: sent, the server would
/// refuse it and the refusal would count against the server, opening the breaker for every
/// later request (seen from Python: one wrong shape and the next good request ran locally).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_input_is_the_callers_and_leaves_offloading_on() {
    let p = prepared("chain");
    let srv_file = profile_file(&profile(&p, ProfileRole::Server), "chain-bad-input");
    let device = profile(&p, ProfileRole::Device);
    let srv = server("chain", free_port(), &srv_file).await;
    let rt = device_runtime(p.clone());
    let c = client(srv.addr(), "chain", rt.clone(), &device, |_| {}).await;
    let server_policy = InferOptions {
        policy: Some(loadpart_plan::PolicyKind::Server),
        ..InferOptions::default()
    };
    let x = inputs(&p, 3);
    let (name, good) = &x[0];
    let mut wrong_shape = good.clone();
    wrong_shape.shape.push(1);
    let mut wrong_rows = good.clone();
    wrong_rows.shape[1] += 1;
    let wrong_type =
        loadpart_runtime::Tensor::i64(good.shape.clone(), vec![0; good.len()]).unwrap();
    for bad in [wrong_shape, wrong_rows, wrong_type] {
        let shape = bad.shape.clone();
        let e = c
            .infer(vec![(name.clone(), bad)], &server_policy)
            .await
            .expect_err("a bad input is an error");
        assert!(
            matches!(e, loadpart_client::ClientError::BadInput(_)),
            "{shape:?}: {e}"
        );
    }
    let o = c.infer(x.clone(), &server_policy).await.unwrap();
    assert_eq!(o.route, Route::Offloaded, "the breaker stayed closed");
    assert_eq!(c.stats().fallbacks, 0);
    drop(c);
    srv.shutdown().await.unwrap();
}
