//! Staircase execution: the earlier groups of a merged batch run forward, segment by segment,
//! to the final group's cut; their rows then lead the final batch's input buffers. The segments
//! come built with the work (the scheduler merges only through built ones), so an executor never
//! builds one.

use std::time::{Duration, Instant};

use loadpart_runtime::NamedTensors;

use super::{Admitted, Executor};
use crate::error::ServerError;
use crate::jobs::Early;
use crate::registry::ServedModel;

/// What the earlier stages leave for the final batch.
pub(super) struct Carried {
    /// The last segment's outputs (the final cut's tensors), rows in request order.
    pub tensors: NamedTensors,
    /// The requests whose rows they hold, in row order.
    pub admitted: Vec<Admitted>,
    /// Engine time of the segments.
    pub infer: Duration,
}

impl Executor {
    /// Runs `earlier` forward. Requests that fail to decode are answered here; if a segment
    /// fails, every request carried so far is answered with the error and nothing is carried.
    pub(super) fn forward(
        &mut self,
        model: &ServedModel,
        earlier: Vec<Early>,
        dispatched: Instant,
    ) -> Option<Carried> {
        let mut carried: Option<NamedTensors> = None;
        let mut admitted: Vec<Admitted> = Vec::new();
        let mut infer = Duration::ZERO;
        for mut stage in earlier {
            let names = stage.from.names();
            self.start_buffers(&names, carried.as_ref());
            for q in std::mem::take(&mut stage.requests) {
                self.admit(q, dispatched, &model.name, &mut admitted);
            }
            let rows: usize = admitted.iter().map(|a| a.job.req.rows).sum();
            if rows == 0 {
                continue;
            }
            let t = Instant::now();
            let result = self
                .run_part(model, &stage.segment, &names, rows)
                .map(|o| o.outputs);
            infer += t.elapsed();
            match result {
                Ok(out) => carried = Some(out),
                Err(e) => {
                    tracing::warn!(model = %model.name, error = %e, "staircase segment failed");
                    for a in admitted {
                        self.monitor
                            .record_failure(&model.name, a.job.req.arrival.elapsed());
                        let _ = a.job.reply.send(Err(ServerError::execution(&e)));
                    }
                    return None;
                }
            }
        }
        Some(Carried {
            tensors: carried?,
            admitted,
            infer,
        })
    }

    /// One input buffer per name in `names`, each starting with the carried rows of that
    /// tensor (none when nothing is carried).
    pub(super) fn start_buffers(&mut self, names: &[String], carried: Option<&NamedTensors>) {
        self.bufs.resize_with(names.len(), Vec::new);
        self.bufs.truncate(names.len());
        for (buf, name) in self.bufs.iter_mut().zip(names) {
            buf.clear();
            let rows = carried
                .and_then(|c| c.iter().find(|(n, _)| n == name))
                .and_then(|(_, t)| t.as_f32());
            if let Some(data) = rows {
                buf.extend_from_slice(data);
            }
        }
    }
}
