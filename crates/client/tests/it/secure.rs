//! The device library against a server with TLS and device tokens: with the CA and a valid
//! token the server profile is fetched and offloads return the model's
//! outputs; with a wrong token connecting fails with UNAUTHENTICATED.

use std::time::Duration;

use loadpart_client::{Access, InferOptions, Route, Token};
use loadpart_plan::{PolicyKind, ProfileRole};
use loadpart_server::TlsFiles;

use crate::*;

const TOKEN: &str = "device-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloads_over_tls_with_a_token() {
    let dir = std::env::temp_dir().join(format!("loadpart-client-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = match loadpart_testkit::test_pki(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: cannot make test certificates ({e})");
            return;
        }
    };
    let tokens = dir.join("tokens.txt");
    std::fs::write(&tokens, format!("phone {TOKEN}\n")).unwrap();

    let p = prepared("inception");
    let server_profile = profile_file(&profile(&p, ProfileRole::Server), "tls-srv");
    let device = profile(&p, ProfileRole::Device);
    let srv = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        models: vec![ModelSpec {
            profile: Some(loadpart_server::ProfileSource::File(server_profile)),
            ..ModelSpec::new("zoo:inception")
        }],
        intra_threads: 1,
        tls: Some(TlsFiles {
            cert: pki.cert.clone(),
            key: pki.key.clone(),
        }),
        tokens: Some(tokens),
        ..ServerConfig::default()
    })
    .await
    .expect("server starts");
    let rt = device_runtime(p.clone());
    let x = inputs(&p, 5);
    let want = local(&rt, &x);
    let access = |token: &str| Access {
        tls_ca: Some(pki.ca.clone()),
        tls_domain: Some("localhost".into()),
        token: Some(Token::new(token).unwrap()),
        device: None,
    };

    let c = client(srv.addr(), "inception", rt.clone(), &device, |c| {
        c.device_slowdown = 8.0;
        c.access = access(TOKEN);
    })
    .await;
    assert!(c.planner().is_some(), "server profile fetched over TLS");
    // The background tasks (load watch, probes) run over TLS with the token. Whether every
    // estimate is fresh within a few seconds depends on the machine's load, in plaintext too,
    // so this only reports it.
    let t0 = std::time::Instant::now();
    let fresh = c.wait_for_estimates(Duration::from_secs(5)).await;
    eprintln!(
        "tls: fresh {fresh} after {:?}: {:?}",
        t0.elapsed(),
        c.estimate()
    );
    assert!(
        !format!("{:?}", c.config()).contains(TOKEN),
        "Debug shows the token"
    );
    let o = c
        .infer(
            x.clone(),
            &InferOptions {
                policy: Some(PolicyKind::Server),
                ..InferOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(o.route, Route::Offloaded, "{:?}", o.route);
    let err = rel_err(&want, &o.outputs);
    eprintln!(
        "offloaded over TLS: err {err:.2e}, {:.0} us",
        o.measured.total_us
    );
    assert!(err < 0.05, "relative error {err}");

    // A wrong token: connecting fails at once, clearly (the server profile is refused).
    let mut config =
        loadpart_client::ClientConfig::new(format!("http://{}", srv.addr()), "inception");
    config.access = access("wrong-token-0123456789abcdef");
    let e = loadpart_client::Client::connect(config, rt.clone(), device.clone(), None)
        .await
        .expect_err("a wrong token is refused");
    eprintln!("wrong token: {e}");
    assert!(e.to_string().contains("Unauthenticated"), "{e}");
    assert!(!e.to_string().contains(TOKEN), "{e}");
    drop(c);
    srv.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
