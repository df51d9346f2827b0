//! [`LinkUse`]: which calls shared the link, so that only clean ones become bandwidth samples.
//!
//! A probe or an offload measures the link only if it had the link to itself: a probe that runs
//! beside a 1 MB offload times its own bytes plus a share of the other's, and on a shaped link
//! (a `tc tbf` queue, a phone's radio) its "RTT" includes the other's queueing. Such samples
//! read the link as slower than it is. So every call that moves data takes a [`Ticket`], a
//! sample is used only when no other call overlapped it, and probes start only after the link
//! has been quiet for a while: a device that offloads back to back gets fresh samples from its
//! offloads and needs no probe, and a probe started between two of them would spoil both.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts the calls on the link now and ever.
#[derive(Debug, Default)]
pub struct LinkUse {
    busy: AtomicUsize,
    /// Offloads whose call will start shortly (their head is running on the device).
    pending: AtomicUsize,
    started: AtomicU64,
    /// When the last call ended; `None` before any.
    last_end: Mutex<Option<Instant>>,
}

/// One call's hold on the link, from [`LinkUse::begin`].
#[derive(Debug)]
#[must_use = "end the ticket to learn whether the call had the link alone"]
pub struct Ticket {
    busy_before: usize,
    number: u64,
}

impl LinkUse {
    /// Whether no call is on the link now.
    pub fn idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }

    /// Whether no call is on the link at `now` and none ended within `quiet` before it (probes
    /// wait for this).
    pub fn quiet(&self, quiet: Duration, now: Instant) -> bool {
        self.idle()
            && self.pending.load(Ordering::SeqCst) == 0
            && self
                .last_end
                .lock()
                .is_none_or(|t| now.saturating_duration_since(t) >= quiet)
    }

    /// A call starts using the link.
    pub fn begin(&self) -> Ticket {
        let busy_before = self.busy.fetch_add(1, Ordering::SeqCst);
        let number = self.started.fetch_add(1, Ordering::SeqCst);
        Ticket {
            busy_before,
            number,
        }
    }

    /// Marks an offload whose call will start once its head has run on the device: the link
    /// is not quiet until the guard drops (after [`LinkUse::begin`]), so that a bandwidth
    /// probe does not start in the head's quiet and hold up the upload behind it (seen on the
    /// test bed: late cuts, whose heads run for hundreds of ms and then send a few KB, took
    /// 20-40 ms longer than predicted).
    pub fn soon(&self) -> Soon<'_> {
        self.pending.fetch_add(1, Ordering::SeqCst);
        Soon(self)
    }

    /// The call has ended; true when it had the link alone all along (none was on the link when
    /// it began, and none began after it).
    pub fn end(&self, ticket: Ticket) -> bool {
        let alone =
            ticket.busy_before == 0 && self.started.load(Ordering::SeqCst) == ticket.number + 1;
        *self.last_end.lock() = Some(Instant::now());
        self.busy.fetch_sub(1, Ordering::SeqCst);
        alone
    }
}

/// An offload about to use the link ([`LinkUse::soon`]).
#[derive(Debug)]
pub struct Soon<'a>(&'a LinkUse);

impl Drop for Soon<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_alone_is_clean_and_overlapping_calls_are_not() {
        let link = LinkUse::default();
        assert!(link.idle());
        let a = link.begin();
        assert!(!link.idle());
        assert!(link.end(a), "alone");

        // b starts, c starts during b, b ends, c ends: neither was alone.
        let b = link.begin();
        let c = link.begin();
        assert!(!link.end(b), "c began during b");
        assert!(!link.end(c), "b was on the link when c began");
        assert!(link.idle());

        // After the overlap, a call alone is clean again.
        let d = link.begin();
        assert!(link.end(d));
    }

    #[test]
    fn quiet_means_idle_for_a_while() {
        let link = LinkUse::default();
        let t0 = Instant::now();
        assert!(link.quiet(Duration::from_millis(300), t0), "never used");
        let a = link.begin();
        assert!(!link.quiet(Duration::ZERO, t0), "busy");
        let _ = link.end(a);
        let now = Instant::now();
        assert!(!link.quiet(Duration::from_secs(60), now), "just ended");
        assert!(link.quiet(Duration::from_secs(60), now + Duration::from_secs(61)));
        // An offload running its head: not quiet, though nothing is on the link yet.
        let later = now + Duration::from_secs(61);
        let soon = link.soon();
        assert!(link.idle() && !link.quiet(Duration::ZERO, later));
        drop(soon);
        assert!(link.quiet(Duration::ZERO, later));
    }
}
