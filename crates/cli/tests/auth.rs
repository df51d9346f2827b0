//! `loadpart serve` with TLS and device tokens, as a real process: a device with the right
//! token is served over TLS; SIGHUP re-reads the token file (an old token stops working, a new
//! one starts); a bad file on SIGHUP keeps the old tokens; plaintext off loopback is refused at
//! start. Certificates come from the `openssl` command (the test skips without it).

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loadpart_client::{Access, Remote, Token};
use loadpart_proto::inference::ServerMetadataRequest;
use loadpart_testkit::{free_port, test_pki};

const TOKEN_1: &str = "cli-token-one-0123456789";
const TOKEN_2: &str = "cli-token-two-9876543210";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{sig} failed");
}

/// The gRPC code of a ServerMetadata call with `token`, over TLS.
async fn call(addr: SocketAddr, ca: &std::path::Path, token: &str) -> tonic::Code {
    let access = Access {
        tls_ca: Some(ca.to_path_buf()),
        tls_domain: Some("localhost".into()),
        token: Some(Token::new(token).unwrap()),
        device: None,
    };
    let r = Remote::with_access(&format!("http://{addr}"), 1 << 20, &access).unwrap();
    match tokio::time::timeout(
        Duration::from_secs(5),
        r.infer.clone().server_metadata(ServerMetadataRequest {}),
    )
    .await
    {
        Ok(Ok(_)) => tonic::Code::Ok,
        Ok(Err(s)) => s.code(),
        Err(_) => tonic::Code::DeadlineExceeded,
    }
}

/// Polls until `token` gets `want` (at most 10 s).
async fn until(addr: SocketAddr, ca: &std::path::Path, token: &str, want: tonic::Code) {
    let t0 = Instant::now();
    loop {
        let got = call(addr, ca, token).await;
        if got == want {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "token still gets {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn serve_with_tls_and_tokens_reloads_on_sighup() {
    let dir = std::env::temp_dir().join(format!("loadpart-cli-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = match test_pki(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: cannot make test certificates ({e})");
            return;
        }
    };
    let tokens = dir.join("tokens.txt");
    std::fs::write(&tokens, format!("dev-1 {TOKEN_1}\n")).unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let stderr = dir.join("stderr.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_loadpart"))
        .args([
            "serve",
            "--model",
            "zoo:chain",
            "--threads",
            "1",
            "--auto-profile=false",
        ])
        .args(["--metrics-listen", "off", "--warm-cuts", "none"])
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(&pki.key)
        .arg("--tokens")
        .arg(&tokens)
        .env("ORT_DISABLE_TELEMETRY", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("loadpart serve starts");
    let mut server = Server(child);
    let t0 = Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "server never listened"
        );
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "server exited: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(call(addr, &pki.ca, TOKEN_1).await, tonic::Code::Ok);
        assert_eq!(
            call(addr, &pki.ca, TOKEN_2).await,
            tonic::Code::Unauthenticated
        );

        // dev-1's token is revoked, dev-2 gets one.
        std::fs::write(&tokens, format!("dev-2 {TOKEN_2}\n")).unwrap();
        signal(&server.0, "HUP");
        until(addr, &pki.ca, TOKEN_2, tonic::Code::Ok).await;
        assert_eq!(
            call(addr, &pki.ca, TOKEN_1).await,
            tonic::Code::Unauthenticated
        );

        // A bad file keeps the old table; the server lives on.
        std::fs::write(&tokens, "dev-3 short\n").unwrap();
        signal(&server.0, "HUP");
        let t0 = Instant::now();
        while !std::fs::read_to_string(&stderr)
            .unwrap_or_default()
            .contains("not reloaded")
        {
            assert!(t0.elapsed() < Duration::from_secs(10), "no reload message");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(call(addr, &pki.ca, TOKEN_2).await, tonic::Code::Ok);
    });
    assert!(server.0.try_wait().unwrap().is_none(), "server still runs");
    signal(&server.0, "TERM");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    std::fs::File::open(&stderr)
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    eprintln!("server log:\n{log}");
    assert!(status.success(), "{status:?}");
    assert!(log.contains("(TLS)"), "{log}");
    assert!(log.contains("tokens reloaded"), "{log}");
    assert!(log.contains("line 1"), "{log}");
    assert!(
        !log.contains(TOKEN_1) && !log.contains(TOKEN_2),
        "a token was logged"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plaintext_off_loopback_is_refused_at_start() {
    // Refused while validating the configuration, before any model is loaded or port bound.
    let out = Command::new(env!("CARGO_BIN_EXE_loadpart"))
        .args([
            "serve",
            "--model",
            "zoo:chain",
            "--listen",
            "0.0.0.0:0",
            "--auto-profile=false",
        ])
        .args(["--metrics-listen", "off"])
        .env("ORT_DISABLE_TELEMETRY", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("non-loopback"), "{err}");
}
