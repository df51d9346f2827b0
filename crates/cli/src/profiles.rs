//! Profiles measured once and cached on disk, keyed by what they depend on: the model's
//! identity, the engine, the host, the thread count, the role and the batch sizes.
//!
//! A device measures its profile on first use (`loadpart infer`, `loadpart demo`) and a server
//! before it turns ready (`loadpart serve --auto-profile`), never while serving, which would skew
//! the slowdown factor. The cache lives in `$LOADPART_HOME/profiles`, else in the nearest
//! `.loadpart/profiles` above the current directory (where `scripts/setup.sh` installs), else in
//! `./.loadpart/profiles`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use loadpart_engine::{Engine, EngineKind, LoadOptions, Spinning};
use loadpart_exec::{ProfileEffort, ProfileOptions, profile_model};
use loadpart_graph::Prepared;
use loadpart_plan::{ModelProfile, ProfileRole};

use crate::progress::Progress;

/// What a profile is measured for.
#[derive(Debug, Clone)]
pub struct ProfileKey {
    /// Device (batch 1, heads) or server (tails at its batch sizes).
    pub role: ProfileRole,
    /// Batch sizes, increasing.
    pub batch_sizes: Vec<usize>,
    /// Threads per run (0 = the engine's default).
    pub threads: usize,
    /// Whether the engine's idle workers spin, as in the runs the profile is for.
    pub spinning: Spinning,
    /// Quick (the default, for a first start) or fine.
    pub effort: ProfileEffort,
}

/// The directory of cached profiles.
pub fn cache_dir() -> PathBuf {
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
pub fn host() -> String {
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

/// The cache file for `key` of the model `id` on `engine`, measured on `host`.
pub fn cache_path(
    dir: &Path,
    host: &str,
    engine: EngineKind,
    id: &str,
    key: &ProfileKey,
) -> PathBuf {
    let batches: Vec<String> = key.batch_sizes.iter().map(usize::to_string).collect();
    let host: String = host
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
    dir.join(format!(
        "{}-{}-{engine}-{host}-t{}{spin}-b{}{fine}.json",
        key.role.as_str(),
        &id[..id.len().min(16)],
        key.threads,
        batches.join("_")
    ))
}

/// The profile for `key`, from the cache or measured now (with a progress bar on a terminal)
/// and cached. Returns the profile, its file, and whether it was measured now.
pub fn cached_profile(
    engine: &dyn Engine,
    prepared: &Prepared,
    key: &ProfileKey,
) -> Result<(ModelProfile, PathBuf, bool)> {
    cached_profile_in(&cache_dir(), &host(), engine, prepared, key)
}

/// [`cached_profile`] with the cache in `dir` and the profile recorded as measured on `host`.
pub fn cached_profile_in(
    dir: &Path,
    host: &str,
    engine: &dyn Engine,
    prepared: &Prepared,
    key: &ProfileKey,
) -> Result<(ModelProfile, PathBuf, bool)> {
    let path = cache_path(dir, host, engine.kind(), prepared.identity(), key);
    if let Ok(text) = std::fs::read_to_string(&path) {
        match serde_json::from_str::<ModelProfile>(&text) {
            Ok(p) if p.model_hash == prepared.identity() => return Ok((p, path, false)),
            Ok(_) => tracing::warn!("{} is for another model; measuring again", path.display()),
            Err(e) => tracing::warn!("{} is unreadable ({e}); measuring again", path.display()),
        }
    }
    let opts = ProfileOptions {
        batch_sizes: key.batch_sizes.clone(),
        role: key.role,
        load: LoadOptions {
            intra_threads: key.threads,
            spinning: key.spinning,
            ..LoadOptions::default()
        },
        ..ProfileOptions::default()
    }
    .with_effort(key.effort);
    let terminal = std::io::stderr().is_terminal();
    eprintln!(
        "measuring a {} {} profile of the model ({} engine, batch sizes {:?}); only the first \
         use pays, it is cached in {}",
        key.effort,
        key.role.as_str(),
        engine.kind(),
        key.batch_sizes,
        path.display()
    );
    let bar = Progress::new(terminal);
    // Off a terminal (a service's log), one line per step instead of a bar.
    let mut step_logged = String::new();
    let started = std::time::Instant::now();
    let profile = profile_model(engine, prepared, host, &opts, &mut |s, d, t| {
        bar.update(&format!("{} {s}", key.role.as_str()), d, t);
        if !terminal && step_logged != s {
            step_logged = s.to_string();
            eprintln!(
                "  profile: {s} ({t} parts) at {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    })?;
    bar.finish();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Written whole then renamed, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_string(&profile)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok((profile, path, true))
}

/// This device's profile of `prepared`, as a device runs it (batch 1, one thread, workers not
/// spinning), from the cache or measured now, off the async threads.
pub async fn device_profile(
    engine: std::sync::Arc<dyn Engine>,
    prepared: std::sync::Arc<Prepared>,
) -> Result<ModelProfile> {
    let key = ProfileKey {
        role: ProfileRole::Device,
        batch_sizes: vec![1],
        threads: 1,
        spinning: Spinning::Off,
        effort: ProfileEffort::Quick,
    };
    Ok(
        tokio::task::spawn_blocking(move || cached_profile(engine.as_ref(), &prepared, &key))
            .await??
            .0,
    )
}
