//! The server's side of the latency model on its own: profiled tail times per batch size.

use loadpart_cuts::{Dag, NodeId, NodeSet};

use crate::conditions::interpolation;
use crate::{ModelProfile, PlanError, ProfileRole};

/// Profiled tail times of one model on the server, resolved against its DAG. A server divides
/// the time it measured for a batch by [`ServerCosts::tail_time_us`] of the same cut and batch
/// size to get its slowdown factor f, with the numbers the planner itself uses.
#[derive(Debug, Clone)]
pub struct ServerCosts {
    batch_sizes: Vec<f64>,
    /// `node_us[b][n]`: time of node `n` in a tail, for a whole batch of `batch_sizes[b]`, µs.
    node_us: Vec<Vec<f64>>,
}

impl ServerCosts {
    /// Errors: a device profile, bad batch sizes, or a DAG node without a finite time.
    pub fn new(dag: &Dag, server: &ModelProfile) -> Result<Self, PlanError> {
        if server.role == Some(ProfileRole::Device) {
            return Err(PlanError::WrongRole {
                expected: "server",
                found: "device".into(),
                detail: "measure it with `loadpart profile --role server`",
            });
        }
        // The tables need a device side; the server's own profile stands in (only the server
        // times are kept), without its role so that the device-role check passes.
        let stand_in = ModelProfile {
            role: None,
            ..server.clone()
        };
        let tables = crate::tables::CostTables::new(dag, &stand_in, server)?;
        Ok(Self {
            batch_sizes: tables.batch_sizes,
            node_us: tables.server_us,
        })
    }

    /// Batch sizes the profile measured.
    pub fn batch_sizes(&self) -> &[f64] {
        &self.batch_sizes
    }

    /// Profiled time of the tail of the cut with head `head`, for a whole batch of `k` requests
    /// (interpolated between profiled sizes, proportional outside them), µs, with no slowdown.
    pub fn tail_time_us(&self, head: &NodeSet, k: f64) -> f64 {
        let (lo, hi, w_lo, w_hi) = interpolation(&self.batch_sizes, k.max(1.0));
        let mut t = 0.0;
        for (i, (a, b)) in self.node_us[lo].iter().zip(&self.node_us[hi]).enumerate() {
            if !head.contains(NodeId(i as u32)) {
                t += w_lo * a + w_hi * b;
            }
        }
        t
    }
}
