//! Where the ONNX Runtime shared library is looked for.
//!
//! The library is not linked at build time (`ort`'s `load-dynamic`): it comes from the pinned
//! PyPI wheel that `scripts/setup.sh` unpacks, so a fresh machine needs no system install and a
//! machine without it can still run tract. `$ORT_DYLIB_PATH` (a file), when set, is the only
//! place looked: a user who names a library means that one, and a wrong path must say so rather
//! than quietly load another build. Otherwise the search order is, first hit wins:
//! 1. `$LOADPART_HOME/lib/libonnxruntime.so`, where setup puts it when `LOADPART_HOME` is set;
//! 2. `<workspace>/.loadpart/lib/libonnxruntime.so`, setup's default, fixed at compile time;
//! 3. `libonnxruntime.so` next to the running executable, for a binary shipped with its library.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// File name of the library on this platform (`libonnxruntime.so` on Linux).
pub fn library_file_name() -> String {
    format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The workspace root this crate was built in (compile-time path).
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// Candidate paths in search order, from explicit values so it can be tested without touching
/// the process environment. Empty variables count as unset.
pub fn candidates(
    ort_dylib_path: Option<OsString>,
    loadpart_home: Option<OsString>,
    exe: Option<PathBuf>,
) -> Vec<PathBuf> {
    let file = library_file_name();
    let set = |v: Option<OsString>| v.filter(|s| !s.is_empty()).map(PathBuf::from);
    if let Some(explicit) = set(ort_dylib_path) {
        return vec![explicit];
    }
    let mut out = Vec::new();
    out.extend(set(loadpart_home).map(|home| home.join("lib").join(&file)));
    out.push(workspace_root().join(".loadpart").join("lib").join(&file));
    out.extend(exe.and_then(|e| e.parent().map(|dir| dir.join(&file))));
    out
}

/// Candidates from this process's environment.
pub fn default_candidates() -> Vec<PathBuf> {
    candidates(
        std::env::var_os("ORT_DYLIB_PATH"),
        std::env::var_os("LOADPART_HOME"),
        std::env::current_exe().ok(),
    )
}

/// The first candidate that is an existing file, or every path tried.
pub fn find_library(candidates: &[PathBuf]) -> Result<PathBuf, Vec<PathBuf>> {
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| candidates.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_home_then_workspace_then_exe() {
        let c = candidates(
            None,
            Some("/home/lp".into()),
            Some("/bin/dir/loadpart".into()),
        );
        assert_eq!(c.len(), 3);
        assert_eq!(c[0], PathBuf::from("/home/lp/lib/libonnxruntime.so"));
        assert!(c[1].ends_with(".loadpart/lib/libonnxruntime.so"), "{c:?}");
        assert_eq!(c[2], PathBuf::from("/bin/dir/libonnxruntime.so"));
    }

    #[test]
    fn an_explicit_library_is_the_only_one_looked_for() {
        let c = candidates(
            Some("/x/libort.so".into()),
            Some("/home/lp".into()),
            Some("/bin/dir/loadpart".into()),
        );
        assert_eq!(c, vec![PathBuf::from("/x/libort.so")]);
        assert_eq!(find_library(&c), Err(c.clone()), "a wrong path is an error");
    }

    #[test]
    fn empty_variables_are_unset() {
        let c = candidates(Some("".into()), Some("".into()), None);
        assert_eq!(c.len(), 1, "{c:?}");
    }

    #[test]
    fn missing_everywhere_lists_every_path() {
        let c = vec![PathBuf::from("/nope/a.so"), PathBuf::from("/nope/b.so")];
        assert_eq!(find_library(&c), Err(c.clone()));
    }
}
