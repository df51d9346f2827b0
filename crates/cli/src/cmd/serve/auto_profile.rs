//! `--auto-profile` (on by default): a server profile for each model that has none, measured
//! before the server starts and cached on disk.
//!
//! The slowdown factor (measured over profiled batch time), profile-based admission and
//! GetServerProfile need a profile of this server, and it must be measured on an idle machine:
//! measured while serving, it would time the load it is meant to reveal. So it runs here, before
//! `Server::start` binds the port. Profiles are cached ([`loadpart_exec::ProfileCache`]), one
//! file per model identity, engine, host, intra-op thread count, batch sizes and effort, so later
//! starts reuse them at once; a profile that cannot be cached (no space left) is served all the
//! same.
//!
//! Without a server profile a planning device has nothing to predict the server's side with and
//! runs locally. The measurement is the quick one by default (about a minute for ResNet-50 at
//! batch sizes 1-8 on two cores); `--profile-effort fine` takes several times longer.

use std::sync::Arc;

use anyhow::Result;
use loadpart_bench::profiles;
use loadpart_engine::{EngineKind, Spinning, engine_or_tract};
use loadpart_exec::{ProfileCache, ProfileEffort, ProfileKey};
use loadpart_graph::{Prepared, load_model, randomize_for_checks};
use loadpart_plan::ProfileRole;
use loadpart_server::{ModelSpec, ProfileSource};

/// What the server's profiles are measured for.
#[derive(Debug, Clone)]
pub struct ServerKey {
    pub engine: EngineKind,
    /// Intra-op threads per run (0 = engine default).
    pub threads: usize,
    /// Batch sizes to profile, increasing.
    pub batch_sizes: Vec<usize>,
    /// Whether the executors' engine threads spin, as the profile's runs will.
    pub spinning: Spinning,
    /// Quick (the default) or fine.
    pub effort: ProfileEffort,
}

/// Gives `spec` a profile if it has none: the cached one for its identity and `key`, or one
/// measured now (and cached in `cache`). Blocking; about a minute for a large model.
pub fn ensure(spec: &mut ModelSpec, key: &ServerKey, cache: &ProfileCache) -> Result<()> {
    if spec.profile.is_some() {
        return Ok(());
    }
    let model = load_model(&spec.source)?;
    let model = match spec.randomize_seed {
        Some(seed) => randomize_for_checks(&model, seed)?,
        None => model,
    };
    let prepared = Prepared::new(&model)?;
    let engine = engine_or_tract(key.engine)?;
    let started = std::time::Instant::now();
    let (profile, path, measured) = profiles::cached_profile_in(
        cache,
        engine.as_ref(),
        &prepared,
        &ProfileKey {
            role: ProfileRole::Server,
            batch_sizes: key.batch_sizes.clone(),
            threads: key.threads,
            spinning: key.spinning,
            effort: key.effort,
            ..ProfileKey::device()
        },
    )?;
    if measured {
        eprintln!(
            "profile of {}: measured in {:.0?} ({})",
            spec.source,
            started.elapsed(),
            path.display()
        );
    } else {
        tracing::info!(model = %spec.source, path = %path.display(), "reusing cached profile");
        eprintln!("profile of {}: cached {}", spec.source, path.display());
    }
    spec.profile = Some(ProfileSource::Measured(Arc::new(profile)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_once_then_reused_per_identity() {
        let dir = std::env::temp_dir().join(format!("loadpart-profiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = ProfileCache::new(&dir, "test host");
        let key = ServerKey {
            engine: EngineKind::Tract,
            threads: 1,
            batch_sizes: vec![1, 2],
            spinning: Spinning::Off,
            effort: ProfileEffort::Quick,
        };
        let files = || -> Vec<(String, std::time::SystemTime)> {
            let mut v: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, e.metadata().unwrap().modified().unwrap())
                })
                .collect();
            v.sort();
            v
        };
        let spec = |seed| ModelSpec {
            randomize_seed: Some(seed),
            ..ModelSpec::new("zoo:chain")
        };
        let hash = |s: &ModelSpec| match &s.profile {
            Some(ProfileSource::Measured(p)) => p.model_hash.clone(),
            other => panic!("{other:?}"),
        };
        let mut first = spec(3);
        ensure(&mut first, &key, &cache).unwrap();
        let written = files();
        assert_eq!(written.len(), 1);
        assert!(
            written[0].0.starts_with("server-")
                && written[0].0.ends_with("-tract-test_host-t1-b1_2-c2.json"),
            "{written:?}"
        );
        // A second start finds it and measures nothing: the file is untouched.
        let mut again = spec(3);
        ensure(&mut again, &key, &cache).unwrap();
        assert_eq!(hash(&again), hash(&first));
        assert_eq!(files(), written);
        // Other weights are another identity: another file.
        let mut other = spec(4);
        ensure(&mut other, &key, &cache).unwrap();
        assert_ne!(hash(&other), hash(&first));
        assert_eq!(files().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
