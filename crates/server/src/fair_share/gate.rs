//! [`Gate`]: the [`FairShare`] on the request path, behind one short-held mutex, with the
//! server's capacity refreshed from the [`Monitor`]'s load window; a [`Slot`] holds a device's
//! queued place until its request is answered or its caller leaves.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DeviceShare, FairShare, FairShareConfig, ShareRefusal};
use crate::monitor::Monitor;

/// How often the capacity is re-read from the load window (a scan of its batches).
const CAPACITY_REFRESH: Duration = Duration::from_millis(250);

#[derive(Debug)]
struct Inner {
    share: FairShare,
    refreshed: Option<Instant>,
}

/// Admission by fair share, shared by the request handlers.
#[derive(Debug)]
pub struct Gate {
    inner: Mutex<Inner>,
    monitor: Arc<Monitor>,
}

/// A request's place in its device's queued count, given back on drop.
#[derive(Debug)]
pub struct Slot {
    gate: Arc<Gate>,
    key: Arc<str>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.inner.lock().share.finish(&self.key);
    }
}

impl Gate {
    /// Fair share of `queue_budget` queued requests and of `monitor`'s measured capacity.
    pub fn new(config: FairShareConfig, queue_budget: usize, monitor: Arc<Monitor>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                share: FairShare::new(config, queue_budget),
                refreshed: None,
            }),
            monitor,
        }
    }

    /// Admits a request of `device` now, or says why not.
    pub fn admit(self: &Arc<Self>, device: &str) -> Result<Slot, ShareRefusal> {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        if inner
            .refreshed
            .is_none_or(|at| now.saturating_duration_since(at) >= CAPACITY_REFRESH)
        {
            inner.refreshed = Some(now);
            inner.share.set_capacity(self.monitor.capacity_per_s(now));
        }
        let key = inner.share.admit(device, now)?;
        Ok(Slot {
            gate: self.clone(),
            key,
        })
    }

    /// `device`'s standing now (for its load reports).
    pub fn share(&self, device: &str) -> DeviceShare {
        self.inner.lock().share.share(device, Instant::now())
    }

    /// Whether fair share limits devices at all.
    pub fn enabled(&self) -> bool {
        self.inner.lock().share.config().enabled
    }
}
