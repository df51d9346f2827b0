//! Profiles from the cache ([`loadpart_exec::ProfileCache`]), or measured now with progress on
//! stderr: a bar on a terminal, one line per step in a log.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use loadpart_engine::Engine;
use loadpart_exec::{Lookup, ProfileCache};
use loadpart_graph::Prepared;
use loadpart_plan::ModelProfile;

use crate::progress::Progress;

pub use loadpart_exec::ProfileKey;

/// The profile for `key`, from the usual cache or measured now and cached. Returns the profile,
/// its file, and whether it was measured now.
pub fn cached_profile(
    engine: &dyn Engine,
    prepared: &Prepared,
    key: &ProfileKey,
) -> Result<(ModelProfile, PathBuf, bool)> {
    cached_profile_in(&ProfileCache::default_location(), engine, prepared, key)
}

/// [`cached_profile`] in `cache`. A cached file that cannot be used is named and measured
/// again; a profile that cannot be written is used all the same, with a warning.
pub fn cached_profile_in(
    cache: &ProfileCache,
    engine: &dyn Engine,
    prepared: &Prepared,
    key: &ProfileKey,
) -> Result<(ModelProfile, PathBuf, bool)> {
    match cache.lookup(engine, prepared, key) {
        Lookup::Hit(profile, path) => return Ok((*profile, path, false)),
        Lookup::Miss(_) => {}
        Lookup::Unusable { path, reason } => {
            eprintln!(
                "warning: the cached profile {} {reason}; measuring it again",
                path.display()
            );
        }
    }
    let terminal = std::io::stderr().is_terminal();
    eprintln!(
        "measuring a {} {} profile of the model ({} engine, batch sizes {:?}); only the first \
         use pays, it is cached in {}",
        key.effort,
        key.role.as_str(),
        engine.kind(),
        key.batch_sizes,
        cache.dir().display()
    );
    let bar = Progress::new(terminal);
    // Off a terminal (a service's log), one line per step instead of a bar.
    let mut step_logged = String::new();
    let started = std::time::Instant::now();
    let measured = cache.measure(engine, prepared, key, &mut |s, d, t| {
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
    if let Some(why) = &measured.not_stored {
        eprintln!(
            "warning: the profile could not be cached ({why}); using it now, and the next start \
             measures it again"
        );
    }
    Ok((measured.profile, measured.path, true))
}

/// This device's profile of `prepared`, as a device runs it (batch 1, one thread, workers not
/// spinning), from the cache or measured now, off the async threads.
pub async fn device_profile(
    engine: std::sync::Arc<dyn Engine>,
    prepared: std::sync::Arc<Prepared>,
) -> Result<ModelProfile> {
    Ok(tokio::task::spawn_blocking(move || {
        cached_profile(engine.as_ref(), &prepared, &ProfileKey::device())
    })
    .await??
    .0)
}
