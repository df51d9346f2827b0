//! `check-codec` end to end on a generated model: per-tensor floors chosen and written, then
//! the cut tensors encoded as the planner prices them with those floors at a slow and a fast
//! link, on other inputs. The agreement bound is 0 so that the test checks the mechanics, not
//! this model's accuracy (`docs/results/overheads/` has the zoo models' figures).

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
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn floors_are_chosen_then_sent_as_planned_per_bandwidth() {
    let dir = std::env::temp_dir().join(format!("loadpart-codec-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let floors = dir.join("floors.json");
    let f = floors.to_str().unwrap();
    let common = [
        "check-codec",
        "zoo:inception",
        "--inputs",
        "16",
        "--cuts",
        "3",
    ];
    let chosen = loadpart(
        &dir,
        &[
            &common[..],
            &[
                "--choose-bits",
                "8,5",
                "--min-agreement",
                "0",
                "--floors-out",
                f,
            ],
        ]
        .concat(),
    );
    assert!(chosen.contains("floor 5 bits"), "{chosen}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&floors).unwrap()).unwrap();
    let tensors = written["tensors"].as_object().unwrap();
    assert!(!tensors.is_empty());
    assert!(tensors.values().all(|b| b.as_u64() == Some(5)), "{written}");
    let planned = |at: &str| -> serde_json::Value {
        let out = loadpart(
            &dir,
            &[
                &common[..],
                &[
                    "--input-seed",
                    "99",
                    "--planned-at",
                    at,
                    "--codec-floors",
                    f,
                    "--min-agreement",
                    "0",
                    "--json",
                ],
            ]
            .concat(),
        );
        serde_json::from_str(&out).unwrap()
    };
    // A slow link: every sent tensor goes at its 5-bit floor, compressed.
    let slow = planned("5mbit");
    let per = slow["per_tensor"].as_object().unwrap();
    assert!(!per.is_empty());
    assert!(
        per.values()
            .all(|o| o["bits"] == 5 && o["compression"]["zstd"].is_object()),
        "{per:?}"
    );
    // A fast link: plain codes, no compression time.
    let fast = planned("1gbit");
    let per = fast["per_tensor"].as_object().unwrap();
    assert!(per.values().all(|o| o["compression"] == "none"), "{per:?}");
    let ratio = |v: &serde_json::Value| v["cuts"][0]["ratio"].as_f64().unwrap();
    assert!(
        ratio(&slow) > 1.5 * ratio(&fast),
        "{} {}",
        ratio(&slow),
        ratio(&fast)
    );
}
