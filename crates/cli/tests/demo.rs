//! `loadpart demo`, the README's main command, end to end on a small generated model: it runs,
//! every policy serves requests in every phase, and it writes its timeline and records.

use std::process::Command;

#[test]
fn the_demo_runs_and_reports_every_policy() {
    let dir = std::env::temp_dir().join(format!("loadpart-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("timeline.svg");
    let records = dir.join("records.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_loadpart"))
        .args([
            "demo",
            "--model",
            "zoo:inception",
            "--devices",
            "2",
            "--seconds",
            "8",
        ])
        .arg("--plot")
        .arg(&svg)
        .arg("--records")
        .arg(&records)
        // Fresh profiles in a directory of the test's own.
        .env("LOADPART_HOME", &dir)
        .env("ORT_DISABLE_TELEMETRY", "1")
        .output()
        .expect("loadpart demo starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for policy in ["loadpart", "neurosurgeon", "local", "server"] {
        assert!(stdout.contains(policy), "{policy} missing:\n{stdout}");
    }
    assert!(stdout.contains("over the whole run"), "{stdout}");
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg") || svg_text.contains("<svg"));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&records)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 20, "only {} requests", lines.len());
    for phase in 0..4 {
        assert!(
            lines.iter().any(|r| r["phase"] == phase),
            "no request in phase {phase}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
