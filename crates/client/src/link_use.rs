//! [`LinkUse`]: which calls shared the link, so that only clean ones become bandwidth samples.
//!
//! A probe or an offload measures the link only if it had the link to itself: a probe that runs
//! beside a 1 MB offload times its own bytes plus a share of the other's, and on a shaped link
//! (a `tc tbf` queue, a phone's radio) its "RTT" includes the other's queueing. Such samples
//! read the link as slower than it is. So every call that moves data takes a [`Ticket`], probes
//! start only on an idle link, and a sample is used only when no other call overlapped it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Counts the calls on the link now and ever.
#[derive(Debug, Default)]
pub struct LinkUse {
    busy: AtomicUsize,
    started: AtomicU64,
}

/// One call's hold on the link, from [`LinkUse::begin`].
#[derive(Debug)]
#[must_use = "end the ticket to learn whether the call had the link alone"]
pub struct Ticket {
    busy_before: usize,
    number: u64,
}

impl LinkUse {
    /// Whether no call is on the link now (probes wait for this).
    pub fn idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
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

    /// The call has ended; true when it had the link alone all along (none was on the link when
    /// it began, and none began after it).
    pub fn end(&self, ticket: Ticket) -> bool {
        let alone =
            ticket.busy_before == 0 && self.started.load(Ordering::SeqCst) == ticket.number + 1;
        self.busy.fetch_sub(1, Ordering::SeqCst);
        alone
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
}
