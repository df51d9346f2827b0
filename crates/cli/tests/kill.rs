//! The kill test: four devices run while the server process is killed (SIGKILL) and restarted
//! on the same port 5 s later. Every request must complete with the same result as the cut's
//! quantized reference (head, encode, decode, tail, all on this machine), none may be lost, and
//! offloading must resume by itself soon after the restart.
//!
//! Real processes: the server is the `loadpart serve` binary; the devices are the client library
//! in this test process, over real gRPC on loopback.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_client::{Client, ClientConfig, InferOptions, Route};
use loadpart_codec::{EncodeOptions, Encoder};
use loadpart_engine::{EngineKind, LoadOptions};
use loadpart_exec::{ProfileOptions, profile_model};
use loadpart_graph::{Prepared, zoo};
use loadpart_plan::ProfileRole;
use loadpart_runtime::{ModelRuntime, NamedTensors, PartCache, Tensor, views};
use loadpart_testkit::free_port;

/// Starts `loadpart serve` and waits until it accepts connections.
fn start_server(port: u16, profile: &std::path::Path) -> (Child, Instant) {
    let child = Command::new(env!("CARGO_BIN_EXE_loadpart"))
        .args([
            "serve",
            "--model",
            "zoo:inception",
            "--threads",
            "1",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--profile")
        .arg(profile)
        .env("ORT_DISABLE_TELEMETRY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("loadpart serve starts");
    let t0 = Instant::now();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "server never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, Instant::now())
}

fn inputs(p: &Prepared, seed: u32) -> NamedTensors {
    loadpart_testkit::seeded_inputs(&p.model, 1, seed)
}

fn argmax(t: &Tensor) -> usize {
    let v = t.as_f32().unwrap();
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

#[test]
fn killing_and_restarting_the_server_loses_no_request() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let prepared = Arc::new(Prepared::new(&zoo::generate("inception").unwrap()).unwrap());
    let engine: Arc<dyn loadpart_engine::Engine> =
        Arc::from(loadpart_engine::engine(EngineKind::Ort).unwrap());
    let quick = |role, batch_sizes| ProfileOptions {
        batch_sizes,
        warmup: 1,
        runs: 3,
        anchors: 4,
        validate_cuts: 0,
        role,
        ..ProfileOptions::default()
    };
    let server_profile = profile_model(
        engine.as_ref(),
        &prepared,
        "test",
        &quick(ProfileRole::Server, vec![1, 2, 4]),
        &mut |_, _, _| {},
    )
    .unwrap();
    let device_profile = profile_model(
        engine.as_ref(),
        &prepared,
        "test",
        &quick(ProfileRole::Device, vec![1]),
        &mut |_, _, _| {},
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("loadpart-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile_path = dir.join("server.json");
    std::fs::write(
        &profile_path,
        serde_json::to_string(&server_profile).unwrap(),
    )
    .unwrap();

    let device_rt = Arc::new(ModelRuntime::new(
        engine,
        prepared.clone(),
        Arc::new(PartCache::new(1 << 30)),
        LoadOptions {
            intra_threads: 1,
            ..LoadOptions::default()
        },
    ));
    // A multi-tensor inner cut, forced, so that every request needs the server.
    let dag = prepared.stages.dag();
    let space = prepared.stages.cut_space(4096);
    let cut = space
        .all_candidate_cuts()
        .map(|c| c.cut.clone())
        .filter(|c| !c.is_full_local() && !c.is_full_offload())
        .max_by_key(|c| c.tensors.len())
        .unwrap();
    let cut_id = cut.id(dag);
    let sent_names: Vec<String> = cut
        .sent_tensors(dag)
        .map(|t| dag.tensor(t).name.clone())
        .collect();
    // References per input: the cut's quantized result, and local execution's top-1.
    let xs: Vec<NamedTensors> = (0..3).map(|s| inputs(&prepared, s)).collect();
    // (quantized result of the cut, local result, local top-1)
    #[allow(clippy::type_complexity)]
    let refs: Vec<(NamedTensors, NamedTensors, Vec<usize>)> = xs
        .iter()
        .map(|x| {
            let head = device_rt
                .head(&cut_id)
                .unwrap()
                .run(&views(x))
                .unwrap()
                .outputs;
            let sent: NamedTensors = head
                .into_iter()
                .filter(|(n, _)| sent_names.contains(n))
                .collect();
            let mut enc = Encoder::new(EncodeOptions::default()).unwrap();
            let same = |_: &str| loadpart_plan::TensorEncoding::Compressed;
            let q = loadpart_client::wire::quantized_copy(&mut enc, &sent, &same).unwrap();
            let tail = device_rt
                .tail(&cut_id)
                .unwrap()
                .run(&views(&q))
                .unwrap()
                .outputs;
            let local = device_rt.full().unwrap().run(&views(x)).unwrap().outputs;
            let top1 = local.iter().map(|(_, t)| argmax(t)).collect();
            (tail, local, top1)
        })
        .collect();

    let port = free_port();
    let (mut server, _) = start_server(port, &profile_path);
    let url = format!("http://127.0.0.1:{port}");
    rt.block_on(async {
        let mut clients = Vec::new();
        for i in 0..4 {
            let mut c = ClientConfig::new(&url, "inception");
            c.device_name = format!("dev-{i}");
            clients.push(Arc::new(
                Client::connect(c, device_rt.clone(), device_profile.clone(), None)
                    .await
                    .unwrap(),
            ));
        }
        let start = Instant::now();
        let total = Duration::from_secs(14);
        let mut tasks = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            let (client, xs, refs, cut_id) = (client.clone(), xs.clone(), refs.clone(), cut_id.clone());
            tasks.push(tokio::spawn(async move {
                let opts = InferOptions {
                    cut: Some(cut_id),
                    ..InferOptions::default()
                };
                let mut log = Vec::new();
                let mut n = i;
                while start.elapsed() < total {
                    let k = n % xs.len();
                    n += 1;
                    let o = client.infer(xs[k].clone(), &opts).await.expect("a result");
                    // The reference of the cut that ran: the forced cut when the server ran the
                    // tail or the device finished it, the whole model when the device did not
                    // try the server (backing off).
                    let want = match o.route {
                        Route::LocalOnly { .. } | Route::Local => &refs[k].1,
                        _ => &refs[k].0,
                    };
                    let err = loadpart_exec::compare_outputs(want, &o.outputs).unwrap().1;
                    let top1: Vec<usize> = o.outputs.iter().map(|(_, t)| argmax(t)).collect();
                    log.push((start.elapsed(), o.route.clone(), err, top1 == refs[k].2));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                log
            }));
        }
        // Kill at 3 s, restart 5 s later.
        tokio::time::sleep(Duration::from_secs(3)).await;
        server.kill().unwrap();
        server.wait().unwrap();
        let killed = start.elapsed();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (s2, ready) = tokio::task::spawn_blocking({
            let p = profile_path.clone();
            move || start_server(port, &p)
        })
        .await
        .unwrap();
        server = s2;
        let ready = ready - start;
        let mut worst_resume = Duration::ZERO;
        let (mut total_n, mut fallbacks, mut max_err) = (0usize, 0usize, 0f64);
        for t in tasks {
            let log = t.await.unwrap();
            total_n += log.len();
            for (at, route, err, top1) in &log {
                assert!(*err <= 1e-5, "request at {at:?} ({route:?}): relative error {err}");
                assert!(*top1, "request at {at:?} ({route:?}): top-1 differs from local");
                max_err = max_err.max(*err);
                if matches!(route, Route::Fallback { .. } | Route::LocalOnly { .. }) {
                    fallbacks += 1;
                }
            }
            let before = log.iter().filter(|(at, r, ..)| *at < killed && *r == Route::Offloaded).count();
            assert!(before > 0, "no offload before the kill");
            let resumed = log
                .iter()
                .find(|(at, r, ..)| *at > ready && *r == Route::Offloaded)
                .map(|(at, ..)| *at - ready)
                .expect("offloading never resumed");
            worst_resume = worst_resume.max(resumed);
        }
        eprintln!(
            "{total_n} requests, {fallbacks} finished on the device, max relative error {max_err:.1e}; \
             killed at {killed:?}, restarted server ready at {ready:?}, offloading resumed within {worst_resume:?} on every device"
        );
        assert!(worst_resume < Duration::from_secs(2), "{worst_resume:?}");
        assert!(fallbacks > 0, "the kill went unnoticed");
    });
    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_dir_all(&dir).ok();
}
