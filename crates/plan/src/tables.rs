//! Profiles resolved against a DAG into dense per-node and per-tensor cost tables, and the
//! direct (non-decomposed) evaluation of one cut.

use crate::conditions::{Rates, interpolation};
use crate::{Breakdown, ModelProfile, PlanError, TensorInfo};
use loadpart_cuts::{Dag, NodeId, NodeSet, TensorId};

/// Parameter-independent costs of one tensor if it crosses the network, per sample.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TensorStatic {
    /// Bytes on the wire without compression (quantized, or raw f32 when there is no codec).
    pub wire_bytes: f64,
    /// Device quantization time, µs (scaled by the device slowdown per decision).
    pub encode_us: f64,
    /// Server dequantization time, µs.
    pub decode_us: f64,
    /// Whether a measured compression ratio exists.
    pub can_compress: bool,
    /// Bytes on the wire when compressed.
    pub compressed_bytes: f64,
    /// Device compression time, µs (scaled by the device slowdown).
    pub compress_us: f64,
    /// Server decompression time, µs.
    pub decompress_us: f64,
}

/// One tensor's share of a cut's latency, µs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TensorCost {
    pub encode: f64,
    pub upload: f64,
    pub decode: f64,
}

impl TensorStatic {
    /// The cheaper of sending it plain or compressed at these rates: compression is used only
    /// where the transfer time it saves exceeds the time it adds.
    pub fn cost(&self, r: &Rates) -> TensorCost {
        if self.compresses(r) {
            TensorCost {
                encode: r.dev_scale * (self.encode_us + self.compress_us),
                upload: self.compressed_bytes * r.up_us_per_byte,
                decode: self.decode_us + self.decompress_us,
            }
        } else {
            TensorCost {
                encode: r.dev_scale * self.encode_us,
                upload: self.wire_bytes * r.up_us_per_byte,
                decode: self.decode_us,
            }
        }
    }

    /// Whether [`TensorStatic::cost`] compresses this tensor at these rates: what the device
    /// must do for the cost to hold.
    pub fn compresses(&self, r: &Rates) -> bool {
        self.can_compress
            && r.dev_scale * self.compress_us + self.decompress_us
                < (self.wire_bytes - self.compressed_bytes) * r.up_us_per_byte
    }
}

impl TensorCost {
    pub fn total(&self) -> f64 {
        self.encode + self.upload + self.decode
    }
}

/// Dense cost tables indexed by [`NodeId`] and [`TensorId`].
#[derive(Debug, Clone)]
pub(crate) struct CostTables {
    /// Server batch sizes, strictly increasing.
    pub batch_sizes: Vec<f64>,
    /// Device time per node for one request, µs.
    pub device_us: Vec<f64>,
    /// `server_us[b][n]`: server time of node `n` for a whole batch of `batch_sizes[b]`, µs.
    pub server_us: Vec<Vec<f64>>,
    /// Per tensor; all zero for tensors that are never sent.
    pub tensors: Vec<TensorStatic>,
    /// Per tensor: f32 bytes downloaded when the tail computes it (model outputs only).
    pub download_bytes: Vec<f64>,
}

fn check_sizes(profile: &'static str, p: &ModelProfile) -> Result<Vec<f64>, PlanError> {
    let ok = !p.batch_sizes.is_empty()
        && p.batch_sizes[0] >= 1
        && p.batch_sizes.windows(2).all(|w| w[0] < w[1]);
    if !ok {
        return Err(PlanError::BadBatchSizes {
            profile,
            got: p.batch_sizes.clone(),
        });
    }
    Ok(p.batch_sizes.iter().map(|&b| b as f64).collect())
}

/// A node's times in the device profile as part of a head, or in the server profile as part of
/// a tail.
fn node_times<'a>(
    profile: &'static str,
    p: &'a ModelProfile,
    name: &str,
) -> Result<&'a [f64], PlanError> {
    let times = if profile == "server" {
        p.tail_node_times(name)
    } else {
        p.node_times(name)
    };
    let times = times.ok_or_else(|| PlanError::MissingNode {
        profile,
        node: name.to_string(),
    })?;
    if times.len() != p.batch_sizes.len() || times.iter().any(|t| !t.is_finite() || *t < 0.0) {
        return Err(PlanError::BadValue {
            profile,
            what: format!("node {name:?}"),
            detail: format!(
                "need {} finite non-negative times, got {times:?}",
                p.batch_sizes.len()
            ),
        });
    }
    Ok(times)
}

fn bad(profile: &'static str, t: &TensorInfo, detail: String) -> PlanError {
    PlanError::BadValue {
        profile,
        what: format!("tensor {:?}", t.name),
        detail,
    }
}

fn tensor_static(dev: &TensorInfo, server: Option<&TensorInfo>) -> Result<TensorStatic, PlanError> {
    let raw = dev.bytes_per_sample as f64;
    let Some(c) = &dev.codec else {
        return Ok(TensorStatic {
            wire_bytes: raw,
            ..TensorStatic::default()
        });
    };
    let sc = server.and_then(|s| s.codec.as_ref()).unwrap_or(c);
    for (profile, codec) in [("device", c), ("server", sc)] {
        let nums = [
            codec.encode_ns_per_byte,
            codec.decode_ns_per_byte,
            codec.compress_ns_per_byte,
            codec.decompress_ns_per_byte,
        ];
        if nums.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err(bad(
                profile,
                dev,
                format!("codec costs must be finite and >= 0, got {nums:?}"),
            ));
        }
    }
    if !(c.ratio.is_finite() && c.ratio > 0.0) {
        return Err(bad(
            "device",
            dev,
            format!("compression ratio must be > 0, got {}", c.ratio),
        ));
    }
    let q = (dev.elements_per_sample + c.header_bytes) as f64;
    Ok(TensorStatic {
        wire_bytes: q,
        encode_us: c.encode_ns_per_byte * raw * 1e-3,
        decode_us: sc.decode_ns_per_byte * raw * 1e-3,
        can_compress: true,
        compressed_bytes: q / c.ratio,
        compress_us: c.compress_ns_per_byte * q * 1e-3,
        decompress_us: sc.decompress_ns_per_byte * q * 1e-3,
    })
}

impl CostTables {
    /// Resolves the profiles against `dag`. Every node needs a time in both profiles, and every
    /// tensor that can cross the network (read by a node, or a model output) needs a size in the
    /// device profile; profile entries for names the DAG lacks are ignored.
    pub fn new(dag: &Dag, device: &ModelProfile, server: &ModelProfile) -> Result<Self, PlanError> {
        for (expected, p, detail) in [
            (
                "device",
                device,
                "measure it with `loadpart profile --role device`",
            ),
            (
                "server",
                server,
                "measure it with `loadpart profile --role server`",
            ),
        ] {
            if let Some(role) = p.role
                && role.as_str() != expected
            {
                return Err(PlanError::WrongRole {
                    expected,
                    found: role.as_str().to_string(),
                    detail,
                });
            }
        }
        if device.model_hash != server.model_hash {
            return Err(PlanError::ModelMismatch {
                device: device.model_hash.clone(),
                server: server.model_hash.clone(),
            });
        }
        let dev_sizes = check_sizes("device", device)?;
        let batch_sizes = check_sizes("server", server)?;
        let (lo, hi, w_lo, w_hi) = interpolation(&dev_sizes, 1.0);
        let mut device_us = Vec::with_capacity(dag.node_count());
        let mut server_us = vec![Vec::with_capacity(dag.node_count()); batch_sizes.len()];
        for node in dag.nodes() {
            let d = node_times("device", device, &node.name)?;
            device_us.push(w_lo * d[lo] + w_hi * d[hi]);
            let s = node_times("server", server, &node.name)?;
            for (b, &t) in s.iter().enumerate() {
                server_us[b].push(t);
            }
        }
        let mut tensors = vec![TensorStatic::default(); dag.tensors().len()];
        let mut download_bytes = vec![0.0; dag.tensors().len()];
        for (i, t) in dag.tensors().iter().enumerate() {
            if t.consumers.is_empty() && !t.is_output {
                continue;
            }
            let info = device
                .tensors
                .iter()
                .find(|x| x.name == t.name)
                .ok_or_else(|| PlanError::MissingTensor {
                    tensor: t.name.clone(),
                })?;
            let on_server = server.tensors.iter().find(|x| x.name == t.name);
            tensors[i] = tensor_static(info, on_server)?;
            if t.is_output && !t.is_input {
                download_bytes[i] = info.bytes_per_sample as f64;
            }
        }
        Ok(Self {
            batch_sizes,
            device_us,
            server_us,
            tensors,
            download_bytes,
        })
    }

    /// The latency of the canonical cut with head `head` (a downset), computed directly from the
    /// definition. Full local is `D(all)` alone.
    pub fn evaluate(&self, dag: &Dag, head: &NodeSet, r: &Rates) -> Breakdown {
        let mut b = Breakdown::default();
        let mut lo = 0.0;
        let mut hi = 0.0;
        for i in 0..dag.node_count() {
            if head.contains(NodeId(i as u32)) {
                b.device += self.device_us[i];
            } else {
                lo += self.server_us[r.lo][i];
                hi += self.server_us[r.hi][i];
            }
        }
        b.device *= r.dev_scale;
        if head.len() == dag.node_count() {
            return b;
        }
        for (i, t) in dag.tensors().iter().enumerate() {
            let id = TensorId(i as u32);
            if !dag.is_available(id, head) {
                b.download += self.download_bytes[i];
            } else if t.consumers.iter().any(|&c| !head.contains(c)) {
                let c = self.tensors[i].cost(r);
                b.encode += c.encode;
                b.upload += c.upload;
                b.decode += c.decode;
            }
        }
        b.download *= r.down_us_per_byte;
        b.rtt = r.rtt_us;
        b.queue = r.queue_us;
        b.server = r.server(lo, hi);
        b
    }
}
