//! [`BatchState`]: the bounded FCFS queue and dynamic batcher, as a plain state struct.
//!
//! Semantics follow Triton's dynamic batcher: a batch of one [`BatchKey`] leaves when it is full
//! or when its oldest request has waited `max_queue_delay`. With a delay of zero a request that
//! finds an executor idle runs at once, and batches form only from what queued while the
//! executors were busy. The owner (an async actor) pushes requests as they arrive, asks for
//! [`BatchState::next_batch`] whenever an executor is free, and otherwise sleeps until
//! [`BatchState::next_wakeup`]. Time is always a parameter; nothing here reads a clock.
//!
//! Requests whose deadline has passed or whose caller has gone are never batched: they are moved
//! to an outbox that the owner empties with [`BatchState::take_dropped`] to answer them, so every
//! pushed payload comes back exactly once (batched, dropped, drained or rejected).

use std::collections::VecDeque;
use std::time::Instant;

use crate::error::SchedError;

#[cfg(test)]
mod tests;
mod types;

pub use types::{Batch, BatchKey, BatchLimits, Cancellable, Dropped, Queued, Rejected};

struct Entry<R> {
    key: BatchKey,
    req: Queued<R>,
}

/// The batch that would leave next for one key: queue indices of its members, in queue order.
struct Forming {
    members: Vec<usize>,
    rows: usize,
    /// At `max_batch_rows`, or the next same-key request does not fit.
    full: bool,
    /// Earliest arrival among the members.
    oldest: Instant,
}

/// The queue and batcher state; see the module documentation.
pub struct BatchState<R> {
    limits: BatchLimits,
    queue: VecDeque<Entry<R>>,
    rows: usize,
    dropped: Dropped<R>,
}

impl<R> std::fmt::Debug for BatchState<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchState")
            .field("limits", &self.limits)
            .field("len", &self.queue.len())
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<R> BatchState<R> {
    /// An empty queue. Errors when `max_batch_rows` or `max_queue_len` is zero.
    pub fn new(limits: BatchLimits) -> Result<Self, SchedError> {
        if limits.max_batch_rows == 0 {
            return Err(SchedError::ZeroLimit {
                name: "max_batch_rows",
            });
        }
        if limits.max_queue_len == 0 {
            return Err(SchedError::ZeroLimit {
                name: "max_queue_len",
            });
        }
        Ok(Self {
            limits,
            queue: VecDeque::new(),
            rows: 0,
            dropped: Dropped::default(),
        })
    }

    /// The limits it was built with.
    pub fn limits(&self) -> BatchLimits {
        self.limits
    }

    /// Requests queued, including any that expired or were cancelled since the last eviction.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when no request is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Rows queued, summed over requests.
    pub fn queued_rows(&self) -> usize {
        self.rows
    }

    /// The batch now forming for each key, as (key, rows), oldest key first: the size the next
    /// batch of that key would have if it left now. For the load report.
    pub fn forming(&self) -> Vec<(BatchKey, usize)> {
        self.formations()
            .into_iter()
            .map(|f| (self.queue[f.members[0]].key.clone(), f.rows))
            .collect()
    }

    /// When the owner must look again even if nothing arrives: the earliest of the instant the
    /// oldest request of a not-yet-full batch reaches the max queue delay and the earliest
    /// deadline; `now` when a batch is ready already; never earlier than `now`. `None` when the
    /// queue is empty. Cancellations cannot be foreseen and are found on the next call.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let delay = self.limits.max_queue_delay;
        let ready = self.formations().into_iter().filter_map(|f| {
            if f.full {
                Some(now)
            } else {
                f.oldest.checked_add(delay)
            }
        });
        let deadlines = self.queue.iter().filter_map(|e| e.req.deadline);
        ready.chain(deadlines).min().map(|t| t.max(now))
    }

    /// Empties the outbox of requests dropped by [`BatchState::push`],
    /// [`BatchState::next_batch`] or [`BatchState::evict`]; call it after each of those.
    pub fn take_dropped(&mut self) -> Dropped<R> {
        std::mem::take(&mut self.dropped)
    }

    /// Removes every queued request, oldest first (for shutdown). The outbox is left alone.
    pub fn drain(&mut self) -> Vec<R> {
        self.rows = 0;
        self.queue.drain(..).map(|e| e.req.payload).collect()
    }

    /// Removes `key`'s oldest queued requests, in queue order, while their rows fit in
    /// `max_rows` (stopping at the first that does not, as a batch of that key would), and
    /// returns them: for merging them into another key's batch (a staircase). Evicts stale
    /// requests first, like [`BatchState::next_batch`].
    pub fn take_key(&mut self, key: &BatchKey, max_rows: usize, now: Instant) -> Vec<Queued<R>>
    where
        R: Cancellable,
    {
        self.evict(now);
        let mut rows = 0;
        let mut full = false;
        let taken = self.remove_where(|_, e| {
            if full || e.key != *key {
                return false;
            }
            if rows + e.req.rows > max_rows {
                full = true;
                return false;
            }
            rows += e.req.rows;
            true
        });
        taken.into_iter().map(|e| e.req).collect()
    }

    /// The batches, as (key, rows), that would run before and with a request of `key` and `rows`
    /// rows pushed now, in the order they would leave, the request's own batch last; assumes no
    /// further arrivals and every delay passed (the case that matters for admission: a busy
    /// server). Same rules as [`BatchState::next_batch`]: the key of the oldest queued request
    /// goes first and takes its requests in queue order up to the first that does not fit.
    /// Empty when `rows` is 0 or above `max_batch_rows` (such a request never runs).
    pub fn batches_ahead(&self, key: &BatchKey, rows: usize) -> Vec<(BatchKey, usize)> {
        if rows == 0 || rows > self.limits.max_batch_rows {
            return Vec::new();
        }
        self.leave_order(Some((key, rows)))
    }

    /// The batches, as (key, rows), that the requests queued now would leave in, in order;
    /// assumes no further arrivals and every delay passed. A request arriving now at a key with
    /// nothing queued would start once the last of these has started and an executor is free:
    /// the basis of the server's backlog in the load report (where each key's last batch, still
    /// forming, counts at its usual size; see `admission::expected_leave_rows`).
    pub fn batches_queued(&self) -> Vec<(BatchKey, usize)> {
        self.leave_order(None)
    }

    /// The order of [`BatchState::batches_ahead`], with an optional new request at the end of
    /// the queue (the list then stops at its batch).
    fn leave_order(&self, new: Option<(&BatchKey, usize)>) -> Vec<(BatchKey, usize)> {
        let max = self.limits.max_batch_rows;
        // Per key, in order of first appearance: (queue position, rows) of its requests; the
        // new request, if any, is at position `queue.len()`.
        let mut keys: Vec<(&BatchKey, VecDeque<(usize, usize)>)> = Vec::new();
        let entries = self.queue.iter().map(|e| (&e.key, e.req.rows));
        for (pos, (k, r)) in entries.chain(new).enumerate() {
            match keys.iter_mut().find(|(kk, _)| *kk == k) {
                Some((_, q)) => q.push_back((pos, r)),
                None => keys.push((k, VecDeque::from([(pos, r)]))),
            }
        }
        let new_pos = new.map(|_| self.queue.len());
        let mut out = Vec::new();
        loop {
            let Some((k, q)) = keys
                .iter_mut()
                .filter(|(_, q)| !q.is_empty())
                .min_by_key(|(_, q)| q[0].0)
            else {
                return out;
            };
            let mut sum = 0;
            let mut has_new = false;
            while let Some(&(pos, r)) = q.front() {
                if sum + r > max {
                    break;
                }
                sum += r;
                has_new |= Some(pos) == new_pos;
                q.pop_front();
            }
            if sum == 0 {
                // A request above the batch limit never runs; it holds nothing up.
                q.pop_front();
                continue;
            }
            out.push(((*k).clone(), sum));
            if has_new {
                return out;
            }
        }
    }

    /// Groups the queue into the batch each key would release now, keys in order of their first
    /// queued request. A key's batch takes its requests in queue order and stops at the first
    /// that does not fit, so a large request is never overtaken by smaller ones of its key.
    fn formations(&self) -> Vec<Forming> {
        let max = self.limits.max_batch_rows;
        let mut out: Vec<Forming> = Vec::new();
        for (i, e) in self.queue.iter().enumerate() {
            let same_key = out
                .iter_mut()
                .find(|f| self.queue[f.members[0]].key == e.key);
            match same_key {
                Some(f) if f.full => {}
                Some(f) if f.rows + e.req.rows > max => f.full = true,
                Some(f) => {
                    f.members.push(i);
                    f.rows += e.req.rows;
                    f.full = f.rows == max;
                    f.oldest = f.oldest.min(e.req.arrival);
                }
                None => out.push(Forming {
                    members: vec![i],
                    rows: e.req.rows,
                    full: e.req.rows == max,
                    oldest: e.req.arrival,
                }),
            }
        }
        out
    }

    /// Removes the entries for which `take` is true, keeping the order of the rest.
    fn remove_where(&mut self, mut take: impl FnMut(usize, &Entry<R>) -> bool) -> Vec<Entry<R>> {
        let mut taken = Vec::new();
        for (i, e) in std::mem::take(&mut self.queue).into_iter().enumerate() {
            if take(i, &e) {
                self.rows -= e.req.rows;
                taken.push(e);
            } else {
                self.queue.push_back(e);
            }
        }
        taken
    }
}

impl<R: Cancellable> BatchState<R> {
    /// Queues a request under `key`. Refused, with the payload handed back, when it has 0 rows or
    /// more than `max_batch_rows`, or when `max_queue_len` live requests are queued already (a
    /// full queue first evicts requests that expired by `request.arrival` or were cancelled).
    pub fn push(&mut self, key: BatchKey, request: Queued<R>) -> Result<(), Rejected<R>> {
        let max_batch_rows = self.limits.max_batch_rows;
        let error = if request.rows == 0 {
            Some(SchedError::ZeroRows)
        } else if request.rows > max_batch_rows {
            Some(SchedError::TooManyRows {
                rows: request.rows,
                max_batch_rows,
            })
        } else {
            if self.queue.len() >= self.limits.max_queue_len {
                self.evict(request.arrival);
            }
            let max_queue_len = self.limits.max_queue_len;
            (self.queue.len() >= max_queue_len).then_some(SchedError::QueueFull { max_queue_len })
        };
        if let Some(error) = error {
            return Err(Rejected {
                error,
                payload: request.payload,
            });
        }
        self.rows += request.rows;
        self.queue.push_back(Entry { key, req: request });
        Ok(())
    }

    /// Moves requests whose deadline is at or before `now`, or whose caller has gone, to the
    /// outbox ([`BatchState::take_dropped`]).
    pub fn evict(&mut self, now: Instant) {
        let expired = |e: &Entry<R>| e.req.deadline.is_some_and(|d| d <= now);
        let stale = self.remove_where(|_, e| expired(e) || e.req.payload.is_cancelled());
        for e in stale {
            if expired(&e) {
                self.dropped.expired.push(e.req.payload);
            } else {
                self.dropped.cancelled.push(e.req.payload);
            }
        }
    }

    /// The next batch to run, if one is ready at `now`. Evicts stale requests first (see
    /// [`BatchState::evict`]), then releases the first key, in order of its oldest request, whose
    /// batch is full or whose oldest request has waited at least `max_queue_delay`. A full batch
    /// of a later key may thus run while an older key is still within its delay; an older key
    /// whose delay has passed always goes first.
    pub fn next_batch(&mut self, now: Instant) -> Option<Batch<R>> {
        self.evict(now);
        let delay = self.limits.max_queue_delay;
        let pick = self
            .formations()
            .into_iter()
            .find(|f| f.full || now.saturating_duration_since(f.oldest) >= delay)?;
        self.take_formation(pick)
    }

    /// The first batch in queue order if it is full, for an executor that is still busy: a
    /// full batch cannot grow by waiting, so it may be handed over ahead of time (and no batch
    /// jumps the queue, since only the first is taken). Evicts stale requests first.
    pub fn next_full_batch(&mut self, now: Instant) -> Option<Batch<R>> {
        self.evict(now);
        let pick = self.formations().into_iter().next().filter(|f| f.full)?;
        self.take_formation(pick)
    }

    fn take_formation(&mut self, pick: Forming) -> Option<Batch<R>> {
        let taken = self.remove_where(|i, _| pick.members.binary_search(&i).is_ok());
        let mut entries = taken.into_iter();
        let first = entries.next()?;
        let key = first.key;
        let requests: Vec<Queued<R>> = std::iter::once(first.req)
            .chain(entries.map(|e| e.req))
            .collect();
        Some(Batch {
            key,
            rows: pick.rows,
            requests,
        })
    }
}
