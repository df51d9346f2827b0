//! The metrics endpoint: `GET /metrics` over plain HTTP/1.1 on its own address, answered with
//! [`crate::metrics::Metrics::render`].
//!
//! Hand-written on a tokio listener rather than on hyper: tonic pulls in hyper for HTTP/2 only,
//! and one fixed GET with `Connection: close` needs no more than this. Requests are read to the
//! end of their head (at most 8 KiB, 5 s), so a slow or oversized client is dropped; each
//! connection gets one answer.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::monitor::Monitor;

const MAX_HEAD: usize = 8 << 10;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves scrapes on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    monitor: Arc<Monitor>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((conn, _)) => {
                    let monitor = monitor.clone();
                    tokio::spawn(async move {
                        if let Err(e) = answer(conn, &monitor).await {
                            tracing::debug!(error = %e, "metrics connection");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "metrics listener"),
            },
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
        }
    }
}

async fn answer(mut conn: TcpStream, monitor: &Monitor) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut conn)).await {
        Ok(h) => h?,
        Err(_) => return Ok(()),
    };
    let (status, body) = respond(&head, monitor);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        crate::metrics::CONTENT_TYPE,
        body.len()
    );
    conn.write_all(response.as_bytes()).await?;
    if !head.starts_with("HEAD ") {
        conn.write_all(body.as_bytes()).await?;
    }
    conn.shutdown().await
}

/// The request head (request line and headers), or what arrived before the limit or EOF.
async fn read_head(conn: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_HEAD && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Status line and body for a request head.
fn respond(head: &str, monitor: &Monitor) -> (&'static str, String) {
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", monitor.render_metrics()),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "not found; metrics are at /metrics\n".into(),
        ),
        _ => ("405 Method Not Allowed", "only GET /metrics\n".into()),
    }
}
