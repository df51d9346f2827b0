//! A cache of loaded parts, bounded in bytes, that loads each part once even when many threads
//! ask for it at the same moment.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::{PartKey, PartRunner, RuntimeError};

type Slot = OnceLock<Result<Arc<PartRunner>, String>>;

struct Entry {
    slot: Arc<Slot>,
    last_used: u64,
    /// Counted bytes; 0 until the load finished.
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<PartKey, Entry>,
    tick: u64,
    used: usize,
    hits: u64,
    misses: u64,
    evictions: u64,
}

/// What the cache holds and has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    /// Bytes of the loaded parts held.
    pub bytes: usize,
    pub budget: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// Loaded parts by [`PartKey`], least recently used evicted first once their bytes exceed the
/// budget. A part being loaded blocks only the callers asking for that same part; a part larger
/// than the whole budget is returned but not kept. Evicted parts stay alive while a caller holds
/// them.
pub struct PartCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PartCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl PartCache {
    /// A cache holding at most `budget_bytes` of loaded parts.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget: budget_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The part under `key`, loading it with `load` if it is not cached. Concurrent callers for
    /// one key share one load; a failed load is not cached (the next call tries again).
    pub fn get_or_load(
        &self,
        key: &PartKey,
        load: impl FnOnce() -> Result<PartRunner, RuntimeError>,
    ) -> Result<Arc<PartRunner>, RuntimeError> {
        let slot = {
            let mut inner = self.inner.lock();
            inner.tick += 1;
            let tick = inner.tick;
            let hit = inner.entries.contains_key(key);
            if hit {
                inner.hits += 1;
            } else {
                inner.misses += 1;
            }
            let entry = inner.entries.entry(key.clone()).or_insert_with(|| Entry {
                slot: Arc::new(OnceLock::new()),
                last_used: tick,
                bytes: 0,
            });
            entry.last_used = tick;
            entry.slot.clone()
        };
        let mut loaded_here = false;
        let mut error = None;
        let outcome = slot.get_or_init(|| {
            loaded_here = true;
            load().map(Arc::new).map_err(|e| {
                let msg = e.to_string();
                error = Some(e);
                msg
            })
        });
        match outcome {
            Ok(part) => {
                if loaded_here {
                    self.account(key, &slot, part.bytes());
                }
                Ok(part.clone())
            }
            Err(reason) => {
                let mut inner = self.inner.lock();
                if inner
                    .entries
                    .get(key)
                    .is_some_and(|e| Arc::ptr_eq(&e.slot, &slot))
                {
                    inner.entries.remove(key);
                }
                Err(error.unwrap_or_else(|| RuntimeError::LoadFailed {
                    part: key.spec.to_string(),
                    reason: reason.clone(),
                }))
            }
        }
    }

    /// Counts a finished load and evicts least recently used parts over the budget.
    fn account(&self, key: &PartKey, slot: &Arc<Slot>, bytes: usize) {
        let mut inner = self.inner.lock();
        match inner.entries.get_mut(key) {
            Some(e) if Arc::ptr_eq(&e.slot, slot) => e.bytes = bytes,
            _ => return,
        }
        inner.used += bytes;
        while inner.used > self.budget {
            let victim = inner
                .entries
                .iter()
                .filter(|(k, e)| e.bytes > 0 && *k != key)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let victim = match victim {
                Some(v) => v,
                None => {
                    tracing::warn!(
                        part = %key.spec, bytes, budget = self.budget,
                        "part larger than the cache budget: served but not kept"
                    );
                    key.clone()
                }
            };
            if let Some(e) = inner.entries.remove(&victim) {
                inner.used -= e.bytes;
                inner.evictions += 1;
            }
            if victim == *key {
                break;
            }
        }
    }

    /// The part under `key` if it is loaded and held (counted as a hit); never loads, so it is
    /// cheap enough for an async task to call.
    pub fn get(&self, key: &PartKey) -> Option<Arc<PartRunner>> {
        let mut inner = self.inner.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(key)?;
        let part = entry.slot.get()?.as_ref().ok()?.clone();
        entry.last_used = tick;
        inner.hits += 1;
        Some(part)
    }

    /// Whether `key` is loaded and held.
    pub fn contains(&self, key: &PartKey) -> bool {
        self.inner
            .lock()
            .entries
            .get(key)
            .is_some_and(|e| e.slot.get().is_some_and(Result::is_ok))
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.lock();
        CacheStats {
            entries: inner.entries.len(),
            bytes: inner.used,
            budget: self.budget,
            hits: inner.hits,
            misses: inner.misses,
            evictions: inner.evictions,
        }
    }
}
