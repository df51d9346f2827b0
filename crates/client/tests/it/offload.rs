//! Offloading through the client: every policy returns the model's outputs, offloaded tails
//! match local execution, and replies feed the estimators.

use loadpart_client::{InferOptions, Route};
use loadpart_plan::{PolicyKind, ProfileRole};

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_policy_and_a_forced_cut_give_the_models_outputs() {
    let p = prepared("inception");
    let server_profile = profile_file(&profile(&p, ProfileRole::Server), "inception-srv");
    let device = profile(&p, ProfileRole::Device);
    let srv = server("inception", 0, &server_profile).await;
    let rt = device_runtime(p.clone());
    let c = client(srv.addr(), "inception", rt.clone(), &device, |c| {
        // A slow device on a fast link: offloading pays.
        c.device_slowdown = 8.0;
    })
    .await;
    assert!(c.planner().is_some(), "server profile fetched at connect");
    let x = inputs(&p, 1);
    let want = local(&rt, &x);
    let planner = c.planner().unwrap();
    // An inner, multi-tensor cut when there is one.
    let inner = planner
        .candidates()
        .map(|k| k.cut.clone())
        .filter(|k| !k.is_full_local() && !k.is_full_offload())
        .max_by_key(|k| k.tensors.len())
        .unwrap()
        .id(planner.dag());
    let mut cases: Vec<(String, InferOptions)> = PolicyKind::SEARCHING
        .iter()
        .filter(|k| **k != PolicyKind::Oracle)
        .map(|k| {
            (
                k.to_string(),
                InferOptions {
                    policy: Some(k.clone()),
                    ..InferOptions::default()
                },
            )
        })
        .collect();
    cases.push((
        format!("cut {inner}"),
        InferOptions {
            cut: Some(inner.clone()),
            ..InferOptions::default()
        },
    ));
    cases.push((
        "server, raw inputs".into(),
        InferOptions {
            policy: Some(PolicyKind::Server),
            raw_inputs: true,
            ..InferOptions::default()
        },
    ));
    for (name, opts) in cases {
        let o = c.infer(x.clone(), &opts).await.unwrap();
        let err = rel_err(&want, &o.outputs);
        eprintln!(
            "{name}: cut {} route {:?} err {err:.2e} measured {:.0} us predicted {:.0} us",
            o.cut,
            o.route,
            o.measured.total_us,
            o.predicted.total()
        );
        assert!(
            matches!(o.route, Route::Local | Route::Offloaded),
            "{name}: {:?}",
            o.route
        );
        // uint8 cut tensors: within quantization error.
        assert!(err < 0.05, "{name}: relative error {err}");
        if name.starts_with("cut") {
            assert_eq!(o.cut, inner);
            assert_eq!(o.route, Route::Offloaded);
            let t = o.measured.server.expect("server timings");
            assert!(t.compute_us > 0.0 && t.batch_size >= 1);
            assert!(o.sent_bytes > 0 && o.received_bytes > 0);
        }
        if name == "local" {
            assert_eq!(o.route, Route::Local);
            assert_eq!(err, 0.0, "local is the reference itself");
        }
    }
    let st = c.stats();
    assert!(st.offloaded >= 3, "{st:?}");
    assert_eq!(st.fallbacks, 0, "{st:?}");
    drop(c);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_running_other_weights_is_refused_clearly() {
    let p = prepared("chain");
    let server_profile = profile_file(&profile(&p, ProfileRole::Server), "chain-srv");
    let srv = server("chain", 0, &server_profile).await;
    // The device runs the same architecture with other weights.
    let other = std::sync::Arc::new(
        loadpart_graph::Prepared::new(&loadpart_graph::randomize_for_checks(&p.model, 99).unwrap())
            .unwrap(),
    );
    let device = profile(&other, ProfileRole::Device);
    let config = loadpart_client::ClientConfig::new(format!("http://{}", srv.addr()), "chain");
    let err = loadpart_client::Client::connect(config, device_runtime(other), device, None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("identity"), "{msg}");
    srv.shutdown().await.unwrap();
}
