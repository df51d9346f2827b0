//! The evaluation harness end to end on a tiny generated model (configs/sweep-smoke.toml:
//! zoo:chain, 2 bandwidths x 2 loads, 3 requests per policy): the sweep is stopped after two
//! cell repetitions and resumed, then reported. On the netns test bed when root and `tc` are
//! available, else with linkem relays; the output says which. Its figures mean nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_loadpart");

fn loadpart(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        // Fresh profiles in a directory of the test's own.
        .env("LOADPART_HOME", dir)
        .env("ORT_DISABLE_TELEMETRY", "1")
        .output()
        .expect("loadpart starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed:\n{stdout}\n{stderr}");
    format!("{stdout}{stderr}")
}

#[test]
fn a_smoke_sweep_runs_resumes_and_reports() {
    let start = Instant::now();
    let dir = std::env::temp_dir().join(format!("loadpart-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let results = dir.join("results.jsonl");
    let report = dir.join("report");
    let (r, o) = (results.to_str().unwrap(), report.to_str().unwrap());
    let config = "configs/sweep-smoke.toml";
    let first = loadpart(
        &dir,
        &[
            "bench",
            "run",
            "--config",
            config,
            "--out",
            r,
            "--max-cells",
            "2",
        ],
    );
    eprintln!("{first}");
    assert!(
        first.contains("link: "),
        "the link used is not said:\n{first}"
    );
    assert!(first.contains("2 left"), "{first}");
    let second = loadpart(&dir, &["bench", "run", "--config", config, "--out", r]);
    assert!(
        second.contains("2 of 4 cell repetitions already"),
        "{second}"
    );
    assert!(second.contains("0 left"), "{second}");

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "done")
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(done.len(), 4, "{done:?}");
    let mut unique = done.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 4, "a cell ran twice: {done:?}");
    let requests: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["kind"] == "request").collect();
    for policy in loadpart_bench::sweep::policies::POLICIES {
        let n = requests.iter().filter(|r| r["variant"] == policy).count();
        assert_eq!(n, 4 * 3, "{policy}: {n} requests");
    }
    assert!(
        requests
            .iter()
            .all(|r| r["measured"]["total"].as_f64().unwrap() > 0.0),
        "a request without a measured latency"
    );

    let rep = loadpart(&dir, &["bench", "report", "--results", r, "--out", o]);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("## zoo:chain"), "{md}");
    assert!(md.contains("## Summary"), "{md}");
    assert!(
        md.contains("| zoo:chain | "),
        "the summary has the model's row: {md}"
    );
    assert!(md.contains("vs neurosurgeon"), "{md}");
    assert!(md.contains("best fixed cut"), "{md}");
    for f in ["zoo_chain-latency.svg", "zoo_chain-cuts.svg"] {
        let svg = std::fs::read_to_string(report.join(f)).unwrap();
        assert!(svg.contains("<svg"), "{f}");
    }
    assert!(rep.contains("report.md"), "{rep}");
    secure_cell(&dir);
    std::fs::remove_dir_all(&dir).ok();
    let took = start.elapsed();
    eprintln!("smoke sweep: {took:.1?}");
    assert!(
        took < Duration::from_secs(150),
        "the smoke sweep took {took:?}"
    );
}

/// One cell repetition with TLS and device tokens on: the measured device, the harness's direct
/// client and the load generator's identities all get through (the server computes the
/// offloads), and the results say that security was on.
fn secure_cell(dir: &Path) {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("no `openssl` command: the smoke sweep with security on is skipped");
        return;
    }
    let results = dir.join("secure.jsonl");
    let r = results.to_str().unwrap();
    let out = loadpart(
        dir,
        &[
            "bench",
            "run",
            "--config",
            "configs/sweep-smoke.toml",
            "--security",
            "true",
            "--out",
            r,
            "--max-cells",
            "1",
        ],
    );
    assert!(out.contains("3 left"), "{out}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "done").collect();
    assert_eq!(done.len(), 1);
    assert!(
        done[0]["link"]
            .as_str()
            .unwrap()
            .contains("TLS + device tokens"),
        "{}",
        done[0]
    );
    let offloaded = lines
        .iter()
        .filter(|l| l["kind"] == "request" && l["variant"] == "server")
        .filter(|l| l["route"] == "offloaded")
        .count();
    assert!(
        offloaded >= 2,
        "{offloaded} of 3 encoded full offloads computed by the server: {lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l["why"].as_str().is_some_and(|w| w.contains("uthenticat"))),
        "a request was refused for its token: {lines:?}"
    );
}

/// `bench serving` and `bench client-overhead` end to end on a tiny generated model, briefly:
/// both sides measured, the server's reported timings read, the client's overhead computed. The
/// figures mean nothing at this size; this keeps the benches working.
#[test]
fn the_serving_and_client_overhead_benches_run() {
    let dir = std::env::temp_dir().join(format!("loadpart-bench-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = loadpart(
        &dir,
        &[
            "bench",
            "serving",
            "--model",
            "zoo:chain",
            "--duration",
            "0.5",
            "--warmup",
            "0.2",
            "--rounds",
            "1",
            "--concurrency",
            "1,4",
            "--batch",
            "1,2",
            "--json",
        ],
    );
    let r = first_json(&out, '{');
    let levels = |k: &str| r[k].as_array().unwrap().clone();
    assert_eq!(levels("in_process").len(), 2, "{r}");
    assert_eq!(levels("served").len(), 2, "{r}");
    for l in levels("in_process").iter().chain(&levels("served")) {
        assert!(l["inferences_per_s"].as_f64().unwrap() > 0.0, "{l}");
        assert!(l["p50_ms"].as_f64().unwrap() > 0.0, "{l}");
    }
    for l in levels("served") {
        assert!(l["server"]["batch_rows"].as_f64().unwrap() >= 1.0, "{l}");
    }
    assert!(r["p50_gap_ms"].as_f64().is_some(), "{r}");
    assert_eq!(r["served_ratio"].as_array().unwrap().len(), 2);

    let out = loadpart(
        &dir,
        &[
            "bench",
            "client-overhead",
            "--models",
            "zoo:chain",
            "--requests",
            "10",
            "--json",
        ],
    );
    let rows = first_json(&out, '[').as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let mid = rows.iter().find(|r| r["variant"] == "mid cut").unwrap();
    assert_eq!(mid["requests"], 10);
    assert!(mid["offloaded"].as_u64().unwrap() >= 1, "{mid}");
    let overhead = mid["overhead_mean_ms"].as_f64().unwrap();
    assert!(overhead.is_finite() && overhead >= 0.0, "{mid}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first JSON value in `out` that starts with `open` (the command's stdout comes first; its
/// log follows).
fn first_json(out: &str, open: char) -> serde_json::Value {
    let start = out
        .find(open)
        .unwrap_or_else(|| panic!("no JSON in:\n{out}"));
    serde_json::Deserializer::from_str(&out[start..])
        .into_iter::<serde_json::Value>()
        .next()
        .expect("a JSON value")
        .unwrap()
}
