//! The part cache: bounded in bytes, least recently used out first, one load per part.

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use loadpart_engine::EngineKind;
use loadpart_runtime::{PartCache, PartKey, PartRunner, PartSpec};

use crate::runtime;

#[test]
fn bounded_in_bytes_with_lru_eviction() {
    let rt = runtime(EngineKind::Tract, "chain", usize::MAX);
    let dag = rt.prepared().stages.dag();
    let bounds = rt.prepared().stages.cut_space(100).boundaries().to_vec();
    let ids: Vec<_> = bounds[1..bounds.len() - 1]
        .iter()
        .map(|b| b.cut.id(dag))
        .collect();
    assert!(ids.len() >= 3);
    let sizes: Vec<usize> = ids.iter().map(|id| rt.tail(id).unwrap().bytes()).collect();
    // A budget that holds the first two tails but not the third as well.
    let cache = PartCache::new(sizes[0] + sizes[1]);
    let load = |id: &loadpart_cuts::CutId| {
        let key = PartKey {
            model: rt.identity().to_string(),
            spec: PartSpec::Tail(id.clone()),
        };
        let part = cache
            .get_or_load(&key, || {
                PartRunner::load(
                    &**rt.engine(),
                    rt.prepared(),
                    key.spec.clone(),
                    &Default::default(),
                )
            })
            .unwrap();
        (key, part)
    };
    let (k0, _) = load(&ids[0]);
    let (k1, _) = load(&ids[1]);
    assert!(cache.contains(&k0) && cache.contains(&k1));
    load(&ids[0]); // k0 is now the most recently used
    let (k2, held) = load(&ids[2]);
    let s = cache.stats();
    assert!(s.bytes <= s.budget, "{s:?}");
    assert!(cache.contains(&k0) && cache.contains(&k2), "{s:?}");
    assert!(
        !cache.contains(&k1),
        "the least recently used part goes first"
    );
    assert_eq!((s.hits, s.misses, s.evictions), (1, 3, 1));
    // An evicted or unkept part still works for whoever holds it.
    assert!(held.bytes() > 0);
}

#[test]
fn concurrent_requests_for_one_cold_part_load_it_once() {
    let rt = runtime(EngineKind::Tract, "inception", usize::MAX);
    let cache = PartCache::new(usize::MAX);
    let key = PartKey {
        model: rt.identity().to_string(),
        spec: PartSpec::Full,
    };
    let loads = AtomicUsize::new(0);
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                barrier.wait();
                cache
                    .get_or_load(&key, || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                        PartRunner::load(
                            &**rt.engine(),
                            rt.prepared(),
                            PartSpec::Full,
                            &Default::default(),
                        )
                    })
                    .unwrap();
            });
        }
    });
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().entries, 1);
}

#[test]
fn a_failed_load_is_not_cached_and_warm_up_checks_sizes() {
    let rt = runtime(EngineKind::Tract, "chain", usize::MAX);
    let bogus = loadpart_cuts::CutId::from_names(["nope"]);
    assert!(rt.tail(&bogus).is_err());
    assert_eq!(rt.cache().stats().entries, 0);
    let full = rt.full().unwrap();
    full.warm_up(&[1, 3]).unwrap();
    assert!(full.warm_up(&[0]).is_err());
}
