use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loadpart_cuts::CutId;
use proptest::prelude::*;

use super::*;

/// A test payload: an id, and a flag that the test sets when "the caller goes away".
#[derive(Debug, Clone)]
struct P {
    id: u32,
    gone: Rc<Cell<bool>>,
}

impl Cancellable for P {
    fn is_cancelled(&self) -> bool {
        self.gone.get()
    }
}

fn p(id: u32) -> P {
    P {
        id,
        gone: Rc::new(Cell::new(false)),
    }
}

fn key(cut: &str) -> BatchKey {
    BatchKey {
        model: "m".into(),
        cut: CutId::from_names([cut]),
        sample_shapes: vec![vec![3, 8]],
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn req(id: u32, rows: usize, arrival: Instant) -> Queued<P> {
    Queued {
        rows,
        arrival,
        deadline: None,
        payload: p(id),
    }
}

fn state(max_batch_rows: usize, delay: Duration, max_queue_len: usize) -> BatchState<P> {
    BatchState::new(BatchLimits {
        max_batch_rows,
        max_queue_delay: delay,
        max_queue_len,
    })
    .unwrap()
}

fn ids(b: &Batch<P>) -> Vec<u32> {
    b.requests.iter().map(|r| r.payload.id).collect()
}

#[test]
fn zero_limits_are_refused() {
    let zero_rows = BatchLimits {
        max_batch_rows: 0,
        max_queue_delay: ms(0),
        max_queue_len: 4,
    };
    let zero_len = BatchLimits {
        max_batch_rows: 4,
        max_queue_delay: ms(0),
        max_queue_len: 0,
    };
    assert_eq!(
        BatchState::<P>::new(zero_rows).unwrap_err(),
        SchedError::ZeroLimit {
            name: "max_batch_rows"
        }
    );
    assert_eq!(
        BatchState::<P>::new(zero_len).unwrap_err(),
        SchedError::ZeroLimit {
            name: "max_queue_len"
        }
    );
}

#[test]
fn delay_zero_runs_a_lone_request_at_once() {
    let t0 = Instant::now();
    let mut s = state(8, ms(0), 16);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    let b = s.next_batch(t0).unwrap();
    assert_eq!((ids(&b), b.rows), (vec![1], 1));
    assert!(s.next_batch(t0).is_none());
    assert!(s.is_empty());
}

#[test]
fn delay_zero_batches_what_queued_up_to_the_row_limit() {
    let t0 = Instant::now();
    let mut s = state(4, ms(0), 16);
    for id in 0..5 {
        s.push(key("a"), req(id, 2, t0 + ms(id as u64))).unwrap();
    }
    assert_eq!((s.len(), s.queued_rows()), (5, 10));
    let t = t0 + ms(5);
    let batches: Vec<_> = std::iter::from_fn(|| s.next_batch(t)).collect();
    let got: Vec<_> = batches.iter().map(|b| (ids(b), b.rows)).collect();
    assert_eq!(got, vec![(vec![0, 1], 4), (vec![2, 3], 4), (vec![4], 2)]);
    assert_eq!((s.len(), s.queued_rows()), (0, 0));
}

#[test]
fn with_a_delay_a_batch_leaves_when_the_oldest_has_waited_it_not_before() {
    let t0 = Instant::now();
    let mut s = state(8, ms(10), 16);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    s.push(key("a"), req(2, 1, t0 + ms(4))).unwrap();
    assert!(s.next_batch(t0 + ms(9)).is_none());
    assert!(s.next_batch(t0 + Duration::from_micros(9_999)).is_none());
    let b = s.next_batch(t0 + ms(10)).unwrap();
    assert_eq!(ids(&b), vec![1, 2]);
}

#[test]
fn with_a_delay_a_full_batch_leaves_at_once() {
    let t0 = Instant::now();
    let mut s = state(3, ms(10), 16);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    s.push(key("a"), req(2, 1, t0 + ms(1))).unwrap();
    assert!(s.next_batch(t0 + ms(1)).is_none());
    s.push(key("a"), req(3, 1, t0 + ms(2))).unwrap();
    let b = s.next_batch(t0 + ms(2)).unwrap();
    assert_eq!((ids(&b), b.rows), (vec![1, 2, 3], 3));
}

#[test]
fn a_batch_is_full_when_the_next_request_of_its_key_does_not_fit() {
    let t0 = Instant::now();
    let mut s = state(4, ms(10), 16);
    s.push(key("a"), req(1, 3, t0)).unwrap();
    s.push(key("a"), req(2, 2, t0)).unwrap();
    s.push(key("a"), req(3, 1, t0)).unwrap();
    // Request 3 would fit beside 1, but must not overtake 2.
    let b = s.next_batch(t0).unwrap();
    assert_eq!((ids(&b), b.rows), (vec![1], 3));
    assert!(s.next_batch(t0 + ms(9)).is_none());
    assert_eq!(ids(&s.next_batch(t0 + ms(10)).unwrap()), vec![2, 3]);
}

#[test]
fn keys_are_served_first_come_first_served() {
    let t0 = Instant::now();
    let mut s = state(8, ms(0), 16);
    s.push(key("b"), req(1, 1, t0)).unwrap();
    s.push(key("a"), req(2, 1, t0 + ms(1))).unwrap();
    s.push(key("b"), req(3, 1, t0 + ms(2))).unwrap();
    s.push(key("a"), req(4, 1, t0 + ms(3))).unwrap();
    let first = s.next_batch(t0 + ms(3)).unwrap();
    let second = s.next_batch(t0 + ms(3)).unwrap();
    assert_eq!((&first.key, ids(&first)), (&key("b"), vec![1, 3]));
    assert_eq!((&second.key, ids(&second)), (&key("a"), vec![2, 4]));
}

#[test]
fn keys_are_never_mixed() {
    let t0 = Instant::now();
    let mut s = state(8, ms(0), 16);
    let other_shape = BatchKey {
        sample_shapes: vec![vec![3, 9]],
        ..key("a")
    };
    let other_model = BatchKey {
        model: "n".into(),
        ..key("a")
    };
    let keys = [key("a"), other_shape, other_model, key("b"), key("a")];
    for (id, k) in keys.iter().enumerate() {
        s.push(k.clone(), req(id as u32, 1, t0)).unwrap();
    }
    let batches: Vec<_> = std::iter::from_fn(|| s.next_batch(t0)).collect();
    let got: Vec<_> = batches.iter().map(|b| (b.key.clone(), ids(b))).collect();
    let want = vec![
        (keys[0].clone(), vec![0, 4]),
        (keys[1].clone(), vec![1]),
        (keys[2].clone(), vec![2]),
        (keys[3].clone(), vec![3]),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_full_later_key_runs_while_an_older_key_waits_out_its_delay() {
    let t0 = Instant::now();
    let mut s = state(2, ms(10), 16);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    s.push(key("b"), req(2, 1, t0 + ms(1))).unwrap();
    s.push(key("b"), req(3, 1, t0 + ms(2))).unwrap();
    assert_eq!(ids(&s.next_batch(t0 + ms(2)).unwrap()), vec![2, 3]);
    assert!(s.next_batch(t0 + ms(9)).is_none());
    assert_eq!(ids(&s.next_batch(t0 + ms(10)).unwrap()), vec![1]);
}

#[test]
fn an_older_key_past_its_delay_goes_before_a_full_later_key() {
    let t0 = Instant::now();
    let mut s = state(2, ms(10), 16);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    s.push(key("b"), req(2, 1, t0 + ms(11))).unwrap();
    s.push(key("b"), req(3, 1, t0 + ms(11))).unwrap();
    assert_eq!(ids(&s.next_batch(t0 + ms(11)).unwrap()), vec![1]);
    assert_eq!(ids(&s.next_batch(t0 + ms(11)).unwrap()), vec![2, 3]);
}

#[test]
fn only_a_full_batch_at_the_head_of_the_queue_is_handed_over_early() {
    let t0 = Instant::now();
    let mut s = state(2, Duration::ZERO, 16);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    // Not full: it could still grow, so it waits for an idle executor.
    assert!(s.next_full_batch(t0).is_none());
    s.push(key("b"), req(2, 1, t0)).unwrap();
    s.push(key("b"), req(3, 1, t0)).unwrap();
    // b is full but a is first: nothing jumps the queue.
    assert!(s.next_full_batch(t0).is_none());
    s.push(key("a"), req(4, 1, t0)).unwrap();
    assert_eq!(ids(&s.next_full_batch(t0).unwrap()), vec![1, 4]);
    assert_eq!(ids(&s.next_full_batch(t0).unwrap()), vec![2, 3]);
    assert!(s.next_full_batch(t0).is_none());
    assert!(s.is_empty());
}

#[test]
fn the_queue_is_bounded_and_a_rejection_returns_the_payload() {
    let t0 = Instant::now();
    let mut s = state(8, ms(5), 2);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    s.push(key("b"), req(2, 1, t0)).unwrap();
    let r = s.push(key("a"), req(3, 1, t0)).unwrap_err();
    assert_eq!(
        (r.error, r.payload.id),
        (SchedError::QueueFull { max_queue_len: 2 }, 3)
    );
    assert_eq!(s.len(), 2);
    s.next_batch(t0 + ms(5)).unwrap();
    s.push(key("a"), req(4, 1, t0 + ms(5))).unwrap();
}

#[test]
fn requests_with_no_rows_or_too_many_rows_are_refused() {
    let t0 = Instant::now();
    let mut s = state(4, ms(0), 8);
    let r = s.push(key("a"), req(1, 0, t0)).unwrap_err();
    assert_eq!((r.error, r.payload.id), (SchedError::ZeroRows, 1));
    let r = s.push(key("a"), req(2, 5, t0)).unwrap_err();
    assert_eq!(
        r.error,
        SchedError::TooManyRows {
            rows: 5,
            max_batch_rows: 4
        }
    );
    s.push(key("a"), req(3, 4, t0)).unwrap();
    assert!(s.take_dropped().is_empty());
}

#[test]
fn a_full_queue_evicts_stale_requests_before_refusing() {
    let t0 = Instant::now();
    let mut s = state(8, ms(50), 2);
    s.push(
        key("a"),
        Queued {
            deadline: Some(t0 + ms(1)),
            ..req(1, 1, t0)
        },
    )
    .unwrap();
    let gone = req(2, 1, t0);
    gone.payload.gone.set(true);
    s.push(key("a"), gone).unwrap();
    s.push(key("a"), req(3, 1, t0 + ms(1))).unwrap();
    let d = s.take_dropped();
    let expired: Vec<_> = d.expired.iter().map(|p| p.id).collect();
    let cancelled: Vec<_> = d.cancelled.iter().map(|p| p.id).collect();
    assert_eq!((expired, cancelled, s.len()), (vec![1], vec![2], 1));
}

#[test]
fn expired_requests_are_dropped_before_batching() {
    let t0 = Instant::now();
    let mut s = state(8, ms(0), 8);
    s.push(
        key("a"),
        Queued {
            deadline: Some(t0 + ms(3)),
            ..req(1, 1, t0)
        },
    )
    .unwrap();
    s.push(
        key("a"),
        Queued {
            deadline: Some(t0 + ms(9)),
            ..req(2, 1, t0)
        },
    )
    .unwrap();
    s.push(key("a"), req(3, 1, t0)).unwrap();
    // A deadline equal to `now` counts as passed.
    let b = s.next_batch(t0 + ms(3)).unwrap();
    assert_eq!(ids(&b), vec![2, 3]);
    let d = s.take_dropped();
    assert_eq!(d.expired.iter().map(|p| p.id).collect::<Vec<_>>(), vec![1]);
    assert!(d.cancelled.is_empty());
    assert!(s.take_dropped().is_empty());
}

#[test]
fn cancelled_requests_are_skipped_and_handed_back() {
    let t0 = Instant::now();
    let mut s = state(8, ms(0), 8);
    let middle = req(2, 1, t0);
    let flag = middle.payload.gone.clone();
    s.push(key("a"), req(1, 1, t0)).unwrap();
    s.push(key("a"), middle).unwrap();
    s.push(key("a"), req(3, 1, t0)).unwrap();
    flag.set(true);
    let b = s.next_batch(t0).unwrap();
    assert_eq!((ids(&b), b.rows), (vec![1, 3], 2));
    let d = s.take_dropped();
    assert_eq!(
        d.cancelled.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![2]
    );
}

#[test]
fn evict_alone_moves_stale_requests_to_the_outbox() {
    let t0 = Instant::now();
    let mut s = state(8, ms(100), 8);
    s.push(
        key("a"),
        Queued {
            deadline: Some(t0 + ms(5)),
            ..req(1, 2, t0)
        },
    )
    .unwrap();
    s.push(key("a"), req(2, 1, t0)).unwrap();
    s.evict(t0 + ms(4));
    assert!(s.take_dropped().is_empty());
    s.evict(t0 + ms(5));
    assert_eq!(s.take_dropped().expired.len(), 1);
    assert_eq!((s.len(), s.queued_rows()), (1, 1));
}

#[test]
fn next_wakeup_is_exact() {
    let t0 = Instant::now();
    let mut s = state(4, ms(10), 8);
    assert_eq!(s.next_wakeup(t0), None);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    assert_eq!(s.next_wakeup(t0 + ms(1)), Some(t0 + ms(10)));
    // An earlier deadline wakes first.
    s.push(
        key("b"),
        Queued {
            deadline: Some(t0 + ms(6)),
            ..req(2, 1, t0 + ms(2))
        },
    )
    .unwrap();
    assert_eq!(s.next_wakeup(t0 + ms(2)), Some(t0 + ms(6)));
    // Past the delay: ready now, never in the past.
    assert_eq!(s.next_wakeup(t0 + ms(20)), Some(t0 + ms(20)));
    // A full batch is ready now.
    let mut s = state(2, ms(10), 8);
    s.push(key("a"), req(1, 2, t0)).unwrap();
    assert_eq!(s.next_wakeup(t0), Some(t0));
    // Delay zero: ready at once.
    let mut s = state(2, ms(0), 8);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    assert_eq!(s.next_wakeup(t0 + ms(3)), Some(t0 + ms(3)));
}

#[test]
fn forming_reports_the_next_batch_size_per_key() {
    let t0 = Instant::now();
    let mut s = state(4, ms(10), 16);
    assert!(s.forming().is_empty());
    for (id, (cut, rows)) in [("b", 1), ("a", 2), ("b", 2), ("a", 3), ("b", 1)]
        .iter()
        .enumerate()
    {
        s.push(key(cut), req(id as u32, *rows, t0)).unwrap();
    }
    assert_eq!(s.forming(), vec![(key("b"), 4), (key("a"), 2)]);
    assert_eq!((s.len(), s.queued_rows()), (5, 9));
}

#[test]
fn the_oldest_arrival_counts_even_when_pushed_out_of_order() {
    let t0 = Instant::now();
    let mut s = state(4, ms(10), 16);
    s.push(key("a"), req(1, 1, t0 + ms(5))).unwrap();
    s.push(key("a"), req(2, 1, t0)).unwrap();
    assert_eq!(s.next_wakeup(t0 + ms(5)), Some(t0 + ms(10)));
    assert_eq!(ids(&s.next_batch(t0 + ms(10)).unwrap()), vec![1, 2]);
}

#[test]
fn drain_empties_the_queue_in_order() {
    let t0 = Instant::now();
    let mut s = state(4, ms(10), 16);
    s.push(key("a"), req(1, 1, t0)).unwrap();
    s.push(key("b"), req(2, 3, t0)).unwrap();
    let got: Vec<_> = s.drain().into_iter().map(|p| p.id).collect();
    assert_eq!((got, s.len(), s.queued_rows()), (vec![1, 2], 0, 0));
}

#[derive(Debug, Clone)]
enum Op {
    Push {
        key: u8,
        rows: usize,
        deadline_ms: Option<u64>,
    },
    Advance(u64),
    Cancel(usize),
    Next,
    Evict,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 0usize..6, proptest::option::of(0u64..30))
            .prop_map(|(key, rows, deadline_ms)| Op::Push { key, rows, deadline_ms }),
        2 => (0u64..8).prop_map(Op::Advance),
        1 => any::<usize>().prop_map(Op::Cancel),
        3 => Just(Op::Next),
        1 => Just(Op::Evict),
    ]
}

#[derive(Debug, PartialEq)]
enum Fate {
    Batched,
    Expired,
    Cancelled,
    Rejected,
}

/// Checks the batch rules for one batch of the property test and records its requests' fate.
fn check_batch(
    b: Batch<P>,
    now: Instant,
    max_rows: usize,
    fates: &mut BTreeMap<u32, Vec<Fate>>,
    deadlines: &BTreeMap<u32, Option<Instant>>,
) -> Result<(), TestCaseError> {
    let rows: usize = b.requests.iter().map(|r| r.rows).sum();
    prop_assert_eq!(rows, b.rows);
    prop_assert!(b.rows >= 1 && b.rows <= max_rows);
    let got = ids(&b);
    prop_assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "push order kept: {:?}",
        got
    );
    for r in &b.requests {
        prop_assert!(!r.payload.gone.get());
        prop_assert!(deadlines[&r.payload.id].is_none_or(|d| d > now));
        fates.entry(r.payload.id).or_default().push(Fate::Batched);
    }
    Ok(())
}

proptest! {
    /// Random pushes, cancellations and pops: every pushed payload comes out exactly once, and
    /// every batch respects the key, row, order, deadline and cancellation rules.
    #[test]
    fn no_request_is_lost_or_duplicated(
        ops in proptest::collection::vec(op(), 0..120),
        max_rows in 1usize..5,
        delay_ms in 0u64..6,
        max_len in 1usize..10,
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = state(max_rows, ms(delay_ms), max_len);
        let mut fates: BTreeMap<u32, Vec<Fate>> = BTreeMap::new();
        let mut flags: Vec<Rc<Cell<bool>>> = Vec::new();
        let mut deadlines: BTreeMap<u32, Option<Instant>> = BTreeMap::new();
        let mut next_id = 0u32;
        let mut keys_of: BTreeMap<u32, u8> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Push { key: k, rows, deadline_ms } => {
                    let id = next_id;
                    next_id += 1;
                    let deadline = deadline_ms.map(|d| now + ms(d));
                    deadlines.insert(id, deadline);
                    keys_of.insert(id, k);
                    let r = Queued { rows, arrival: now, deadline, payload: p(id) };
                    flags.push(r.payload.gone.clone());
                    if let Err(rej) = s.push(key(&k.to_string()), r) {
                        prop_assert_eq!(rej.payload.id, id);
                        fates.entry(id).or_default().push(Fate::Rejected);
                    }
                }
                Op::Advance(d) => now += ms(d),
                Op::Cancel(i) => {
                    if !flags.is_empty() {
                        flags[i % flags.len()].set(true);
                    }
                }
                Op::Next => {
                    if let Some(b) = s.next_batch(now) {
                        for r in &b.requests {
                            prop_assert_eq!(b.key.cut.as_str(), keys_of[&r.payload.id].to_string());
                        }
                        check_batch(b, now, max_rows, &mut fates, &deadlines)?;
                    }
                }
                Op::Evict => s.evict(now),
            }
            let d = s.take_dropped();
            for x in d.expired {
                prop_assert!(deadlines[&x.id].is_some_and(|dl| dl <= now));
                fates.entry(x.id).or_default().push(Fate::Expired);
            }
            for x in d.cancelled {
                prop_assert!(x.gone.get());
                fates.entry(x.id).or_default().push(Fate::Cancelled);
            }
            let settled = fates.len();
            prop_assert_eq!(s.len(), next_id as usize - settled);
            if let Some(w) = s.next_wakeup(now) {
                prop_assert!(w >= now);
            }
        }
        // Long after: everything left is ready, so it all leaves.
        now += Duration::from_secs(3600);
        while let Some(b) = s.next_batch(now) {
            check_batch(b, now, max_rows, &mut fates, &deadlines)?;
        }
        let d = s.take_dropped();
        for x in d.expired {
            fates.entry(x.id).or_default().push(Fate::Expired);
        }
        for x in d.cancelled {
            fates.entry(x.id).or_default().push(Fate::Cancelled);
        }
        prop_assert!(s.is_empty());
        prop_assert_eq!(s.queued_rows(), 0);
        prop_assert_eq!(fates.len(), next_id as usize);
        for (id, f) in &fates {
            prop_assert_eq!(f.len(), 1, "request {} came out {:?}", id, f);
        }
    }
}

proptest! {
    /// `batches_ahead` predicts exactly the batches that `next_batch` then releases, up to and
    /// including the one holding the new request, when nothing else arrives.
    #[test]
    fn batches_ahead_matches_what_runs(
        queued in proptest::collection::vec((0u8..3, 1usize..4), 0..30),
        new_key in 0u8..3,
        new_rows in 1usize..4,
        max_rows in 3usize..9,
    ) {
        let t0 = Instant::now();
        let mut s = state(max_rows, ms(1), 64);
        for (i, (k, rows)) in queued.iter().enumerate() {
            let r = req(i as u32, *rows, t0 + Duration::from_micros(i as u64));
            s.push(key(&k.to_string()), r).unwrap();
        }
        let new_key = key(&new_key.to_string());
        let predicted = s.batches_ahead(&new_key, new_rows);
        let new_id = queued.len() as u32;
        let arrival = t0 + Duration::from_micros(new_id as u64);
        s.push(new_key, req(new_id, new_rows, arrival)).unwrap();
        let later = t0 + ms(10);
        let mut ran = Vec::new();
        while let Some(b) = s.next_batch(later) {
            let done = ids(&b).contains(&new_id);
            ran.push((b.key, b.rows));
            if done {
                break;
            }
        }
        prop_assert_eq!(predicted, ran);
    }
}

#[test]
fn batches_ahead_refuses_impossible_rows() {
    let s = state(4, ms(0), 8);
    assert!(s.batches_ahead(&key("a"), 0).is_empty());
    assert!(s.batches_ahead(&key("a"), 5).is_empty());
    assert_eq!(s.batches_ahead(&key("a"), 4), vec![(key("a"), 4)]);
}

#[test]
fn take_key_takes_the_oldest_that_fit_in_order() {
    let t0 = Instant::now();
    let mut s = state(8, ms(5), 16);
    s.push(key("a"), req(0, 2, t0)).unwrap();
    s.push(key("b"), req(1, 1, t0)).unwrap();
    s.push(key("a"), req(2, 3, t0)).unwrap();
    s.push(key("a"), req(3, 1, t0)).unwrap();
    // 2 + 3 fit in 5; the 1-row request behind them is not taken past the one that stopped.
    let taken: Vec<u32> = s
        .take_key(&key("a"), 5, t0)
        .iter()
        .map(|q| q.payload.id)
        .collect();
    assert_eq!(taken, vec![0, 2]);
    assert_eq!(s.len(), 2);
    assert_eq!(s.queued_rows(), 2);
    // Nothing of an absent key.
    assert!(s.take_key(&key("z"), 8, t0).is_empty());
}
