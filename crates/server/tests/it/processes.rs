//! Concurrency with real clients in real processes: eight client processes (this test binary run
//! again in client mode, each with its own tokio runtime, tonic channel and TCP connection) send
//! to one server at once. Plain requests batch: the mean batch size, from Triton's statistics and
//! from the load report, is above 1.5. Partitioned requests at two nesting cuts merge into
//! staircases. Every output, batched or merged, equals unbatched execution within 1e-5 relative.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loadpart_codec::Precision;
use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::inference::{ModelInferRequest, ModelInferResponse};
use prost::Message;
use tonic::transport::Channel;

use crate::staircase::two_nesting_cuts;
use crate::*;

/// Client mode: the server's address. The other variables say what to send and where the
/// replies go.
const ADDR: &str = "LOADPART_TEST_CLIENT_ADDR";
/// A prost-encoded `ModelInferRequest`, sent `COUNT` times back to back.
const REQUEST: &str = "LOADPART_TEST_CLIENT_REQUEST";
const COUNT: &str = "LOADPART_TEST_CLIENT_COUNT";
/// Where the replies go, length-delimited `ModelInferResponse`s in order.
const REPLIES: &str = "LOADPART_TEST_CLIENT_REPLIES";
/// When to send the first request, ms since the Unix epoch, so that every process starts at
/// once whatever its start-up took.
const START_MS: &str = "LOADPART_TEST_CLIENT_START_MS";

const CLIENTS: usize = 8;
/// Most time a client process may take, from its spawn to its exit.
const PROCESS_LIMIT: Duration = Duration::from_secs(90);

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A client process (run by [`run_clients`] with the variables above); does nothing otherwise.
#[test]
#[ignore = "the client process of eight_client_processes_batch_and_merge_correctly"]
fn client_process() {
    let Ok(addr) = std::env::var(ADDR) else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let request =
        ModelInferRequest::decode(std::fs::read(var(REQUEST)).unwrap().as_slice()).unwrap();
    let count: usize = var(COUNT).parse().unwrap();
    let start_ms: u64 = var(START_MS).parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let replies = rt.block_on(async {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(20))
            .connect()
            .await
            .expect("connects");
        let mut client = GrpcInferenceServiceClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let wait = Duration::from_millis(start_ms.saturating_sub(unix_ms()));
        tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
        let mut out = Vec::new();
        for i in 0..count {
            let reply = client
                .model_infer(request.clone())
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"))
                .into_inner();
            reply.encode_length_delimited(&mut out).unwrap();
        }
        out
    });
    std::fs::write(var(REPLIES), replies).unwrap();
}

/// Client processes, killed if still running when dropped (a failing test leaves none behind).
struct Processes(Vec<(Child, PathBuf, PathBuf)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (child, ..) in &mut self.0 {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Runs one client process per request in `requests`, all starting at once, each sending its
/// request `count` times; the replies of each, in order. Blocking.
fn run_clients(
    addr: SocketAddr,
    dir: &Path,
    requests: &[ModelInferRequest],
    count: usize,
) -> Vec<Vec<ModelInferResponse>> {
    let exe = std::env::current_exe().unwrap();
    // Time for every process to start and connect; each waits for the rest until then.
    let start = unix_ms() + 1500;
    let spawned = Instant::now();
    let mut procs = Processes(Vec::new());
    for (i, r) in requests.iter().enumerate() {
        let request = dir.join(format!("request-{i}.pb"));
        let replies = dir.join(format!("replies-{i}.pb"));
        let stderr = dir.join(format!("stderr-{i}.txt"));
        std::fs::write(&request, r.encode_to_vec()).unwrap();
        let _ = std::fs::remove_file(&replies);
        let child = Command::new(&exe)
            .args(["processes::client_process", "--exact", "--ignored"])
            .args(["--nocapture", "--test-threads", "1", "-q"])
            .env(ADDR, addr.to_string())
            .env(REQUEST, &request)
            .env(COUNT, count.to_string())
            .env(REPLIES, &replies)
            .env(START_MS, start.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("a client process starts");
        procs.0.push((child, replies, stderr));
    }
    let mut all = Vec::with_capacity(requests.len());
    for (child, replies, stderr) in &mut procs.0 {
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                spawned.elapsed() < PROCESS_LIMIT,
                "a client process ran past {PROCESS_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "client process failed ({status}): {}",
            std::fs::read_to_string(&*stderr).unwrap_or_default()
        );
        let bytes = std::fs::read(&*replies).expect("the client wrote its replies");
        let mut buf = bytes.as_slice();
        let mut got = Vec::with_capacity(count);
        while !buf.is_empty() {
            got.push(ModelInferResponse::decode_length_delimited(&mut buf).unwrap());
        }
        assert_eq!(got.len(), count);
        all.push(got);
    }
    all
}

/// (inference count, execution count) of `model` so far.
async fn counts(server: &RunningServer, model: &str) -> (u64, u64) {
    let s = model_stats(server, model).await;
    (s.inference_count, s.execution_count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_client_processes_batch_and_merge_correctly() {
    let started = Instant::now();
    let server = start(&["inception"], |c| {
        c.staircase = true;
        c.max_batch_rows = 8;
        // Batches that do not fill wait this long for more: long enough for the other clients'
        // next requests (a round trip on loopback) to join, short against the test.
        c.max_queue_delay = Duration::from_millis(10);
    })
    .await;
    let m = server.models()[0].clone();
    let dir = std::env::temp_dir().join(format!("loadpart-processes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let addr = server.addr();

    // Plain requests, one input per process.
    const PLAIN: usize = 40;
    let xs: Vec<_> = (0..CLIENTS as u32)
        .map(|c| inputs(&m, 1, 200 + c))
        .collect();
    let wants: Vec<_> = xs.iter().map(|x| reference(&m, x)).collect();
    let requests: Vec<_> = xs.iter().map(|x| plain_request(&m.name, x)).collect();
    let before = counts(&server, &m.name).await;
    let d = dir.clone();
    let t0 = Instant::now();
    let replies = tokio::task::spawn_blocking(move || run_clients(addr, &d, &requests, PLAIN))
        .await
        .unwrap();
    let plain_time = t0.elapsed();
    let mut worst = 0f64;
    for (want, got) in wants.iter().zip(&replies) {
        for r in got {
            let err = rel_err(want, &outputs(r));
            assert!(err < 1e-5, "batched output differs from unbatched: {err}");
            worst = worst.max(err);
        }
    }
    let after = counts(&server, &m.name).await;
    let (inferences, executions) = (after.0 - before.0, after.1 - before.1);
    assert_eq!(inferences, (CLIENTS * PLAIN) as u64);
    let stats_mean = inferences as f64 / executions as f64;
    let report = load_report(&server, &m.name).await;
    eprintln!(
        "{inferences} plain requests from {CLIENTS} processes in {plain_time:?}: mean batch size \
         {stats_mean:.2} (statistics), {:.2} (load report); batch mix {:?}; worst relative \
         error {worst:.1e}",
        report.mean_batch_size,
        batch_mix(&report),
    );
    assert!(stats_mean > 1.5, "mean batch size {stats_mean}");
    assert!(report.mean_batch_size > 1.5, "{report:?}");
    // Per cut: plain requests all enter at the model's inputs, one cut, batched.
    assert_eq!(report.cut_batches.len(), 1, "{:?}", report.cut_batches);
    assert!(report.cut_batches[0].mean_batch_size > 1.5, "{report:?}");

    // Partitioned requests, half at an early cut and half at a later, nesting one: batches of
    // the two merge into staircases.
    const PARTITIONED: usize = 30;
    let (early, late) = two_nesting_cuts(&m);
    let per_cut = CLIENTS / 2;
    let xs: Vec<_> = (0..CLIENTS as u32)
        .map(|c| inputs(&m, 1, 300 + c))
        .collect();
    let wants: Vec<_> = xs.iter().map(|x| reference(&m, x)).collect();
    let requests: Vec<_> = xs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let cut = if i < per_cut { &early } else { &late };
            partitioned_request(&m, cut, x, Precision::F32)
        })
        .collect();
    let d = dir.clone();
    let t0 = Instant::now();
    let replies =
        tokio::task::spawn_blocking(move || run_clients(addr, &d, &requests, PARTITIONED))
            .await
            .unwrap();
    let partitioned_time = t0.elapsed();
    let (mut merged, mut worst) = (0usize, 0f64);
    for (want, got) in wants.iter().zip(&replies) {
        for r in got {
            let err = rel_err(want, &outputs(r));
            assert!(err < 1e-5, "staircase output differs from unbatched: {err}");
            worst = worst.max(err);
            // A batch of one cut holds at most `per_cut` requests: more rows means both cuts.
            if param(r, "loadpart_batch_size") > per_cut as f64 {
                merged += 1;
            }
        }
    }
    let total = CLIENTS * PARTITIONED;
    eprintln!(
        "{total} partitioned requests ({early} and {late}) from {CLIENTS} processes in \
         {partitioned_time:?}: {merged} ran in merged staircases; worst relative error {worst:.1e}; \
         test took {:?}",
        started.elapsed()
    );
    assert!(merged > 0, "no staircase formed in {total} requests");
    // Both cuts are listed with the batches their requests ran in (merged ones included).
    let report = load_report(&server, &m.name).await;
    for cut in [&early, &late] {
        let b = report
            .cut_batches
            .iter()
            .find(|b| b.cut_id == cut.as_str())
            .unwrap_or_else(|| panic!("{cut} not in {:?}", report.cut_batches));
        assert!(b.requests > 0 && b.mean_batch_size >= 1.0, "{b:?}");
        eprintln!(
            "cut {cut}: {} requests in the window, mean batch {:.2}",
            b.requests, b.mean_batch_size
        );
    }
    server.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
