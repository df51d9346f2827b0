//! The real-network test bed (`scripts/testbed.sh`): a server and a device in a network
//! namespace whose loopback is shaped with `tc htb` on the server's port. The device's bandwidth
//! estimate must follow the real link, and its predicted network time must match the measured
//! one; the same server reached on an unshaped address must look fast.
//!
//! Needs root (as on CI); elsewhere the test says why it is skipped and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_loadpart");

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/testbed.sh")
}

/// The namespace; removed on drop, also when the test fails.
struct Netns {
    name: String,
    children: Vec<Child>,
}

impl Netns {
    fn up(name: &str, port: u16, rate: &str) -> Result<Self, String> {
        let _ = Command::new(script()).args(["down", name]).status();
        let st = Command::new(script())
            .args(["up", name, &port.to_string(), rate])
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !st.success() {
            return Err(format!("testbed.sh up failed ({st})"));
        }
        Ok(Self {
            name: name.into(),
            children: Vec::new(),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(script());
        c.args(["exec", &self.name, BIN]).args(args);
        c.env("ORT_DISABLE_TELEMETRY", "1");
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new(script()).args(["down", &self.name]).status();
    }
}

/// Mean of `f` over the offloaded lines of `loadpart infer --json` output.
fn mean(lines: &[serde_json::Value], f: impl Fn(&serde_json::Value) -> f64) -> f64 {
    let v: Vec<f64> = lines
        .iter()
        .filter(|l| l["route"] == "offloaded")
        .map(f)
        .collect();
    assert!(!v.is_empty(), "no offloaded request");
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn estimates_and_predictions_follow_a_real_shaped_link() {
    if let Some(why) = loadpart_bench::sweep::link::testbed_unavailable() {
        eprintln!("skipped: the netns + tc test bed needs root, ip and tc ({why})");
        return;
    }
    let dir = std::env::temp_dir().join(format!("loadpart-testbed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("server.json");
    let st = Command::new(BIN)
        .args([
            "profile",
            "zoo:mobilenet",
            "--role",
            "server",
            "--batch-sizes",
            "1,2",
        ])
        .args([
            "--runs",
            "3",
            "--anchors",
            "4",
            "--validate-cuts",
            "0",
            "--threads",
            "1",
            "-o",
        ])
        .arg(&profile)
        .env("ORT_DISABLE_TELEMETRY", "1")
        .status()
        .unwrap();
    assert!(st.success());
    // One image-sized input of noise (it does not compress), raw little-endian float32.
    let input = dir.join("x.bin");
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let bytes: Vec<u8> = (0..3 * 224 * 224)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 23) as f32 - 1.0).to_le_bytes()
        })
        .collect();
    std::fs::write(&input, bytes).unwrap();

    let port = 18_000 + (std::process::id() % 1000) as u16;
    let rate_mbit = 20.0;
    let mut ns =
        Netns::up(&format!("lp-{}", std::process::id()), port, "20mbit").expect("test bed up");
    let server = ns
        .command(&[
            "serve",
            "--model",
            "zoo:mobilenet",
            "--threads",
            "1",
            "--listen",
        ])
        .arg(format!("0.0.0.0:{port}"))
        // Every address of a namespace that has only loopback.
        .arg("--insecure-listen")
        .arg("--profile")
        .arg(&profile)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ns.children.push(server);
    let infer = |host: &str| -> Vec<serde_json::Value> {
        let t0 = Instant::now();
        loop {
            let out = ns
                .command(&["infer", "--model", "zoo:mobilenet", "--policy", "server"])
                // A slow device: the offload deadline (twice the local time) leaves room for
                // the 20 Mbit/s transfer.
                .args([
                    "--device-slowdown",
                    "8",
                    "--repeat",
                    "15",
                    "--json",
                    "--server",
                ])
                .arg(format!("http://{host}:{port}"))
                .arg("--input")
                .arg(&input)
                .env("LOADPART_HOME", &dir)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            if out.status.success() {
                let lines: Vec<serde_json::Value> = text
                    .lines()
                    .map(|l| serde_json::from_str(l).expect("JSON line"))
                    .collect();
                // Until the server has loaded its model, requests run on the device.
                if lines.iter().any(|l| l["route"] == "offloaded") {
                    return lines;
                }
                eprintln!(
                    "no offload yet: {}",
                    lines
                        .first()
                        .map(|l| l["route"].to_string())
                        .unwrap_or_default()
                );
            }
            // The server may still be loading the model.
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "infer failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let shaped = infer("127.0.0.1");
    let last = shaped.last().unwrap();
    let up_mbit = last["estimate"]["uplink_bytes_per_s"].as_f64().unwrap() * 8e-6;
    let predicted = mean(&shaped, |l| {
        let p = &l["predicted"];
        p["upload"].as_f64().unwrap() + p["rtt"].as_f64().unwrap() + p["download"].as_f64().unwrap()
    });
    let measured = mean(&shaped, |l| l["measured"]["network_us"].as_f64().unwrap());
    let fast = infer("127.0.0.2");
    let fast_mbit = fast.last().unwrap()["estimate"]["uplink_bytes_per_s"]
        .as_f64()
        .unwrap()
        * 8e-6;
    let sent = mean(&shaped, |l| l["sent_bytes"].as_f64().unwrap());
    eprintln!("{sent:.0} bytes sent per request");
    eprintln!(
        "20 Mbit/s link: uplink estimate {up_mbit:.1} Mbit/s; network time predicted {:.1} ms, measured {:.1} ms; unshaped address: estimate {fast_mbit:.0} Mbit/s",
        predicted * 1e-3,
        measured * 1e-3
    );
    assert!(
        up_mbit > rate_mbit * 0.6 && up_mbit < rate_mbit * 1.3,
        "uplink estimate {up_mbit} Mbit/s on a {rate_mbit} Mbit/s link"
    );
    let ratio = measured / predicted;
    assert!(
        (0.65..1.5).contains(&ratio),
        "measured/predicted network time {ratio:.2}"
    );
    assert!(
        fast_mbit > rate_mbit * 3.0,
        "unshaped estimate {fast_mbit} Mbit/s"
    );
    drop(ns);
    std::fs::remove_dir_all(&dir).ok();
}
