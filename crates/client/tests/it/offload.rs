//! Offloading through the client: every policy returns the model's outputs, offloaded tails
//! match local execution, and replies feed the estimators.

use loadpart_client::{InferOptions, Route};
use loadpart_plan::{PolicyKind, ProfileRole, TensorEncoding};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrower_codes_go_on_slow_links_and_plain_bytes_on_fast_ones_as_priced() {
    let p = prepared("inception");
    let server_profile = profile_file(&profile(&p, ProfileRole::Server), "narrow-srv");
    // The operator allowed 4-bit codes: the device profile measured them.
    let device = profile_with_bits(&p, ProfileRole::Device, &[4]);
    let srv = server("inception", 0, &server_profile).await;
    let rt = device_runtime(p.clone());
    let c = client(srv.addr(), "inception", rt.clone(), &device, |c| {
        c.device_slowdown = 4.0;
    })
    .await;
    let planner = c.planner().unwrap();
    let dag = planner.dag();
    // The inner cut that sends the most bytes.
    let cut = planner
        .candidates()
        .map(|k| k.cut.clone())
        .filter(|k| !k.is_full_local() && !k.is_full_offload())
        .max_by_key(|k| {
            k.sent_tensors(dag)
                .map(|t| dag.tensor(t).name.clone())
                .filter_map(|n| device.tensors.iter().find(|x| x.name == n))
                .map(|x| x.elements_per_sample)
                .sum::<u64>()
        })
        .unwrap();
    let id = cut.id(dag);
    let x = inputs(&p, 3);
    let want = local(&rt, &x);
    let mut sent = Vec::new();
    for mbit in [5.0, 1000.0] {
        let bytes_per_s = mbit * 125_000.0;
        let o = c
            .infer(
                x.clone(),
                &InferOptions {
                    cut: Some(id.clone()),
                    bandwidth_bytes_per_s: Some(bytes_per_s),
                    ..InferOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(o.route, Route::Offloaded, "{mbit} Mbit/s");
        let plan = planner.encoding_plan(&cut, &o.estimate);
        let priced = o.predicted.upload * 1e-6 * bytes_per_s;
        eprintln!(
            "{mbit} Mbit/s: plan {plan:?}, sent {} B, priced {priced:.0} B, err {:.2e}",
            o.sent_bytes,
            rel_err(&want, &o.outputs)
        );
        let (narrow, plain) = (
            plan.iter()
                .filter(|(_, e)| matches!(e, TensorEncoding::Tighter { bits: 4, .. })),
            plan.iter()
                .filter(|(_, e)| *e == TensorEncoding::Uncompressed),
        );
        if mbit < 10.0 {
            assert!(narrow.count() > 0, "5 Mbit/s sends 4-bit codes: {plan:?}");
        } else {
            assert_eq!(
                plain.count(),
                plan.len(),
                "1 Gbit/s sends plain bytes: {plan:?}"
            );
        }
        // What was sent is what was priced (the profile's ratios were measured on another
        // input, so within a margin).
        let off = (o.sent_bytes as f64 - priced).abs() / priced;
        assert!(
            off < 0.35,
            "sent {} B against {priced:.0} B priced",
            o.sent_bytes
        );
        assert!(rel_err(&want, &o.outputs) < 0.25);
        sent.push(o.sent_bytes);
    }
    assert!(
        sent[1] as f64 > 1.5 * sent[0] as f64,
        "4-bit zstd against plain uint8: {sent:?}"
    );
}
