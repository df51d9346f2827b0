//! PyPI's `tritonclient[grpc]` against the server: full-model inference on two inputs whose
//! outputs differ, each checked against the model's output computed here; ServerMetadata,
//! ModelMetadata and ModelStatistics parse in that client.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::*;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the check script `tests/SCRIPT` with `python` and `args` off the async runtime,
/// requires it to succeed, and returns the JSON it prints.
pub async fn run_check(python: PathBuf, script: &str, args: Vec<std::ffi::OsString>) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(path).args(args).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{script}: {stdout}");
    serde_json::from_str(stdout.trim()).unwrap()
}

/// Tensors as the Python scripts read them: name -> {shape, data}.
pub fn tensors_json(t: &NamedTensors) -> Value {
    t.iter()
        .map(|(n, t)| {
            (
                n.clone(),
                json!({"shape": t.shape, "data": t.as_f32().unwrap()}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_runs_full_model_inference() {
    let python = repo_root().join(".loadpart/venv/bin/python");
    if !python.exists() {
        if std::env::var("LOADPART_SKIP_PYTHON_TESTS").as_deref() == Ok("1") {
            eprintln!("skipped: no .loadpart/venv (LOADPART_SKIP_PYTHON_TESTS=1)");
            return;
        }
        panic!(
            "{} is missing: run scripts/setup.sh (or set LOADPART_SKIP_PYTHON_TESTS=1)",
            python.display()
        );
    }
    let server = start(&["inception"], |_| {}).await;
    let m = server.models()[0].clone();
    let cases: Vec<(NamedTensors, NamedTensors)> = [11, 12]
        .into_iter()
        .map(|seed| {
            let x = inputs(&m, 1, seed);
            let y = reference(&m, &x);
            (x, y)
        })
        .collect();
    assert!(
        rel_err(&cases[0].1, &cases[1].1) > 1e-3,
        "the two inputs must give different outputs"
    );
    let spec = json!({
        "model": m.name,
        "cases": cases
            .iter()
            .map(|(x, y)| json!({"inputs": tensors_json(x), "expected": tensors_json(y)}))
            .collect::<Vec<_>>(),
    });
    let dir = std::env::temp_dir().join(format!("loadpart-srv-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cases.json");
    std::fs::write(&path, spec.to_string()).unwrap();

    let addr = server.addr().to_string();
    let seen = run_check(
        python,
        "tritonclient_check.py",
        vec![addr.into(), path.into()],
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(seen["max_rel_err"].as_f64().unwrap() <= 1e-5);
    server.shutdown().await.unwrap();
}
