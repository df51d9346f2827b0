//! Profiles resolved against a DAG into dense per-node and per-tensor cost tables, and the
//! direct (non-decomposed) evaluation of one cut.

use crate::conditions::{Rates, interpolation};
use crate::{Breakdown, ModelProfile, PlanError, TensorInfo};
use loadpart_cuts::{Dag, NodeId, NodeSet, TensorId};

/// Parameter-independent costs of one tensor if it crosses the network, per sample.
#[derive(Debug, Clone, Default)]
pub(crate) struct TensorStatic {
    /// Bytes on the wire without compression (quantized, or raw f32 when there is no codec).
    pub wire_bytes: f64,
    /// Device quantization time, µs (scaled by the device slowdown per decision).
    pub encode_us: f64,
    /// Server dequantization time, µs.
    pub decode_us: f64,
    /// The measured compressed encodings: the default first, then the tighter ones. Empty when
    /// the tensor has no codec.
    pub compressed: Vec<CompressedStatic>,
}

/// One compressed encoding of a tensor, per sample.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompressedStatic {
    pub encoding: TensorEncoding,
    /// Bytes on the wire.
    pub bytes: f64,
    /// Device compression time, µs (scaled by the device slowdown).
    pub compress_us: f64,
    /// Server decompression time, µs.
    pub decompress_us: f64,
}

/// How a cut tensor goes on the wire, as the planner priced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorEncoding {
    /// Quantized (or raw, without a codec) and not compressed: on fast links and slow devices.
    Uncompressed,
    /// The default encoding the profile measured: 8-bit codes and the device's configured
    /// compressor.
    Compressed,
    /// A tighter encoding from the profile: `bits`-bit codes and zstd at `zstd_level`.
    Tighter { bits: u8, zstd_level: i32 },
}

/// One tensor's share of a cut's latency, µs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TensorCost {
    pub encode: f64,
    pub upload: f64,
    pub decode: f64,
}

impl TensorStatic {
    /// The cheapest way to send it at these rates: plain, or the compressed encoding whose
    /// added time is most outweighed by the transfer time it saves.
    pub fn cost(&self, r: &Rates) -> TensorCost {
        match self.choice(r) {
            Some(c) => TensorCost {
                encode: r.dev_scale * (self.encode_us + c.compress_us),
                upload: c.bytes * r.up_us_per_byte,
                decode: self.decode_us + c.decompress_us,
            },
            None => TensorCost {
                encode: r.dev_scale * self.encode_us,
                upload: self.wire_bytes * r.up_us_per_byte,
                decode: self.decode_us,
            },
        }
    }

    /// The compressed encoding [`TensorStatic::cost`] uses at these rates, `None` when sending
    /// it uncompressed is fastest: what the device must do for the cost to hold.
    fn choice(&self, r: &Rates) -> Option<&CompressedStatic> {
        let plain = self.wire_bytes * r.up_us_per_byte;
        let time = |c: &CompressedStatic| {
            r.dev_scale * c.compress_us + c.decompress_us + c.bytes * r.up_us_per_byte
        };
        self.compressed
            .iter()
            .map(|c| (c, time(c)))
            .filter(|&(_, t)| t < plain)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c)
    }

    /// The encoding [`TensorStatic::cost`] prices at these rates.
    pub fn encoding(&self, r: &Rates) -> TensorEncoding {
        self.choice(r)
            .map_or(TensorEncoding::Uncompressed, |c| c.encoding)
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
    let mut compressed = vec![CompressedStatic {
        encoding: TensorEncoding::Compressed,
        bytes: q / c.ratio,
        compress_us: c.compress_ns_per_byte * q * 1e-3,
        decompress_us: sc.decompress_ns_per_byte * q * 1e-3,
    }];
    for level in &c.tighter {
        let nums = [
            level.ratio,
            level.compress_ns_per_byte,
            level.decompress_ns_per_byte,
        ];
        if nums.iter().any(|x| !x.is_finite() || *x < 0.0)
            || level.ratio == 0.0
            || !(2..=8).contains(&level.bits)
        {
            return Err(bad(
                "device",
                dev,
                format!(
                    "a tighter codec level needs 2..=8 bits and finite costs with a ratio > 0, \
                     got {} bits, {nums:?}",
                    level.bits
                ),
            ));
        }
        // The server measures the same levels where it profiled them; otherwise its
        // decompression is the device's scaled by the two hosts' default-level ratio (zstd
        // decompresses at about the same speed at any level).
        let server_decompress = sc
            .tighter
            .iter()
            .find(|s| s.bits == level.bits && s.zstd_level == level.zstd_level)
            .map_or_else(
                || {
                    let host = if c.decompress_ns_per_byte > 0.0 {
                        sc.decompress_ns_per_byte / c.decompress_ns_per_byte
                    } else {
                        1.0
                    };
                    level.decompress_ns_per_byte * host
                },
                |s| s.decompress_ns_per_byte,
            );
        compressed.push(CompressedStatic {
            encoding: TensorEncoding::Tighter {
                bits: level.bits,
                zstd_level: level.zstd_level,
            },
            bytes: q / level.ratio,
            compress_us: level.compress_ns_per_byte * q * 1e-3,
            decompress_us: server_decompress * q * 1e-3,
        });
    }
    Ok(TensorStatic {
        wire_bytes: q,
        encode_us: c.encode_ns_per_byte * raw * 1e-3,
        decode_us: sc.decode_ns_per_byte * raw * 1e-3,
        compressed,
    })
}

/// The encoding the planner prices for one tensor with these measured codec costs (`server`:
/// the server profile's entry for it, if any) under `e`: what [`crate::Planner::encoding_plan`]
/// sends, for tools that check an encoding's accuracy without a whole plan.
pub fn priced_encoding(
    device: &TensorInfo,
    server: Option<&TensorInfo>,
    e: &crate::Estimate,
) -> Result<TensorEncoding, PlanError> {
    Ok(tensor_static(device, server)?.encoding(&Rates::new(e, &[1.0])))
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
