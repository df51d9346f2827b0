//! A pool of per-thread sessions for one model.
//!
//! `ort::session::Session::run` takes `&mut self` (some ONNX Runtime allocators and statistics
//! are not thread-safe), so one session cannot serve two threads at once. A `Mutex<Session>`
//! would serialise every executor thread of the server behind one lock; handing each worker its
//! own session would leak ORT types into the server. The pool gives each concurrently running
//! thread a session of its own: it takes an idle one or builds a new one, and puts it back after
//! the run. It therefore grows to the peak number of concurrent callers (the number of executor
//! threads), bounded by `max` when set, and after warm-up every run reuses a session.

use parking_lot::{Condvar, Mutex};

struct State<S> {
    idle: Vec<S>,
    /// Sessions in existence: idle plus lent out plus being built.
    total: usize,
}

pub(crate) struct Pool<S> {
    state: Mutex<State<S>>,
    returned: Condvar,
    /// Most sessions; 0 = unbounded.
    max: usize,
}

impl<S> Pool<S> {
    /// A pool holding `first`, growing to at most `max` sessions (0 = unbounded).
    pub(crate) fn new(first: S, max: usize) -> Self {
        Pool {
            state: Mutex::new(State {
                idle: vec![first],
                total: 1,
            }),
            returned: Condvar::new(),
            max,
        }
    }

    /// Runs `f` on a session of its own: an idle one, else a new one from `make`, else (at
    /// `max`) the next one returned. The session goes back to the pool even if `f` panics.
    pub(crate) fn with<T, E>(
        &self,
        make: impl FnOnce() -> Result<S, E>,
        f: impl FnOnce(&mut S) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut lent = Lent {
            pool: self,
            session: Some(self.take(make)?),
        };
        f(lent.session.as_mut().expect("set above"))
    }

    /// Takes a session out of the pool. The lock is released before returning (and while
    /// `make` builds a session, which can take a while).
    fn take<E>(&self, make: impl FnOnce() -> Result<S, E>) -> Result<S, E> {
        let mut state = self.state.lock();
        loop {
            if let Some(s) = state.idle.pop() {
                return Ok(s);
            }
            if self.max == 0 || state.total < self.max {
                state.total += 1;
                drop(state);
                return make().inspect_err(|_| self.state.lock().total -= 1);
            }
            self.returned.wait(&mut state);
        }
    }

    /// Sessions built so far.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.state.lock().total
    }
}

/// Puts the session back on drop, so a panicking run does not shrink the pool for good.
struct Lent<'p, S> {
    pool: &'p Pool<S>,
    session: Option<S>,
}

impl<S> Drop for Lent<'_, S> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.pool.state.lock().idle.push(s);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn sequential_runs_reuse_one_session() {
        let pool = Pool::new(0u32, 0);
        for _ in 0..5 {
            pool.with(
                || Ok::<_, ()>(1),
                |s| {
                    *s += 1;
                    Ok(())
                },
            )
            .unwrap();
        }
        assert_eq!(pool.total(), 1);
    }

    #[test]
    fn grows_to_concurrency_and_respects_max() {
        for (max, want) in [(0, 4), (2, 2)] {
            let pool = Pool::new((), max);
            let made = AtomicUsize::new(1);
            let inside = AtomicUsize::new(0);
            let peak = AtomicUsize::new(0);
            let barrier = Barrier::new(4);
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        barrier.wait();
                        let make = || {
                            made.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, ()>(())
                        };
                        pool.with(make, |_| {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            inside.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                    });
                }
            });
            assert!(pool.total() <= want, "max {max}: {} sessions", pool.total());
            assert!(peak.load(Ordering::SeqCst) <= want);
            assert_eq!(pool.total(), made.load(Ordering::SeqCst));
        }
    }

    #[test]
    fn failed_make_does_not_count() {
        let pool = Pool::new((), 0);
        let r = std::thread::scope(|s| {
            let held = s.spawn(|| {
                pool.with(
                    || Err("no"),
                    |_| {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        Ok::<_, &str>(())
                    },
                )
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            let r = pool.with(|| Err("cannot build"), |_| Ok(()));
            held.join().unwrap().unwrap();
            r
        });
        assert_eq!(r, Err("cannot build"));
        assert_eq!(pool.total(), 1);
    }

    #[test]
    fn session_returns_after_panic() {
        let pool = Pool::new((), 1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.with(|| Ok::<_, ()>(()), |_| -> Result<(), ()> { panic!("boom") })
        }));
        assert!(r.is_err());
        assert_eq!(pool.with(|| Ok::<_, ()>(()), |_| Ok(7)), Ok(7));
    }
}
