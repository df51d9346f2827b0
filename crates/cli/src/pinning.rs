//! Pinning threads to cores, so that emulated devices and the server they share a machine with
//! do not compete for the same core (on 2 cores, device heads and server tails would otherwise
//! slow each other and the measured "server load" would partly be the devices' own).
//!
//! Threads inherit the affinity of the thread that creates them, so pinning a thread before it
//! builds a runtime or starts a server pins everything those create.

/// Pins the calling thread to `core` (an index into the cores this process may use). Returns
/// false, after a warning, where pinning is not possible (one core, or the OS refuses).
pub fn pin_current(core: usize) -> bool {
    let Some(ids) = core_affinity::get_core_ids() else {
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

/// Cores this process may use.
pub fn cores() -> usize {
    core_affinity::get_core_ids().map_or(1, |v| v.len())
}
