//! [`ProfileCache`]: profiles measured once and kept on disk, keyed by what they depend on: the
//! model's identity, the engine, the host, the thread count, whether idle workers spin, the
//! role, the batch sizes and the effort.
//!
//! A device measures its profile on first use and a server before it turns ready, never while
//! serving, which would skew the slowdown factor. A cached file that cannot be used (truncated,
//! corrupt, another model's) is reported and measured again; a profile that cannot be written
//! (no space left, a read-only directory) is still returned, with the reason, so that the caller
//! serves with it and says why the next start will measure again.

use std::path::{Path, PathBuf};

use loadpart_engine::{Engine, LoadOptions, Spinning};
use loadpart_graph::Prepared;
use loadpart_plan::{ModelProfile, ProfileRole};

use crate::{CodecFloors, ExecError, ProfileEffort, ProfileOptions, profile_model};

/// Revision of what the profile's codec costs measure, in cache file names: a profile measured
/// before a change of the default encoding (2: feature maps delta coded) prices bytes that
/// are no longer sent, so it is measured again.
const CODEC_REVISION: u32 = 2;

/// What a profile is measured for.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileKey {
    /// Device (batch 1, heads) or server (tails at its batch sizes).
    pub role: ProfileRole,
    /// Batch sizes, increasing.
    pub batch_sizes: Vec<usize>,
    /// Threads per run (0 = the engine's default).
    pub threads: usize,
    /// Whether the engine's idle workers spin, as in the runs the profile is for.
    pub spinning: Spinning,
    /// Quick (for a first start) or fine.
    pub effort: ProfileEffort,
    /// Code widths the planner may send with (see [`ProfileOptions::codec_bits`]).
    pub codec_bits: Vec<u8>,
    /// Per-tensor code-width floors (see [`ProfileOptions::codec_floors`]).
    pub codec_floors: Option<CodecFloors>,
}

impl ProfileKey {
    /// A device's key: batch 1, one thread, sleeping workers, quick.
    pub fn device() -> Self {
        Self {
            role: ProfileRole::Device,
            batch_sizes: vec![1],
            threads: 1,
            spinning: Spinning::Off,
            effort: ProfileEffort::Quick,
            codec_bits: vec![8],
            codec_floors: None,
        }
    }
}

/// Batch sizes a server profile needs for batches of up to `max_batch` rows: powers of two
/// below it, and it.
pub fn server_batch_sizes(max_batch: usize) -> Vec<usize> {
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |b| b.checked_mul(2))
        .take_while(|&b| b < max_batch)
        .collect();
    v.push(max_batch.max(1));
    v
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A usable profile, from this file.
    Hit(Box<ModelProfile>, PathBuf),
    /// No file yet.
    Miss(PathBuf),
    /// A file that cannot be used, and why: it will be measured again and replaced.
    Unusable { path: PathBuf, reason: String },
}

/// A profile measured now.
#[derive(Debug)]
pub struct Measured {
    pub profile: ModelProfile,
    /// The cache file.
    pub path: PathBuf,
    /// Why the profile could not be written there, if it could not.
    pub not_stored: Option<String>,
}

/// A directory of cached profiles measured on one host.
#[derive(Debug, Clone)]
pub struct ProfileCache {
    dir: PathBuf,
    host: String,
}

impl ProfileCache {
    /// Profiles in `dir`, recorded as measured on `host`.
    pub fn new(dir: impl Into<PathBuf>, host: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            host: host.into(),
        }
    }

    /// The usual place ([`default_dir`]) and this machine's name ([`host_name`]).
    pub fn default_location() -> Self {
        Self::new(default_dir(), host_name())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The host profiles are recorded as measured on.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The cache file for `key` of `prepared` on `engine`.
    pub fn path(&self, engine: &dyn Engine, prepared: &Prepared, key: &ProfileKey) -> PathBuf {
        let id = prepared.identity();
        let batches: Vec<String> = key.batch_sizes.iter().map(usize::to_string).collect();
        let host: String = self
            .host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let spin = match key.spinning {
            Spinning::On => "-spin",
            Spinning::Off => "",
        };
        let fine = match key.effort {
            ProfileEffort::Quick => "",
            ProfileEffort::Fine => "-fine",
        };
        let mut widths: Vec<u8> = key.codec_bits.iter().copied().filter(|&b| b < 8).collect();
        widths.sort_unstable();
        widths.dedup();
        let mut bits: String = widths.iter().map(|b| format!("-q{b}")).collect();
        if let Some(f) = &key.codec_floors {
            bits.push_str(&format!("-f{}", f.tag()));
        }
        self.dir.join(format!(
            "{}-{}-{}-{host}-t{}{spin}-b{}{fine}{bits}-c{CODEC_REVISION}.json",
            key.role.as_str(),
            &id[..id.len().min(16)],
            engine.kind(),
            key.threads,
            batches.join("_")
        ))
    }

    /// The cached profile for `key`, if there is a usable one.
    pub fn lookup(&self, engine: &dyn Engine, prepared: &Prepared, key: &ProfileKey) -> Lookup {
        let path = self.path(engine, prepared, key);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss(path),
            Err(e) => {
                return Lookup::Unusable {
                    path,
                    reason: format!("cannot be read: {e}"),
                };
            }
        };
        let reason = match serde_json::from_str::<ModelProfile>(&text) {
            Ok(p) if p.model_hash != prepared.identity() => "is for another model".to_string(),
            Ok(p) if p.batch_sizes != key.batch_sizes || p.nodes.is_empty() => {
                "does not hold the batch sizes and stages it is named for".to_string()
            }
            Ok(p) => return Lookup::Hit(Box::new(p), path),
            Err(e) => format!("is not a profile (truncated or corrupt?): {e}"),
        };
        Lookup::Unusable { path, reason }
    }

    /// Measures the profile for `key` now and writes it to its cache file (whole, then
    /// renamed, so that a concurrent reader never sees half a file). `progress(step, done,
    /// total)` follows the measurement. A failed write is not an error: see [`Measured`].
    pub fn measure(
        &self,
        engine: &dyn Engine,
        prepared: &Prepared,
        key: &ProfileKey,
        progress: &mut dyn FnMut(&str, usize, usize),
    ) -> Result<Measured, ExecError> {
        let opts = ProfileOptions {
            batch_sizes: key.batch_sizes.clone(),
            role: key.role,
            codec_bits: key.codec_bits.clone(),
            codec_floors: key.codec_floors.clone(),
            load: LoadOptions {
                intra_threads: key.threads,
                spinning: key.spinning,
                ..LoadOptions::default()
            },
            ..ProfileOptions::default()
        }
        .with_effort(key.effort);
        let profile = profile_model(engine, prepared, &self.host, &opts, progress)?;
        let path = self.path(engine, prepared, key);
        let not_stored = self.store(&path, &profile).err();
        Ok(Measured {
            profile,
            path,
            not_stored,
        })
    }

    fn store(&self, path: &Path, profile: &ModelProfile) -> Result<(), String> {
        let text = serde_json::to_string(profile).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::write(&tmp, text)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))
            .and_then(|()| {
                std::fs::rename(&tmp, path).map_err(|e| format!("writing {}: {e}", path.display()))
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// The usual cache directory: `$LOADPART_HOME/profiles`, else `.loadpart/profiles` in the
/// nearest directory above the current one that has a `.loadpart` (where `scripts/setup.sh`
/// installs), else `./.loadpart/profiles`.
pub fn default_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("LOADPART_HOME") {
        return PathBuf::from(home).join("profiles");
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .map(|d| d.join(".loadpart"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| cwd.join(".loadpart"))
        .join("profiles")
}

/// This machine's name, as profiles record it.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadpart_engine::EngineKind;

    fn setup(tag: &str) -> (ProfileCache, Box<dyn Engine>, Prepared, ProfileKey) {
        let dir = std::env::temp_dir().join(format!(
            "loadpart-profile-cache-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = loadpart_engine::engine(EngineKind::Tract).unwrap();
        let prepared = Prepared::new(&loadpart_graph::zoo::generate("chain").unwrap()).unwrap();
        (
            ProfileCache::new(dir, "test host"),
            engine,
            prepared,
            ProfileKey::device(),
        )
    }

    #[test]
    fn server_batch_sizes_cover_the_max() {
        assert_eq!(server_batch_sizes(1), vec![1]);
        assert_eq!(server_batch_sizes(8), vec![1, 2, 4, 8]);
        assert_eq!(server_batch_sizes(6), vec![1, 2, 4, 6]);
    }

    #[test]
    fn measured_once_then_found() {
        let (cache, engine, prepared, key) = setup("hit");
        let e = engine.as_ref();
        assert!(matches!(cache.lookup(e, &prepared, &key), Lookup::Miss(_)));
        let m = cache
            .measure(e, &prepared, &key, &mut |_, _, _| {})
            .unwrap();
        assert_eq!(m.not_stored, None);
        assert!(m.path.starts_with(cache.dir()));
        assert!(
            m.path.to_string_lossy().contains("device-")
                && m.path
                    .to_string_lossy()
                    .contains("-tract-test_host-t1-b1-c2.json"),
            "{}",
            m.path.display()
        );
        match cache.lookup(e, &prepared, &key) {
            Lookup::Hit(p, path) => {
                assert_eq!(path, m.path);
                assert_eq!(p.model_hash, prepared.identity());
            }
            other => panic!("{other:?}"),
        }
        // Another effort is another file.
        let fine = ProfileKey {
            effort: ProfileEffort::Fine,
            ..key
        };
        assert!(matches!(cache.lookup(e, &prepared, &fine), Lookup::Miss(_)));
        let _ = std::fs::remove_dir_all(cache.dir());
    }

    #[test]
    fn a_truncated_or_corrupt_file_is_named_and_measured_again() {
        let (cache, engine, prepared, key) = setup("corrupt");
        let e = engine.as_ref();
        let m = cache
            .measure(e, &prepared, &key, &mut |_, _, _| {})
            .unwrap();
        let text = std::fs::read_to_string(&m.path).unwrap();
        for bad in [&text[..text.len() / 2], "", "{\"model_hash\": 3}"] {
            std::fs::write(&m.path, bad).unwrap();
            match cache.lookup(e, &prepared, &key) {
                Lookup::Unusable { path, reason } => {
                    assert_eq!(path, m.path);
                    assert!(reason.contains("not a profile"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
        let again = cache
            .measure(e, &prepared, &key, &mut |_, _, _| {})
            .unwrap();
        assert_eq!(again.not_stored, None);
        assert!(matches!(cache.lookup(e, &prepared, &key), Lookup::Hit(..)));
        let _ = std::fs::remove_dir_all(cache.dir());
    }

    #[test]
    fn a_profile_that_cannot_be_written_is_still_returned() {
        let (cache, engine, prepared, key) = setup("unwritable");
        // The cache directory's place is taken by a file: nothing can be written under it.
        std::fs::create_dir_all(cache.dir().parent().unwrap()).unwrap();
        std::fs::write(cache.dir(), b"not a directory").unwrap();
        let m = cache
            .measure(engine.as_ref(), &prepared, &key, &mut |_, _, _| {})
            .unwrap();
        let why = m.not_stored.expect("the write failed");
        assert!(why.contains("creating"), "{why}");
        assert_eq!(m.profile.model_hash, prepared.identity());
        let _ = std::fs::remove_file(cache.dir());
    }

    #[cfg(unix)]
    #[test]
    fn no_space_left_is_reported_not_fatal() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let (cache, engine, prepared, key) = setup("full");
        let e = engine.as_ref();
        // The file the profile is first written to leads to /dev/full: every write fails with
        // ENOSPC, as on a full disk.
        let path = cache.path(e, &prepared, &key);
        std::fs::create_dir_all(cache.dir()).unwrap();
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::os::unix::fs::symlink(full, &tmp).unwrap();
        let m = cache
            .measure(e, &prepared, &key, &mut |_, _, _| {})
            .unwrap();
        let why = m.not_stored.expect("the write failed");
        assert!(why.to_lowercase().contains("no space"), "{why}");
        assert!(
            !tmp.exists() && !path.exists(),
            "nothing half-written is left"
        );
        assert!(matches!(cache.lookup(e, &prepared, &key), Lookup::Miss(_)));
        let _ = std::fs::remove_dir_all(cache.dir());
    }
}
