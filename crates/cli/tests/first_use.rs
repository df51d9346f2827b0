//! First use, as a new user runs it: a model file and an input file, `loadpart serve --model
//! m.onnx` with nothing else (the server measures its profile, cached in a fresh home), then
//! `loadpart infer --server ... --model m.onnx --input x.npy --device-slowdown 4`, planned and
//! with `--cut` forcing a cut. Then a server started with `--auto-profile=false`: a forced cut
//! still offloads, and a planned request runs on the device with a warning, never an error.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use loadpart_graph::{Prepared, zoo};

/// A `loadpart serve` child, killed when dropped.
struct Serve {
    child: Child,
    addr: String,
    /// Everything it wrote on stderr up to its "serving" line.
    log: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn loadpart(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loadpart"));
    c.env("ORT_DISABLE_TELEMETRY", "1")
        .env("LOADPART_HOME", home)
        .env_remove("LOADPART_AUTO_PROFILE");
    c
}

/// Starts `loadpart serve --model MODEL EXTRA...` on a free port and waits for its "serving"
/// line (after the profile, when it measures one).
fn serve(home: &Path, model: &Path, extra: &[&str]) -> Serve {
    let mut child = loadpart(home)
        .args(["serve", "--model"])
        .arg(model)
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "off"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadpart serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = String::new();
    // Generous: the profile of a small model takes seconds; a slow machine may take minutes.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(300)) {
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.strip_prefix("loadpart serving ") {
            let addr = rest
                .split(" on ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .expect("an address")
                .to_string();
            return Serve { child, addr, log };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("loadpart serve never said it was serving:\n{log}");
}

/// `loadpart infer ... --json` against `server`; the outcome and stderr.
fn infer(
    home: &Path,
    server: &Serve,
    model: &Path,
    input: &Path,
    cut: Option<&str>,
) -> (serde_json::Value, String) {
    let mut c = loadpart(home);
    c.args(["infer", "--server"])
        .arg(format!("http://{}", server.addr))
        .arg("--model")
        .arg(model)
        .arg("--input")
        .arg(input)
        .args(["--device-slowdown", "4", "--json"]);
    if let Some(cut) = cut {
        c.args(["--cut", cut]);
    }
    let out = c.output().expect("loadpart infer runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "loadpart infer failed (cut {cut:?}): {stderr}\n{stdout}"
    );
    let line = stdout.lines().last().expect("one JSON line");
    (serde_json::from_str(line).expect("JSON"), stderr)
}

/// A little-endian float32 `.npy` file (NumPy's format: magic, header, data).
fn write_npy(path: &Path, dims: &[usize], values: &[f32]) {
    let shape: Vec<String> = dims.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", shape[0])
    } else {
        format!("({})", shape.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for v in values {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn route(o: &serde_json::Value) -> &str {
    o["route"]
        .as_str()
        .unwrap_or_else(|| panic!("route in {o}"))
}

#[test]
fn serve_then_infer_works_without_any_profile_given() {
    let home = std::env::temp_dir().join(format!("loadpart-first-use-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let model_path = home.join("m.onnx");
    let prepared = Prepared::new(&zoo::generate("inception").unwrap()).unwrap();
    std::fs::write(&model_path, prepared.model.to_bytes()).unwrap();
    let x = loadpart_testkit::seeded_inputs(&prepared.model, 1, 3);
    assert_eq!(x.len(), 1, "one input");
    let input = home.join("x.npy");
    write_npy(&input, &x[0].1.shape, x[0].1.as_f32().unwrap());
    // An inner cut with several tensors, as a user would copy it from `loadpart inspect --cuts`.
    let dag = prepared.stages.dag();
    let cut = prepared
        .stages
        .cut_space(4096)
        .all_candidate_cuts()
        .map(|c| c.cut.clone())
        .filter(|c| !c.is_full_local() && !c.is_full_offload())
        .max_by_key(|c| c.tensors.len())
        .unwrap()
        .id(dag)
        .to_string();

    // The default server measures its profile first, and says so.
    let server = serve(&home, &model_path, &["--threads", "1"]);
    assert!(
        server.log.contains("measuring a quick server profile"),
        "{}",
        server.log
    );
    let cached = std::fs::read_dir(home.join("profiles"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("server-"))
        .count();
    assert_eq!(cached, 1, "the server profile is cached in LOADPART_HOME");
    let (planned, stderr) = infer(&home, &server, &model_path, &input, None);
    assert!(!stderr.contains("no profile"), "{stderr}");
    assert!(
        ["local", "offloaded"].contains(&route(&planned)),
        "a planned request runs by plan: {planned}"
    );
    assert!(planned["predicted"]["device"].as_f64().unwrap() >= 0.0);
    let (forced, _) = infer(&home, &server, &model_path, &input, Some(&cut));
    assert_eq!(route(&forced), "offloaded", "{forced}");
    assert_eq!(forced["cut"].as_str(), Some(cut.as_str()));
    // A second start reuses the cached profile.
    drop(server);
    let again = serve(&home, &model_path, &["--threads", "1"]);
    assert!(!again.log.contains("measuring"), "{}", again.log);
    drop(again);

    // Without a server profile: a forced cut still offloads, planned requests run here.
    let bare = serve(
        &home,
        &model_path,
        &["--threads", "1", "--auto-profile=false"],
    );
    let (forced, _) = infer(&home, &bare, &model_path, &input, Some(&cut));
    assert_eq!(route(&forced), "offloaded", "{forced}");
    let (planned, stderr) = infer(&home, &bare, &model_path, &input, None);
    assert_eq!(route(&planned), "local_only", "{planned}");
    assert!(stderr.contains("no profile of this model"), "{stderr}");
    drop(bare);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_server_without_onnx_runtime_refuses_to_start_and_says_where_it_looked() {
    let home = std::env::temp_dir().join(format!("loadpart-no-ort-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let missing = home.join("nowhere").join("libonnxruntime.so");
    // ONNX Runtime asked for (the default engine), its library named and absent: a server does
    // not quietly run on another engine than the one it was told to use.
    let mut child = loadpart(&home)
        .env("ORT_DYLIB_PATH", &missing)
        .args([
            "serve",
            "--model",
            "zoo:chain",
            "--engine",
            "ort",
            "--auto-profile=false",
        ])
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "off"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadpart serve starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("loadpart serve without ONNX Runtime did not stop within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("ONNX Runtime library not found")
            && stderr.contains(missing.to_str().unwrap())
            && stderr.contains("ORT_DYLIB_PATH"),
        "the error names the path tried and how to fix it:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&home);
}
