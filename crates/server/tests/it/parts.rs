//! Parts off the executors: a cold cut's tail builds on a blocking task while other requests
//! keep running; `warm_cuts` builds chosen cuts before the server is ready.

use std::time::{Duration, Instant};

use loadpart_codec::Precision;
use loadpart_runtime::PartSpec;
use loadpart_server::{ServerError, WarmCuts};

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_requests_complete_while_a_cold_cut_builds() {
    // One executor: if the cold tail were built on it, nothing else could run meanwhile.
    let server = start(&["chain"], |c| {
        c.models.push(ModelSpec {
            randomize_seed: Some(7),
            ..ModelSpec::new("squeezenet")
        });
        c.executors = 1;
    })
    .await;
    let warm = server.models()[0].clone();
    let cold = server.models()[1].clone();
    let cut = inner_cut(&cold);
    assert!(cold.runtime.cached(PartSpec::Tail(cut.clone())).is_none());
    let x = inputs(&cold, 1, 4);
    let want = reference(&cold, &x);
    let cold_req = partitioned_request(&cold, &cut, &x, Precision::F32);
    let wx = inputs(&warm, 1, 5);
    let mut client = infer_client(&server).await;
    client
        .model_infer(plain_request(&warm.name, &wx))
        .await
        .unwrap();

    let mut c = client.clone();
    let again = cold_req.clone();
    let t0 = Instant::now();
    let first = tokio::spawn(async move {
        let r = c.model_infer(cold_req).await;
        (r, t0.elapsed())
    });
    let mut during = 0;
    while !first.is_finished() && t0.elapsed() < Duration::from_secs(60) {
        client
            .model_infer(plain_request(&warm.name, &wx))
            .await
            .unwrap();
        if !first.is_finished() {
            during += 1;
        }
    }
    let (r, cold_latency) = first.await.unwrap();
    let r = r.expect("the first request of a cold cut waits for its build and runs");
    assert!(rel_err(&want, &outputs(r.get_ref())) < 1e-5);
    let t1 = Instant::now();
    client.model_infer(again).await.unwrap();
    let warm_latency = t1.elapsed();
    eprintln!(
        "cold cut: first request {cold_latency:?} (build included), second {warm_latency:?}; \
         {during} requests of another model completed during the build"
    );
    assert!(
        during >= 3,
        "only {during} warm requests ran during a {cold_latency:?} build"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_cuts_are_built_before_the_server_is_ready() {
    let server = start(&["inception"], |c| {
        c.models[0].warm_cuts = WarmCuts::Auto(3);
    })
    .await;
    let m = server.models()[0].clone();
    let cuts = loadpart_server::parts::resolve(&m, &WarmCuts::Auto(3)).unwrap();
    assert!(!cuts.is_empty() && cuts.len() <= 3, "{cuts:?}");
    for cut in &cuts {
        assert!(
            m.runtime.cached(PartSpec::Tail(cut.clone())).is_some(),
            "{cut} not warm"
        );
    }
    // A listed cut, named in any order, resolves to its canonical id.
    let inner = inner_cut(&m);
    let mut names = inner.names();
    names.reverse();
    let listed = WarmCuts::List(vec![names.join(",")]);
    assert_eq!(
        loadpart_server::parts::resolve(&m, &listed).unwrap(),
        vec![inner]
    );
    server.shutdown().await.unwrap();

    // A cut the model does not have stops the start with a message naming it.
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        models: vec![ModelSpec {
            warm_cuts: WarmCuts::List(vec!["no_such_tensor".into()]),
            ..ModelSpec::new("zoo:chain")
        }],
        ..ServerConfig::default()
    };
    config.max_batch_rows = 2;
    match Server::start(config).await {
        Err(ServerError::Config(msg)) => assert!(msg.contains("no_such_tensor"), "{msg}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
