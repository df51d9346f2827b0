//! The population harness end to end on a tiny generated model: two devices with their own
//! clients and links, `loadpart` and `neurosurgeon` runs, stopped after one run and resumed,
//! then reported. Its figures mean nothing.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_loadpart");

fn loadpart(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("LOADPART_HOME", dir)
        .env("ORT_DISABLE_TELEMETRY", "1")
        .output()
        .expect("loadpart starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

#[test]
fn a_population_runs_resumes_and_reports() {
    let dir = std::env::temp_dir().join(format!("loadpart-population-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("population.toml");
    std::fs::write(
        &config,
        r#"
model = "zoo:chain"
devices = [2]
policies = ["loadpart", "neurosurgeon"]
admission = [false]
link_mbit = [20]
device_slowdowns = [4]
frames_per_s = 4
seconds = 3
warmup_s = 1
repetitions = 1
"#,
    )
    .unwrap();
    let out = dir.join("population.jsonl");
    let args = |extra: &[&str]| -> Vec<String> {
        ["bench", "population", "--config"]
            .iter()
            .map(|s| s.to_string())
            .chain([config.to_string_lossy().into_owned()])
            .chain(["--out".to_string(), out.to_string_lossy().into_owned()])
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        loadpart(&dir, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(&["--max-runs", "1"]);
    let report = run(&[]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "done")
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(done.len(), 2, "each run once: {done:?}");
    let frames: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "frame").collect();
    for policy in ["loadpart", "neurosurgeon"] {
        let n = frames.iter().filter(|f| f["policy"] == policy).count();
        // 2 devices x 4 frames/s x 3 s: about 24 arrivals.
        assert!(n >= 8, "{policy}: {n} frames");
    }
    assert!(
        frames
            .iter()
            .filter(|f| f["route"] != "dropped")
            .all(|f| f["latency_ms"].as_f64().unwrap() > 0.0)
    );
    for l in lines.iter().filter(|l| l["kind"] == "done") {
        let u = l["utilization"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&u), "{l}");
    }
    assert!(report.contains("| 2 | off | loadpart | 1 |"), "{report}");
    assert!(report.contains("mean reduction"), "{report}");
    let json = run(&["--report-only", "--json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["comparisons"][0]["n"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}
