//! Parts off the executors: a request's part (tail of its cut, or the whole model) is made ready
//! before the request is queued, and a cold one is built on a blocking task; so are the segments
//! that staircase merging runs ([`Builds::start`]).
//!
//! Building a part takes from milliseconds to seconds (extraction, engine session, plans). On an
//! executor thread that would stall every batch behind it, whatever cut it is for; here only the
//! requests for that cut wait (the part cache builds each part once however many ask), while
//! batches of warm cuts keep running. A staircase is merged only through segments already built:
//! the scheduler starts the build of a missing one and runs the batch unmerged meanwhile.
//! [`warm`] builds and warms chosen cuts at start, before the server binds, so that the cuts
//! devices are likely to use never pay this on a request.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use loadpart_cuts::CutId;
use loadpart_runtime::{PartKey, PartRunner, PartSpec};
use tokio::sync::Semaphore;

use crate::error::ServerError;
use crate::registry::{ServedModel, WarmCuts};
use crate::validate::ValidRequest;

/// Builds of parts on blocking tasks, beside the executors: permits bound how many run at once
/// (so that a burst of cold cuts does not take every core from the executors), and background
/// builds are started once per part.
#[derive(Debug)]
pub(crate) struct Builds {
    permits: Semaphore,
    /// Parts building in the background now ([`Builds::start`]).
    background: Mutex<HashSet<PartKey>>,
}

impl Builds {
    /// At most `permits` builds at once (at least 1).
    pub fn new(permits: usize) -> Arc<Self> {
        Arc::new(Self {
            permits: Semaphore::new(permits.max(1)),
            background: Mutex::new(HashSet::new()),
        })
    }

    /// `spec` of `model` from the cache, or built now on a blocking task once a permit is free.
    async fn build(
        &self,
        model: &Arc<ServedModel>,
        spec: PartSpec,
    ) -> Result<Arc<PartRunner>, ServerError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ServerError::ShuttingDown)?;
        let started = Instant::now();
        let shown = spec.to_string();
        let m = model.clone();
        let part = tokio::task::spawn_blocking(move || m.runtime.part(spec))
            .await
            .map_err(|e| ServerError::Config(format!("building a part panicked: {e}")))??;
        tracing::debug!(model = %model.name, part = %shown, took = ?started.elapsed(), "part ready");
        Ok(part)
    }

    /// Starts building `spec` of `model` on a blocking task, unless it is building already;
    /// returns at once. The part lands in the model's part cache. Call on a tokio runtime.
    pub fn start(self: &Arc<Self>, model: &Arc<ServedModel>, spec: PartSpec) {
        let key = PartKey {
            model: model.runtime.identity().to_string(),
            spec: spec.clone(),
        };
        if !self.background.lock().insert(key.clone()) {
            return;
        }
        let (builds, model) = (self.clone(), model.clone());
        tokio::spawn(async move {
            if let Err(e) = builds.build(&model, spec).await {
                tracing::warn!(model = %model.name, part = %key.spec, error = %e, "background build failed");
            }
            builds.background.lock().remove(&key);
        });
    }
}

/// Loads `req`'s part unless it is cached, on a blocking task ([`Builds`]), waiting at most until
/// the request's deadline (the build goes on and is cached either way), and stores it in the
/// request.
pub(crate) async fn ready(req: &mut ValidRequest, builds: &Builds) -> Result<(), ServerError> {
    let spec = req.part_spec();
    if let Some(part) = req.model.runtime.cached(spec.clone()) {
        req.part = Some(part);
        return Ok(());
    }
    let expired = || ServerError::DeadlineExceeded {
        waited_us: crate::jobs::micros(req.arrival.elapsed()),
    };
    let build = builds.build(&req.model, spec);
    let part = match req.deadline {
        Some(d) => tokio::time::timeout_at(d.into(), build)
            .await
            .map_err(|_| expired())??,
        None => build.await?,
    };
    req.part = Some(part);
    req.part_wait = req.arrival.elapsed();
    Ok(())
}

/// The canonical cuts `warm` names for `model`. Errors on an id that is not a cut of the model.
pub fn resolve(model: &ServedModel, warm: &WarmCuts) -> Result<Vec<CutId>, ServerError> {
    let prepared = model.runtime.prepared();
    let dag = prepared.stages.dag();
    match warm {
        WarmCuts::None => Ok(Vec::new()),
        WarmCuts::Auto(most) => {
            let space = prepared.stages.cut_space(0);
            let inner: Vec<CutId> = space
                .boundaries()
                .iter()
                .filter(|b| !b.cut.is_full_offload() && !b.cut.is_full_local())
                .map(|b| b.cut.id(dag))
                .collect();
            Ok(spread(inner, *most))
        }
        WarmCuts::List(ids) => ids
            .iter()
            .map(|id| {
                let names = CutId::parse(id)?.names();
                let sent: Vec<&str> = names.iter().map(String::as_str).collect();
                Ok(dag.cut_for_request(&sent, None)?.cut.id(dag))
            })
            .collect::<Result<Vec<_>, loadpart_cuts::CutError>>()
            .map_err(|e| ServerError::Config(format!("--warm-cuts for {:?}: {e}", model.name))),
    }
}

/// At most `most` of `items`, evenly spaced, first and last included.
fn spread<T: Clone>(items: Vec<T>, most: usize) -> Vec<T> {
    if items.len() <= most {
        return items;
    }
    match most {
        0 => Vec::new(),
        1 => vec![items[items.len() / 2].clone()],
        _ => (0..most)
            .map(|i| items[i * (items.len() - 1) / (most - 1)].clone())
            .collect(),
    }
}

/// Builds the tails of `cuts` and runs each once at every size of `batch_sizes`, so that engine
/// sessions and plans exist before the first request. Blocking; call at start.
pub fn warm(
    model: &ServedModel,
    cuts: &[CutId],
    batch_sizes: &[usize],
) -> Result<Vec<Arc<PartRunner>>, ServerError> {
    cuts.iter()
        .map(|cut| {
            let started = Instant::now();
            let tail = model.runtime.tail(cut)?;
            tail.warm_up(batch_sizes)?;
            tracing::info!(model = %model.name, %cut, took = ?started.elapsed(), "warmed cut");
            Ok(tail)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_keeps_the_ends_and_the_count() {
        let v: Vec<u32> = (0..10).collect();
        assert_eq!(spread(v.clone(), 20), v);
        assert_eq!(spread(v.clone(), 3), vec![0, 4, 9]);
        assert_eq!(spread(v.clone(), 2), vec![0, 9]);
        assert_eq!(spread(v.clone(), 1), vec![5]);
        assert!(spread(v, 0).is_empty());
    }
}
