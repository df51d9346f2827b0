//! Pinning threads to cores, so that emulated devices and the server they share a machine with
//! do not compete for the same core (on 2 cores, device heads and server tails would otherwise
//! slow each other and the measured "server load" would partly be the devices' own).
//!
//! Threads inherit the affinity of the thread that creates them, so pinning a thread before it
//! builds a runtime or starts a server pins everything those create.
//!
//! The cores are listed once, before any thread is pinned ([`init`], first thing in `main`):
//! the OS lists only the cores the *calling thread* may use, so a server thread started by a
//! thread already pinned to core 1 saw one core, took it for core 0, and ran beside the devices
//! it was meant to be apart from (seen in `bench run` and `demo`: ResNet-50 tails took 230 ms
//! instead of 76).

use std::sync::OnceLock;

use core_affinity::CoreId;

static CORES: OnceLock<Option<Vec<CoreId>>> = OnceLock::new();

/// Lists the cores this process may use, once. Call it before pinning any thread; later calls
/// (and [`pin_current`] or [`cores`] without it) keep the first list.
pub fn init() {
    CORES.get_or_init(core_affinity::get_core_ids);
}

fn all() -> Option<&'static [CoreId]> {
    CORES.get_or_init(core_affinity::get_core_ids).as_deref()
}

/// Pins the calling thread to `core` (an index into the cores this process could use at
/// start). Returns false, after a warning, where pinning is not possible (one core, or the OS
/// refuses).
pub fn pin_current(core: usize) -> bool {
    let Some(ids) = all() else {
        tracing::warn!("cannot list cores; threads are not pinned");
        return false;
    };
    let Some(&id) = ids.get(core) else {
        return false;
    };
    let ok = core_affinity::set_for_current(id);
    if !ok {
        tracing::warn!("cannot pin a thread to core {}", id.id);
    }
    ok
}

/// The OS's id of core `core` (an index as in [`pin_current`]), for `taskset -c` of a child.
pub fn core_id(core: usize) -> Option<usize> {
    all()?.get(core).map(|c| c.id)
}

/// Cores this process could use at start.
pub fn cores() -> usize {
    all().map_or(1, <[CoreId]>::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pinned_first_does_not_shrink_the_list_for_the_next() {
        init();
        let n = cores();
        if n < 2 {
            eprintln!("one core: nothing to check");
            return;
        }
        assert!(pin_current(1));
        let first = std::thread::spawn(|| {
            assert!(pin_current(0));
            core_affinity::get_core_ids().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(
            first,
            vec![all().unwrap()[0]],
            "pinned to core 0, not to core 1 again"
        );
        assert_eq!(cores(), n);
    }
}
