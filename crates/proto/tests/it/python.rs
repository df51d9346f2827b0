//! Finds the Python interpreter with `tritonclient[grpc]` that the tests compare against.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The interpreter: `$LOADPART_PYTHON`, else `$LOADPART_HOME/venv/bin/python`, else
/// `<workspace>/.loadpart/venv/bin/python` (where scripts/setup.sh puts it).
fn interpreter() -> PathBuf {
    if let Some(p) = std::env::var_os("LOADPART_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("LOADPART_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".loadpart"));
    home.join("venv").join("bin").join("python")
}

/// The workspace root: two levels above this crate's manifest.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// Ok(interpreter) when it runs and imports `tritonclient.grpc`, else why not.
fn probe() -> &'static Result<PathBuf, String> {
    static PROBE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROBE.get_or_init(|| {
        let py = interpreter();
        match Command::new(&py)
            .args(["-c", "import tritonclient.grpc"])
            .output()
        {
            Err(e) => Err(format!("cannot run {}: {e}", py.display())),
            Ok(o) if !o.status.success() => Err(format!(
                "{} cannot import tritonclient.grpc: {}",
                py.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Ok(_) => Ok(py),
        }
    })
}

/// The interpreter for test `test`. When it is missing or lacks `tritonclient[grpc]`: panics
/// saying to run scripts/setup.sh, unless `LOADPART_SKIP_PYTHON_TESTS=1`, in which case it prints
/// a "skipped" line (past the test harness's output capture) and returns None.
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    match probe() {
        Ok(py) => Some(py.clone()),
        Err(why) if std::env::var("LOADPART_SKIP_PYTHON_TESTS").as_deref() == Ok("1") => {
            // Straight to stderr: print!/eprint! output of passing tests is captured and hidden.
            let _ = writeln!(
                std::io::stderr().lock(),
                "skipped: {test}: {why} (LOADPART_SKIP_PYTHON_TESTS=1)"
            );
            None
        }
        Err(why) => panic!(
            "{test} needs Python with tritonclient[grpc]: {why}. Run scripts/setup.sh (it creates \
             .loadpart/venv), set LOADPART_PYTHON to such an interpreter, or set \
             LOADPART_SKIP_PYTHON_TESTS=1 to skip"
        ),
    }
}
