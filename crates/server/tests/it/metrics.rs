//! The Prometheus endpoint: parseable text whose counters move with the traffic.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

use crate::*;

/// One HTTP/1.1 GET; (status line, body).
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head.lines().next().unwrap().to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a length")
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    (status, body.to_string())
}

/// Every sample of the text format, by series; panics on a malformed line.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            assert!(["gauge", "counter", "histogram"].contains(&kind), "{line}");
            typed.push(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let name = series.split('{').next().unwrap();
        assert!(
            typed.iter().any(|t| name.starts_with(t.as_str())),
            "{name} has no TYPE line"
        );
        out.insert(series.to_string(), value.parse::<f64>().expect(line));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_requests() {
    let server = start(&["inception"], |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = server.metrics_addr().expect("metrics are served");
    let m = server.models()[0].clone();
    let ok = format!(
        "loadpart_requests_total{{model=\"{}\",code=\"OK\"}}",
        m.name
    );
    let batches = format!("loadpart_batch_size_count{{model=\"{}\"}}", m.name);
    let latency = format!(
        "loadpart_request_duration_seconds_count{{model=\"{}\"}}",
        m.name
    );

    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let before = samples(&body);
    assert_eq!(before[&ok], 0.0);
    assert_eq!(before["loadpart_queue_length"], 0.0);

    let mut client = infer_client(&server).await;
    for seed in 0..5 {
        let x = inputs(&m, 1, seed);
        client
            .model_infer(plain_request(&m.name, &x))
            .await
            .unwrap();
    }
    let e = client
        .model_infer(plain_request("nope", &inputs(&m, 1, 0)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    let after = samples(&get(addr, "/metrics").await.1);
    assert_eq!(after[&ok], 5.0);
    assert_eq!(after[&latency], 5.0);
    assert!(after[&batches] >= 1.0 && after[&batches] <= 5.0);
    assert_eq!(
        after["loadpart_request_errors_total{model=\"unknown\",code=\"NOT_FOUND\",error=\"unknown_model\"}"],
        1.0
    );

    let (status, _) = get(addr, "/other").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    server.shutdown().await.unwrap();
    // The endpoint stops with the server.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
