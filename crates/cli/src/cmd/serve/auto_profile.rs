//! `--auto-profile`: a server profile for each model that has none, measured before the server
//! starts and cached on disk.
//!
//! The slowdown factor (measured over profiled batch time) and GetServerProfile need a profile
//! of this server, and it must be measured on an idle machine: measured while serving, it would
//! time the load it is meant to reveal. So it runs here, in the CLI, before `Server::start`
//! binds the port (the `server` crate does not depend on the offline harnesses in `exec`).
//! Profiles are cached under `.loadpart/profiles/`, one file per model identity, engine, host,
//! intra-op thread count and batch sizes, so later starts reuse them at once.
//!
//! On by default: without a server profile a planning device has nothing to predict the
//! server's side with and runs locally. The measurement is the quick one (a few calibration
//! anchors, five timed runs; about a minute for ResNet-50 at batch sizes 1-8 on two cores);
//! `loadpart profile` measures a finer one to give with `--profile`. `--auto-profile=false`
//! serves without: admission then predicts from measured batch times.

use std::path::Path;

use anyhow::Result;
use loadpart_engine::{EngineKind, Spinning};
use loadpart_exec::ProfileEffort;
use loadpart_graph::{Prepared, randomize_for_checks};
use loadpart_plan::ProfileRole;
use loadpart_server::ModelSpec;

use crate::engine_pick::pick;
use crate::profiles;
pub use crate::profiles::host;
use crate::source::load_model;

/// What a cached profile must match to be reused.
#[derive(Debug, Clone)]
pub struct ProfileKey<'a> {
    pub engine: EngineKind,
    pub host: &'a str,
    /// Intra-op threads per run (0 = engine default).
    pub threads: usize,
    /// Batch sizes to profile, increasing.
    pub batch_sizes: &'a [usize],
    /// Whether the executors' engine threads spin, as the profile's runs will.
    pub spinning: Spinning,
    /// Quick (the default) or fine.
    pub effort: ProfileEffort,
}

/// Batch sizes a server profile needs for batches of up to `max_batch` rows: powers of two
/// below it, and it.
pub fn batch_sizes(max_batch: usize) -> Vec<usize> {
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |b| b.checked_mul(2))
        .take_while(|&b| b < max_batch)
        .collect();
    v.push(max_batch.max(1));
    v
}

/// Gives `spec` a profile if it has none: the cached one for its identity and `key`, or one
/// measured now (and cached in `dir`, see [`crate::profiles`]). Blocking; minutes for a large
/// model.
pub fn ensure(spec: &mut ModelSpec, key: &ProfileKey, dir: &Path) -> Result<()> {
    if spec.profile.is_some() {
        return Ok(());
    }
    let model = load_model(&spec.source)?;
    let model = match spec.randomize_seed {
        Some(seed) => randomize_for_checks(&model, seed)?,
        None => model,
    };
    let prepared = Prepared::new(&model)?;
    let engine = pick(key.engine)?;
    let started = std::time::Instant::now();
    let (_, path, measured) = profiles::cached_profile_in(
        dir,
        key.host,
        engine.as_ref(),
        &prepared,
        &profiles::ProfileKey {
            role: ProfileRole::Server,
            batch_sizes: key.batch_sizes.to_vec(),
            threads: key.threads,
            spinning: key.spinning,
            effort: key.effort,
        },
    )?;
    if measured {
        eprintln!(
            "profile of {}: measured in {:.0?}, wrote {}",
            spec.source,
            started.elapsed(),
            path.display()
        );
    } else {
        tracing::info!(model = %spec.source, path = %path.display(), "reusing cached profile");
        eprintln!("profile of {}: cached {}", spec.source, path.display());
    }
    spec.profile = Some(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_cover_the_max() {
        assert_eq!(batch_sizes(1), vec![1]);
        assert_eq!(batch_sizes(8), vec![1, 2, 4, 8]);
        assert_eq!(batch_sizes(6), vec![1, 2, 4, 6]);
    }

    #[test]
    fn measured_once_then_reused() {
        let dir = std::env::temp_dir().join(format!("loadpart-profiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sizes = [1, 2];
        let key = ProfileKey {
            engine: EngineKind::Tract,
            host: "test host",
            threads: 1,
            batch_sizes: &sizes,
            spinning: Spinning::Off,
            effort: ProfileEffort::Quick,
        };
        let mut spec = ModelSpec {
            randomize_seed: Some(3),
            ..ModelSpec::new("zoo:chain")
        };
        ensure(&mut spec, &key, &dir).unwrap();
        let path = spec.profile.clone().expect("a profile");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("server-") && name.ends_with("-tract-test_host-t1-b1_2.json"),
            "{name}"
        );
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();

        // A second start finds it and measures nothing.
        let mut again = ModelSpec {
            randomize_seed: Some(3),
            ..ModelSpec::new("zoo:chain")
        };
        ensure(&mut again, &key, &dir).unwrap();
        assert_eq!(again.profile.as_ref(), Some(&path));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            written
        );

        // Other weights are another identity: another file.
        let mut other = ModelSpec {
            randomize_seed: Some(4),
            ..ModelSpec::new("zoo:chain")
        };
        ensure(&mut other, &key, &dir).unwrap();
        assert_ne!(other.profile.as_ref(), Some(&path));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
