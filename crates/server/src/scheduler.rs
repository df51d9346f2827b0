//! The scheduler: one tokio task (an actor) that owns the [`BatchState`] and hands ready batches
//! to the executor threads.
//!
//! Requests arrive over a bounded channel, each with a oneshot for its answer. A batch is handed
//! out only when an executor is idle, so with a max queue delay of 0 a request that finds an
//! executor idle runs at once and batches form from what queued while all executors were busy
//! (Triton's semantics). Between events the actor sleeps until [`BatchState::next_wakeup`].
//! Requests whose deadline passed in the queue are answered DEADLINE_EXCEEDED; requests whose
//! caller has gone are dropped unanswered; neither ever runs.
//!
//! Admission: a request is refused at once (RESOURCE_EXHAUSTED) when the queue is full or when
//! the batches ahead of it and its own are predicted to end after its deadline
//! ([`crate::admission`]); the executors report each batch's measured time back to the actor,
//! which keeps the predictions current.
//!
//! Shutdown: when every [`SchedulerHandle`] is dropped the actor stops taking requests, runs
//! what is queued, waits for the executors to go idle, then closes the executors' channel so
//! that their threads end.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use loadpart_proto::loadpart::FormingBatch;
use tokio::sync::{mpsc, oneshot};

use crate::admission::{
    BatchTimes, expected_leave_rows, misses_deadline, predict_finish, predict_start,
};
use crate::batcher::{Batch, BatchKey, BatchLimits, BatchState, Queued};
use crate::error::{SchedError, ServerError};
use crate::jobs::{Done, Job, Reply, Work, micros};
use crate::monitor::Monitor;
use crate::parts::Builds;
use crate::registry::ServedModel;
use crate::validate::ValidRequest;

mod stairs;

/// Submits requests to the scheduler. Cheap to clone; the actor stops once all are dropped.
#[derive(Debug, Clone)]
pub struct SchedulerHandle {
    tx: mpsc::Sender<Job>,
}

impl SchedulerHandle {
    /// Queues `req` and waits for its answer. Refused at once with `QueueFull` when the
    /// scheduler's inbox is full (it holds at most `max_queue_len` requests not yet queued).
    pub async fn submit(&self, req: ValidRequest) -> Result<Reply, ServerError> {
        let (reply, rx) = oneshot::channel();
        let max_queue_len = self.tx.max_capacity();
        self.tx.try_send(Job { req, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                ServerError::Sched(SchedError::QueueFull { max_queue_len })
            }
            mpsc::error::TrySendError::Closed(_) => ServerError::ShuttingDown,
        })?;
        // Every queued request is answered, even at shutdown; one dropped unanswered was lost
        // to a failure (a panic outside the engine, see the log).
        rx.await.map_err(|_| ServerError::dropped())?
    }
}

/// How the scheduler batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchedConfig {
    pub limits: BatchLimits,
    /// Executor threads.
    pub executors: usize,
    /// Measured batch times older than this no longer predict anything.
    pub stale_after: Duration,
    /// Merge batches of nesting cuts into staircases.
    pub staircase: bool,
    /// Refuse requests predicted to miss their deadline (see `ServerConfig::admission`).
    pub admission: bool,
}

/// Starts the actor on the current tokio runtime. `work` feeds the executors; `done` receives
/// one message each time an executor finishes a batch.
pub(crate) fn spawn(
    config: SchedConfig,
    work: std::sync::mpsc::Sender<Work>,
    done: mpsc::UnboundedReceiver<Done>,
    monitor: Arc<Monitor>,
    builds: Arc<Builds>,
) -> Result<(SchedulerHandle, tokio::task::JoinHandle<()>), ServerError> {
    let state = BatchState::new(config.limits)?;
    let (tx, rx) = mpsc::channel(config.limits.max_queue_len);
    let actor = Actor {
        state,
        idle: config.executors,
        executors: config.executors,
        staircase: config.staircase,
        admission: config.admission,
        builds,
        work,
        monitor,
        times: BatchTimes::new(config.stale_after),
        keys: HashMap::new(),
        running: HashMap::new(),
        staged: std::collections::VecDeque::new(),
        seq: 0,
    };
    let join = tokio::spawn(actor.run(rx, done));
    Ok((SchedulerHandle { tx }, join))
}

struct Actor {
    state: BatchState<Job>,
    idle: usize,
    executors: usize,
    staircase: bool,
    /// Refuse requests predicted to miss their deadline.
    admission: bool,
    /// Where staircase segments are built, off the executors.
    builds: Arc<Builds>,
    work: std::sync::mpsc::Sender<Work>,
    monitor: Arc<Monitor>,
    /// Recent batch times, for admission.
    times: BatchTimes,
    /// What a key's profiled time needs: its model and head (seen on push).
    keys: HashMap<BatchKey, KeyInfo>,
    /// Batches running now, by `seq`: when they started, and their predicted time (errs long,
    /// for admission) and expected time (for the backlog in the load report).
    running: HashMap<u64, Running>,
    /// Full batches handed over while every executor was busy, in the order they were sent:
    /// the next executor to finish takes the first at once, without a round trip through this
    /// actor (see [`Actor::stage_full_batches`]).
    staged: std::collections::VecDeque<Staged>,
    seq: u64,
}

/// A batch handed over ahead of time, not yet running.
#[derive(Debug, Clone, Copy)]
struct Staged {
    seq: u64,
    predicted: Option<Duration>,
    expected: Option<Duration>,
}

/// A batch on an executor.
#[derive(Debug, Clone, Copy)]
struct Running {
    started: Instant,
    /// Predicted time, erring long (admission).
    predicted: Option<Duration>,
    /// Expected time (the backlog).
    expected: Option<Duration>,
}

impl Running {
    /// What is left of `time` at `now` (zero without a prediction or once overrun).
    fn remaining(&self, time: Option<Duration>, now: Instant) -> Duration {
        time.map_or(Duration::ZERO, |t| {
            t.saturating_sub(now.saturating_duration_since(self.started))
        })
    }
}

struct KeyInfo {
    model: Arc<ServedModel>,
    head: Option<loadpart_cuts::NodeSet>,
    /// The rows its batches recently left with (a moving average over about
    /// [`USUAL_ROWS_BATCHES`] batches); `None` before the first.
    usual_rows: Option<f64>,
}

/// How many recent batches a key's usual batch size averages over.
const USUAL_ROWS_BATCHES: f64 = 8.0;

impl KeyInfo {
    fn left_with(&mut self, rows: usize) {
        let rows = rows as f64;
        self.usual_rows = Some(match self.usual_rows {
            Some(u) => u + (rows - u) / USUAL_ROWS_BATCHES,
            None => rows,
        });
    }
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>, mut done: mpsc::UnboundedReceiver<Done>) {
        let mut open = true;
        loop {
            let now = Instant::now();
            self.dispatch(now);
            if !open && self.state.is_empty() && self.idle == self.executors {
                break;
            }
            // With every executor busy a ready batch cannot leave, so only an executor finishing
            // (or a new request) can change anything; deadlines are enforced when it does.
            let wake = if self.idle > 0 {
                self.state.next_wakeup(now)
            } else {
                None
            };
            let sleep = async {
                match wake {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                job = rx.recv(), if open => match job {
                    Some(job) => self.push(job),
                    None => open = false,
                },
                d = done.recv() => match d {
                    Some(d) => self.finished(d),
                    // Every executor thread has ended (they only end on a panic here): stop.
                    None => break,
                },
                () = sleep => {}
            }
        }
        for job in self.state.drain() {
            let _ = job.reply.send(Err(ServerError::ShuttingDown));
        }
    }

    /// An executor finished a batch: it is idle again, and the batch's time is measured.
    fn finished(&mut self, d: Done) {
        self.running.remove(&d.seq);
        // The executor that finished took the first staged batch, if any, as it went idle.
        match self.staged.pop_front() {
            Some(s) => {
                self.running.insert(
                    s.seq,
                    Running {
                        started: Instant::now(),
                        predicted: s.predicted,
                        expected: s.expected,
                    },
                );
                self.monitor.busy.fetch_add(1, Ordering::Relaxed);
            }
            None => self.idle += 1,
        }
        if let Some(ran) = d.ran {
            let now = Instant::now();
            let (rows, profiled) = (ran.rows, ran.profiled_us);
            self.times
                .observe(&d.key, rows, ran.measured, ran.infer, profiled, now);
        }
    }

    /// The predicted time of a batch of `key` with `rows` rows, if there is data for it.
    fn batch_time(&self, key: &BatchKey, rows: usize, now: Instant) -> Option<Duration> {
        let profiled = self
            .keys
            .get(key)
            .and_then(|k| k.model.profiled_us(k.head.as_ref(), rows));
        self.times.estimate(key, rows, profiled, now)
    }

    /// The expected time of a batch of `key` with `rows` rows (no safety margin).
    fn expected_batch_time(&self, key: &BatchKey, rows: usize, now: Instant) -> Option<Duration> {
        let profiled = self
            .keys
            .get(key)
            .and_then(|k| k.model.profiled_us(k.head.as_ref(), rows));
        self.times.expected(key, rows, profiled, now)
    }

    /// How long from `now` until the batch holding a new request of `key` and `rows` rows would
    /// end; `None` when some batch on the way has no prediction.
    fn predict(&self, key: &BatchKey, rows: usize, now: Instant) -> Option<Duration> {
        let staged = self.staged.iter().map(|s| s.predicted);
        let ahead = staged
            .chain(
                self.state
                    .batches_ahead(key, rows)
                    .iter()
                    .map(|(k, r)| self.batch_time(k, *r, now)),
            )
            .collect::<Option<Vec<Duration>>>()?;
        let running: Vec<Duration> = self
            .running
            .values()
            .map(|r| r.remaining(r.predicted, now))
            .collect();
        Some(predict_finish(&running, &ahead, self.executors))
    }

    /// How long from `now` until a request arriving now, at a key with nothing queued, would
    /// start: the batches running and queued, at their expected times, list-scheduled on the
    /// executors, each batch still forming at the size its key's batches usually leave with
    /// ([`expected_leave_rows`]). `None` when some batch has no time estimate yet.
    fn backlog(&self, now: Instant) -> Option<Duration> {
        let queued = self.state.batches_queued();
        let usual = |k: &BatchKey| self.keys.get(k).and_then(|i| i.usual_rows);
        let rows = expected_leave_rows(&queued, usual, self.state.limits().max_batch_rows);
        let staged = self.staged.iter().map(|s| s.expected);
        let ahead = staged
            .chain(
                queued
                    .iter()
                    .zip(rows)
                    .map(|((k, _), r)| self.expected_batch_time(k, r, now)),
            )
            .collect::<Option<Vec<Duration>>>()?;
        let running: Vec<Duration> = self
            .running
            .values()
            .map(|r| r.remaining(r.expected, now))
            .collect();
        Some(predict_start(&running, &ahead, self.executors))
    }

    /// Refuses `job` if it is predicted to miss its deadline; hands it back otherwise.
    fn admit(&mut self, job: Job) -> Option<Job> {
        let now = Instant::now();
        let req = &job.req;
        let deadline = req.deadline?;
        if deadline <= now {
            let waited = req.arrival.elapsed();
            self.monitor.record_failure(&req.model.name, waited);
            let _ = job.reply.send(Err(ServerError::DeadlineExceeded {
                waited_us: micros(waited),
            }));
            return None;
        }
        if !self.admission {
            return Some(job);
        }
        let predicted = self.predict(&req.key, req.rows, now);
        if !misses_deadline(now, Some(deadline), predicted) {
            return Some(job);
        }
        let error = SchedError::WouldMissDeadline {
            predicted_us: predicted.map_or(0, micros),
            budget_us: micros(deadline.saturating_duration_since(now)),
        };
        tracing::debug!(model = %req.model.name, %error, "refused at admission");
        self.monitor
            .record_failure(&req.model.name, req.arrival.elapsed());
        let _ = job.reply.send(Err(error.into()));
        None
    }

    fn push(&mut self, job: Job) {
        let key = job.req.key.clone();
        self.keys.entry(key).or_insert_with(|| KeyInfo {
            model: job.req.model.clone(),
            head: job.req.entry.head().cloned(),
            usual_rows: None,
        });
        let Some(job) = (match job.req.deadline {
            Some(_) => self.admit(job),
            None => Some(job),
        }) else {
            self.answer_dropped();
            return;
        };
        let queued = Queued {
            rows: job.req.rows,
            // Queue wait starts once the part is ready (a cold build is not contention).
            arrival: job.req.arrival + job.req.part_wait,
            deadline: job.req.deadline,
            payload: job,
        };
        let key = queued.payload.req.key.clone();
        if let Err(rejected) = self.state.push(key, queued) {
            let model = rejected.payload.req.model.name.clone();
            let waited = rejected.payload.req.arrival.elapsed();
            self.monitor.record_failure(&model, waited);
            let _ = rejected.payload.reply.send(Err(rejected.error.into()));
        }
        self.answer_dropped();
    }

    /// Hands out ready batches while executors are idle, then publishes the gauges.
    fn dispatch(&mut self, now: Instant) {
        while self.idle > 0 {
            let Some(batch) = self.state.next_batch(now) else {
                break;
            };
            self.idle -= 1;
            self.monitor.busy.fetch_add(1, Ordering::Relaxed);
            self.seq += 1;
            if let Some(k) = self.keys.get_mut(&batch.key) {
                k.left_with(batch.rows);
            }
            let (earlier, batch) = if self.staircase {
                self.merge(batch, now)
            } else {
                (Vec::new(), batch)
            };
            // A staircase has no batch time of its own; its final batch's is a lower bound.
            let running = Running {
                started: now,
                predicted: self.batch_time(&batch.key, batch.rows, now),
                expected: self.expected_batch_time(&batch.key, batch.rows, now),
            };
            self.running.insert(self.seq, running);
            self.hand_over(earlier, batch, now);
        }
        self.stage_full_batches(now);
        self.answer_dropped();
        self.monitor
            .queue_len
            .store(self.state.len(), Ordering::Relaxed);
        let forming = self
            .state
            .forming()
            .into_iter()
            .map(|(key, rows)| FormingBatch {
                model_name: key.model,
                cut_id: key.cut.to_string(),
                size: rows as u32,
            })
            .collect();
        self.monitor.set_forming(forming);
        self.monitor.set_backlog(now, self.backlog(now));
    }

    /// With every executor busy, hands over full batches (at most one per executor) ahead of
    /// time, so that an executor that finishes starts the next batch at once instead of
    /// waiting for this actor to hear of it and dispatch: on a saturated server that round trip
    /// is idle executor time on every batch. Only a full batch at the head of the queue goes
    /// (it cannot grow by waiting, and nothing jumps the queue); not with staircases, whose
    /// merging looks at the queue when an executor is free.
    fn stage_full_batches(&mut self, now: Instant) {
        while !self.staircase && self.idle == 0 && self.staged.len() < self.executors {
            let Some(batch) = self.state.next_full_batch(now) else {
                break;
            };
            self.seq += 1;
            if let Some(k) = self.keys.get_mut(&batch.key) {
                k.left_with(batch.rows);
            }
            self.staged.push_back(Staged {
                seq: self.seq,
                predicted: self.batch_time(&batch.key, batch.rows, now),
                expected: self.expected_batch_time(&batch.key, batch.rows, now),
            });
            self.hand_over(Vec::new(), batch, now);
        }
    }

    /// Sends batch `self.seq` to the executors; at shutdown answers its requests instead.
    fn hand_over(&mut self, earlier: Vec<crate::jobs::Early>, batch: Batch<Job>, now: Instant) {
        if let Err(std::sync::mpsc::SendError(w)) = self.work.send(Work {
            seq: self.seq,
            earlier,
            batch,
            dispatched: now,
        }) {
            let early = w.earlier.into_iter().flat_map(|e| e.requests);
            for q in early.chain(w.batch.requests) {
                let _ = q.payload.reply.send(Err(ServerError::ShuttingDown));
            }
        }
    }

    fn answer_dropped(&mut self) {
        let dropped = self.state.take_dropped();
        for job in dropped.expired {
            let waited = job.req.arrival.elapsed();
            self.monitor.record_failure(&job.req.model.name, waited);
            let _ = job.reply.send(Err(ServerError::DeadlineExceeded {
                waited_us: micros(waited),
            }));
        }
        for job in dropped.cancelled {
            let waited = job.req.arrival.elapsed();
            self.monitor.record_failure(&job.req.model.name, waited);
        }
    }
}
