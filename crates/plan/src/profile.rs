//! Measured costs of one model on one engine and host, as saved to JSON by `loadpart profile`.
//!
//! Node names match [`loadpart_cuts::Dag`] node names and tensor names match its tensor names.
//! Times are microseconds, sizes bytes, codec costs nanoseconds per byte.

use serde::{Deserialize, Serialize};

/// Costs of one model on one engine and host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelProfile {
    /// Content hash of the model file; device and server profiles must agree.
    pub model_hash: String,
    /// Engine that ran the model (`ort`, `tract`, ...).
    pub engine: String,
    /// Host the profile was measured on.
    pub host: String,
    /// Whether this profile was measured for the device (heads, batch 1) or the server (tails,
    /// batches); `None` in profiles written before roles were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ProfileRole>,
    /// Threads the engine ran with (0 = the engine's default) and cores available to the
    /// process when profiling; a profile applies to runs with the same settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<ThreadSettings>,
    /// Batch sizes measured, strictly increasing. A device profile usually holds just `[1]`.
    pub batch_sizes: Vec<usize>,
    /// Per-node (per-stage) times.
    pub nodes: Vec<NodeCost>,
    /// Per-tensor sizes and codec costs.
    pub tensors: Vec<TensorInfo>,
    /// How well summed node times predicted measured head and tail times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ProfileValidation>,
}

/// Which side a profile was measured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileRole {
    Device,
    Server,
}

impl ProfileRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileRole::Device => "device",
            ProfileRole::Server => "server",
        }
    }
}

/// Thread settings a profile was measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSettings {
    /// Intra-op threads per run (0 = the engine's default).
    pub intra_threads: usize,
    /// Cores the profiling process could use (its CPU affinity).
    pub cores: usize,
}

/// Time of one stage.
///
/// A stage costs a little more or less depending on what runs around it (layout conversions at
/// the ends of a part, caches warmed by the layers before it), so a profile may give two
/// calibrations: what the stage adds to a head (used for the device) and what it adds to a
/// tail (used for the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCost {
    /// The DAG node name.
    pub name: String,
    /// For each entry of [`ModelProfile::batch_sizes`]: the time for the whole batch, µs, as
    /// part of a head.
    pub time_us: Vec<f64>,
    /// The same as part of a tail, where measured separately; `time_us` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_time_us: Option<Vec<f64>>,
}

/// Size and codec costs of one activation tensor, per sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    /// The DAG tensor name.
    pub name: String,
    /// Size as f32, bytes per sample (what is downloaded for an output, and sent when not quantized).
    pub bytes_per_sample: u64,
    /// Number of elements per sample (one byte each once quantized to uint8).
    pub elements_per_sample: u64,
    /// Quantization and compression costs; `None` sends the tensor as raw f32 at no codec cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<TensorCodec>,
}

/// Measured codec costs of one tensor on the profiled host.
///
/// The device profile's entry gives the ratio, header and device-side (encode, compress) costs;
/// the server profile's entry, where present, gives the server-side (decode, decompress) costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorCodec {
    /// Quantized bytes divided by compressed bytes (> 1 when compression shrinks the data).
    pub ratio: f64,
    /// Quantization header bytes per sample (scales, zero points): the quantized size is
    /// `elements_per_sample + header_bytes`.
    #[serde(default)]
    pub header_bytes: u64,
    /// Quantization time per f32 input byte, ns.
    pub encode_ns_per_byte: f64,
    /// Dequantization time per f32 output byte, ns.
    pub decode_ns_per_byte: f64,
    /// Compression time per quantized byte, ns.
    pub compress_ns_per_byte: f64,
    /// Decompression time per quantized byte, ns.
    pub decompress_ns_per_byte: f64,
    /// Tighter encodings than the default (8-bit codes, zstd level 1), measured on the same
    /// values: fewer bits per code and slower zstd levels, each smaller on the wire and dearer
    /// in time. Only bit widths whose accuracy the operator accepted are measured (`loadpart
    /// profile --codec-bits`, chosen with `loadpart check-codec --bits`), so the planner may
    /// pick any of them by time alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tighter: Vec<CodecLevel>,
}

/// One tighter encoding of a tensor and what it costs, per quantized byte (one per element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecLevel {
    /// Bits per code (2..=8).
    pub bits: u8,
    /// zstd level.
    pub zstd_level: i32,
    /// Quantized bytes divided by compressed bytes.
    pub ratio: f64,
    /// Compression time per quantized byte, ns.
    pub compress_ns_per_byte: f64,
    /// Decompression time per quantized byte, ns.
    pub decompress_ns_per_byte: f64,
}

/// Predicted (sum of node times) against measured head and tail times over a sample of cuts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProfileValidation {
    /// Mean absolute relative error, percent.
    pub mean_error_pct: f64,
    /// Largest absolute relative error, percent.
    pub max_error_pct: f64,
    /// Mean absolute relative error of head + tail (the compute on the request's path) per
    /// cut and batch size, percent.
    #[serde(default)]
    pub split_mean_error_pct: f64,
    /// Largest such error, percent.
    #[serde(default)]
    pub split_max_error_pct: f64,
    /// The individual checks.
    #[serde(default)]
    pub samples: Vec<ValidationSample>,
}

/// One predicted-vs-measured check of a head or tail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationSample {
    /// Canonical cut id.
    pub cut: loadpart_cuts::CutId,
    /// `"head"` or `"tail"`.
    pub part: String,
    /// Batch size of the run.
    pub batch_size: usize,
    /// Sum of the profiled node times, µs.
    pub predicted_us: f64,
    /// Measured time of the extracted part, µs. `loadpart profile` measures it as a share of
    /// the whole model's time in runs made alongside, times the profile's whole-model time, so
    /// that the host's speed drifting during profiling is not counted as prediction error.
    pub measured_us: f64,
}

impl ModelProfile {
    /// Time of node `name` as part of a head, for the whole batch at each profiled batch size,
    /// if present.
    pub fn node_times(&self, name: &str) -> Option<&[f64]> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.time_us.as_slice())
    }

    /// Time of node `name` as part of a tail (see [`NodeCost`]), if present.
    pub fn tail_node_times(&self, name: &str) -> Option<&[f64]> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.tail_time_us.as_deref().unwrap_or(&n.time_us))
    }
}
