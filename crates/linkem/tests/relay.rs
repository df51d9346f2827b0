//! The relay on real loopback sockets: bytes arrive intact, at the configured rate, and a rate
//! change takes effect while a transfer runs.

use std::time::{Duration, Instant};

use loadpart_linkem::{LinkShape, Relay};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that answers each connection by echoing back everything it reads.
async fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Sends `n` bytes through `addr` and reads the echo; returns (elapsed, bytes equal).
async fn round_trip(addr: std::net::SocketAddr, n: usize) -> (Duration, bool) {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    let sent = data.clone();
    let t0 = Instant::now();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w
    });
    let mut got = vec![0u8; n];
    r.read_exact(&mut got).await.unwrap();
    drop(writer.await.unwrap());
    (t0.elapsed(), got == data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_arrive_intact_at_the_configured_rate() {
    let upstream = echo_server().await;
    // 4 Mbit/s each way: 250 KB take ~0.5 s up and overlap going down.
    let relay = Relay::start(
        "127.0.0.1:0".parse().unwrap(),
        upstream,
        LinkShape::symmetric_bits(4e6),
    )
    .await
    .unwrap();
    let n = 250_000;
    let (elapsed, intact) = round_trip(relay.addr(), n).await;
    assert!(intact, "bytes changed in the relay");
    let expected = n as f64 / 500_000.0;
    let secs = elapsed.as_secs_f64();
    eprintln!("250 KB echo through 4 Mbit/s: {secs:.3} s (pure transfer {expected:.3} s)");
    // Up and down overlap (the echo starts as soon as bytes arrive), so ~1x the one-way time,
    // plus at most the relay queue; generous margins for a shared machine.
    assert!(secs > expected * 0.8, "too fast: {secs} s");
    assert!(secs < expected * 2.5, "too slow: {secs} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_and_rate_changes_apply_to_new_traffic() {
    let upstream = echo_server().await;
    let relay = Relay::start(
        "127.0.0.1:0".parse().unwrap(),
        upstream,
        LinkShape::unlimited(),
    )
    .await
    .unwrap();
    let (fast, _) = round_trip(relay.addr(), 1_000_000).await;
    relay.set_shape(LinkShape {
        one_way_delay: Duration::from_millis(50),
        ..LinkShape::symmetric_bits(8e6)
    });
    let (small, intact) = round_trip(relay.addr(), 100).await;
    assert!(intact);
    let (slow, _) = round_trip(relay.addr(), 1_000_000).await;
    eprintln!(
        "unlimited 1 MB echo {fast:?}; 100 B echo with 50 ms one-way {small:?}; 1 MB at 8 Mbit/s {slow:?}"
    );
    // Two one-way delays on the small echo.
    assert!(small >= Duration::from_millis(100), "{small:?}");
    assert!(small < Duration::from_millis(600), "{small:?}");
    // 1 MB at 1 MB/s: about a second, far slower than unlimited.
    assert!(slow >= Duration::from_millis(900), "{slow:?}");
    assert!(slow > fast * 5, "{slow:?} vs {fast:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_closes_the_client_connection() {
    // A port with nothing listening: bind, note the port, close.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), dead, LinkShape::unlimited())
        .await
        .unwrap();
    let mut s = TcpStream::connect(relay.addr()).await.unwrap();
    let mut buf = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "expected EOF or reset: {r:?}"
    );
}
