//! TLS and device tokens: the PyPI tritonclient over TLS with and without a valid token, a
//! plaintext client to the TLS port, the device library's stubs with TLS and a token, the
//! loadpart service and health under tokens, token reload, and plaintext refused off loopback.
//!
//! Certificates are made at test time with the `openssl` command; without it the tests skip
//! with a message.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use loadpart_client::{Access, Remote, Token};
use loadpart_server::auth::UNAUTHENTICATED_MESSAGE;
use loadpart_server::{ServerConfig, TlsFiles};
use loadpart_testkit::{TestPki, test_pki};
use serde_json::json;

use crate::*;

const TOKEN_1: &str = "tok-phone-1-0123456789abcdef";
const TOKEN_2: &str = "tok-phone-2-fedcba9876543210";

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary directory, a CA and server certificate in it, and a token file with two
/// devices; `None` (after saying why) when `openssl` is missing.
fn setup(tag: &str) -> Option<(Dir, TestPki, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("loadpart-sec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = match test_pki(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: cannot make test certificates ({e})");
            return None;
        }
    };
    let tokens = dir.join("tokens.txt");
    std::fs::write(
        &tokens,
        format!("# test devices\nphone-1 {TOKEN_1}\nphone-2 {TOKEN_2}\n"),
    )
    .unwrap();
    Some((Dir(dir), pki, tokens))
}

fn secure(pki: &TestPki, tokens: &Path) -> impl FnOnce(&mut ServerConfig) {
    let tls = TlsFiles {
        cert: pki.cert.clone(),
        key: pki.key.clone(),
    };
    let tokens = tokens.to_path_buf();
    move |c: &mut ServerConfig| {
        c.tls = Some(tls);
        c.tokens = Some(tokens);
    }
}

fn access(pki: &TestPki, token: Option<&str>) -> Access {
    Access {
        tls_ca: Some(pki.ca.clone()),
        tls_domain: Some("localhost".into()),
        token: token.map(|t| Token::new(t).unwrap()),
        device: None,
    }
}

fn remote(server: &RunningServer, access: &Access) -> Remote {
    Remote::with_access(&format!("http://{}", server.addr()), 64 << 20, access).unwrap()
}

/// The gRPC code of `r`, and its message.
fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> (tonic::Code, String) {
    match r {
        Ok(_) => (tonic::Code::Ok, String::new()),
        Err(s) => (s.code(), s.message().to_string()),
    }
}

fn assert_refused(what: &str, got: (tonic::Code, String)) {
    assert_eq!(got.0, tonic::Code::Unauthenticated, "{what}: {got:?}");
    assert_eq!(got.1, UNAUTHENTICATED_MESSAGE, "{what}");
    for secret in ["phone-1", "phone-2", TOKEN_1, TOKEN_2] {
        assert!(
            !got.1.contains(secret),
            "{what}: the refusal names {secret}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_tokens_with_the_device_stubs() {
    let Some((_dir, pki, tokens)) = setup("stubs") else {
        return;
    };
    let server = start(&["inception"], secure(&pki, &tokens)).await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 3);
    let want = reference(&m, &x);

    // TLS and a valid token: inference, the load report and the load watch work.
    let ok = remote(&server, &access(&pki, Some(TOKEN_1)));
    let mut infer = ok.infer.clone();
    let reply = infer
        .model_infer(plain_request(&m.name, &x))
        .await
        .expect("TLS with a valid token is served")
        .into_inner();
    let err = rel_err(&want, &outputs(&reply));
    assert!(err < 1e-5, "relative error {err}");
    let mut lp = ok.loadpart.clone();
    lp.get_load(LoadRequest {
        model_name: m.name.clone(),
    })
    .await
    .expect("GetLoad with a valid token");
    let mut watch = lp
        .watch_load(loadpart_proto::loadpart::WatchLoadRequest {
            model_name: m.name.clone(),
            min_interval_ms: 20,
        })
        .await
        .expect("WatchLoad with a valid token")
        .into_inner();
    tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("a load report within 5 s")
        .expect("a report")
        .expect("the stream is open");
    drop(watch);

    // No token, a wrong token, a token of the wrong length: UNAUTHENTICATED, naming nothing.
    let wrong_len = "x".repeat(TOKEN_1.len() + 3);
    let wrong_same_len = "y".repeat(TOKEN_1.len());
    for (what, token) in [
        ("no token", None),
        ("wrong token", Some(wrong_same_len.as_str())),
        ("wrong length", Some(wrong_len.as_str())),
        ("prefix of a token", Some(&TOKEN_1[..TOKEN_1.len() - 1])),
    ] {
        let r = remote(&server, &access(&pki, token));
        let mut infer = r.infer.clone();
        assert_refused(
            &format!("{what}: ModelInfer"),
            code(infer.model_infer(plain_request(&m.name, &x)).await),
        );
        assert_refused(
            &format!("{what}: ServerMetadata"),
            code(
                infer
                    .server_metadata(loadpart_proto::inference::ServerMetadataRequest {})
                    .await,
            ),
        );
        let mut lp = r.loadpart.clone();
        assert_refused(
            &format!("{what}: GetLoad"),
            code(
                lp.get_load(LoadRequest {
                    model_name: m.name.clone(),
                })
                .await,
            ),
        );
        assert_refused(
            &format!("{what}: WatchLoad"),
            code(
                lp.watch_load(loadpart_proto::loadpart::WatchLoadRequest {
                    model_name: m.name.clone(),
                    min_interval_ms: 20,
                })
                .await,
            ),
        );
        assert_refused(
            &format!("{what}: ProbeDownload"),
            code(
                lp.probe_download(loadpart_proto::loadpart::ProbeDownloadRequest { bytes: 1024 })
                    .await,
            ),
        );
    }

    // A client that trusts another CA does not connect.
    let other = setup("stubs-other-ca").unwrap();
    let r = remote(&server, &access(&other.1, Some(TOKEN_1)));
    let (c, msg) = code(
        r.infer
            .clone()
            .model_infer(plain_request(&m.name, &x))
            .await,
    );
    eprintln!("untrusted CA: {c:?} {msg}");
    assert_ne!(c, tonic::Code::Ok);

    // A plaintext client to the TLS port fails quickly, and the server keeps serving.
    let t0 = Instant::now();
    let plain = Remote::new(&format!("http://{}", server.addr()), 64 << 20).unwrap();
    let (c, msg) = code(
        tokio::time::timeout(
            Duration::from_secs(10),
            plain.infer.clone().model_infer(plain_request(&m.name, &x)),
        )
        .await
        .expect("a plaintext call to a TLS port ends by itself"),
    );
    eprintln!("plaintext to TLS: {c:?} {msg} after {:?}", t0.elapsed());
    assert_ne!(c, tonic::Code::Ok);
    infer
        .model_infer(plain_request(&m.name, &x))
        .await
        .expect("still serving after a plaintext client");

    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_stays_open_and_device_names_label_metrics() {
    let Some((_dir, pki, tokens)) = setup("health") else {
        return;
    };
    let server = start(&["chain"], |c| {
        secure(&pki, &tokens)(c);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 1);
    let r = remote(&server, &access(&pki, Some(TOKEN_2)));
    for _ in 0..3 {
        // A `loadpart-device` header proves nothing: with tokens the token names the device.
        let mut req = tonic::Request::new(plain_request(&m.name, &x));
        req.metadata_mut()
            .insert("loadpart-device", "phone-1".parse().unwrap());
        let reply = r.infer.clone().model_infer(req).await.unwrap();
        let share = wire::parse_reply(reply.into_inner())
            .unwrap()
            .load
            .and_then(|l| l.device_share)
            .expect("the caller's share");
        assert_eq!(share.queued, 1);
    }
    let mut watch = tonic::Request::new(loadpart_proto::loadpart::LoadRequest::default());
    watch
        .metadata_mut()
        .insert("loadpart-device", "phone-1".parse().unwrap());
    let own = r
        .loadpart
        .clone()
        .get_load(watch)
        .await
        .unwrap()
        .into_inner()
        .device_share
        .unwrap();
    assert_eq!(own.device, "phone-2", "the token's name, not the header's");
    // A call without a token is refused and counted.
    let anonymous = remote(&server, &access(&pki, None));
    assert!(
        anonymous
            .infer
            .clone()
            .model_infer(plain_request(&m.name, &x))
            .await
            .is_err()
    );
    // grpc.health.v1 answers without a token (over TLS).
    let ca = std::fs::read(&pki.ca).unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("https://{}", server.addr()))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health without a token")
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let text = super::metrics_text(server.metrics_addr().unwrap()).await;
    let line = text
        .lines()
        .find(|l| l.starts_with("loadpart_device_requests_total{device=\"phone-2\"}"))
        .unwrap_or_else(|| panic!("no phone-2 counter in\n{text}"));
    eprintln!("{line}");
    assert!(line.ends_with(" 3"), "{line}");
    assert!(
        text.contains("\nloadpart_unauthenticated_total 1\n"),
        "one refusal counted:\n{text}"
    );
    assert!(!text.contains(TOKEN_2));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reload_swaps_the_table_and_keeps_it_on_a_bad_file() {
    let Some((_dir, pki, tokens)) = setup("reload") else {
        return;
    };
    let server = start(&["chain"], secure(&pki, &tokens)).await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 1);
    let call = |token: &'static str| {
        let r = remote(&server, &access(&pki, Some(token)));
        let req = plain_request(&m.name, &x);
        async move { code(r.infer.clone().model_infer(req).await).0 }
    };
    assert_eq!(call(TOKEN_1).await, tonic::Code::Ok);
    assert_eq!(call(TOKEN_2).await, tonic::Code::Ok);

    // phone-1 loses its token, phone-3 gets one.
    const TOKEN_3: &str = "tok-phone-3-aaaabbbbccccdddd";
    std::fs::write(&tokens, format!("phone-2 {TOKEN_2}\nphone-3 {TOKEN_3}\n")).unwrap();
    let t = server.tokens().expect("tokens configured");
    assert_eq!(t.reload().unwrap(), 2);
    assert_eq!(call(TOKEN_1).await, tonic::Code::Unauthenticated);
    assert_eq!(call(TOKEN_2).await, tonic::Code::Ok);
    assert_eq!(call(TOKEN_3).await, tonic::Code::Ok);

    // A bad file (line 2 has no token) keeps the table, and says which line.
    std::fs::write(&tokens, format!("phone-2 {TOKEN_2}\nphone-4\n")).unwrap();
    let e = t.reload().unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    assert_eq!(call(TOKEN_3).await, tonic::Code::Ok);
    // A missing file too.
    std::fs::remove_file(&tokens).unwrap();
    assert!(t.reload().is_err());
    assert_eq!(call(TOKEN_2).await, tonic::Code::Ok);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_security_settings_fail_before_loading() {
    // Plaintext off loopback is refused by validation (nothing is bound).
    let c = ServerConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        models: vec![loadpart_server::ModelSpec::new("zoo:chain")],
        ..ServerConfig::default()
    };
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("non-loopback"), "{e}");
    let allowed = ServerConfig {
        insecure_listen: true,
        ..c.clone()
    };
    allowed.validate().unwrap();
    let with_tls = ServerConfig {
        tls: Some(TlsFiles {
            cert: "c.pem".into(),
            key: "k.pem".into(),
        }),
        ..c
    };
    with_tls.validate().unwrap();

    // A missing certificate, a bad token file: clear errors.
    let dir = std::env::temp_dir().join(format!("loadpart-sec-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _d = Dir(dir.clone());
    let config = |tweak: &dyn Fn(&mut ServerConfig)| {
        let mut c = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            models: vec![loadpart_server::ModelSpec::new("zoo:chain")],
            ..ServerConfig::default()
        };
        tweak(&mut c);
        c
    };
    let e = Server::start(config(&|c| {
        c.tls = Some(TlsFiles {
            cert: dir.join("missing.pem"),
            key: dir.join("missing.key"),
        })
    }))
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing.pem"), "{e}");
    let bad = dir.join("tokens.txt");
    std::fs::write(&bad, "phone-1 0123456789abcdef0123\nphone-2 short\n").unwrap();
    let e = Server::start(config(&|c| c.tokens = Some(bad.clone())))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2"), "{e}");
    assert!(!e.contains("0123456789abcdef0123"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_over_tls_with_tokens() {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.loadpart/venv/bin/python");
    if !python.exists() {
        if std::env::var("LOADPART_SKIP_PYTHON_TESTS").as_deref() == Ok("1") {
            eprintln!("skipped: no .loadpart/venv (LOADPART_SKIP_PYTHON_TESTS=1)");
            return;
        }
        panic!(
            "{} is missing: run scripts/setup.sh (or set LOADPART_SKIP_PYTHON_TESTS=1)",
            python.display()
        );
    }
    let Some((dir, pki, tokens)) = setup("triton") else {
        return;
    };
    let server = start(&["inception"], secure(&pki, &tokens)).await;
    let m = server.models()[0].clone();
    let x = inputs(&m, 1, 21);
    let y = reference(&m, &x);
    let tensors = crate::python::tensors_json;
    let case = dir.0.join("case.json");
    std::fs::write(
        &case,
        json!({"model": m.name, "inputs": tensors(&x), "expected": tensors(&y)}).to_string(),
    )
    .unwrap();
    // The certificate names localhost (and 127.0.0.1); connect by name.
    let url = format!("localhost:{}", server.addr().port());
    let args = vec![
        url.into(),
        pki.ca.clone().into_os_string(),
        TOKEN_1.into(),
        case.into_os_string(),
    ];
    let seen = crate::python::run_check(python, "tritonclient_auth_check.py", args).await;
    assert!(seen["max_rel_err"].as_f64().unwrap() <= 1e-5);
    for k in ["no_token_infer", "wrong_token_infer"] {
        let msg = seen[k][1].as_str().unwrap();
        assert!(!msg.contains("phone-"), "{k}: {msg}");
        assert!(
            !msg.contains(TOKEN_1) && !msg.contains(TOKEN_2),
            "{k}: {msg}"
        );
    }
    assert!(seen["plaintext_s"].as_f64().unwrap() < 10.0);
    assert_eq!(seen["after_ok"], json!(true));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_downloads_are_capped_in_size_and_rate() {
    let server = start(&["chain"], |c| c.probe_bytes_per_s = 1 << 20).await;
    let mut lp = loadpart_client(&server)
        .await
        .max_decoding_message_size(64 << 20);
    let probe = |bytes: u64| loadpart_proto::loadpart::ProbeDownloadRequest { bytes };
    // Larger than the size cap: refused whatever the budget.
    let e = lp.probe_download(probe(17 << 20)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    // A burst of the largest probe (16 MiB) at most, then 1 MiB/s: four 4 MiB probes pass at
    // once, the next ones are refused (bounded: 8 calls).
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(match lp.probe_download(probe(4 << 20)).await {
            Ok(r) => {
                assert_eq!(r.get_ref().payload.len(), 4 << 20);
                tonic::Code::Ok
            }
            Err(s) => s.code(),
        });
    }
    eprintln!("probe budget: {codes:?}");
    let ok = codes.iter().filter(|c| **c == tonic::Code::Ok).count();
    assert!((4..=5).contains(&ok), "{codes:?}");
    assert!(
        codes[6..]
            .iter()
            .all(|c| *c == tonic::Code::ResourceExhausted),
        "{codes:?}"
    );
    // The server still answers everything else.
    load_report(&server, &server.models()[0].name).await;
    server.shutdown().await.unwrap();
}
