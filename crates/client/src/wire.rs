//! ModelInfer requests and replies as the device builds and reads them: encoded cut tensors out,
//! outputs, the server's timings for this request and its load report back.

use std::collections::HashMap;
use std::time::Duration;

use loadpart_codec::{Compression, EncodeOptions, Encoder, ParamValue};
use loadpart_cuts::CutId;
use loadpart_plan::TensorEncoding;
use loadpart_proto::inference::model_infer_request::{
    InferInputTensor, InferRequestedOutputTensor,
};
use loadpart_proto::inference::{InferParameter, ModelInferRequest, ModelInferResponse};
use loadpart_proto::loadpart::LoadReport;
use loadpart_proto::to_proto_params;
use loadpart_proto::{Bytes, names};
use loadpart_runtime::{NamedTensors, Tensor};
use prost::Message;

use crate::{ClientError, CutLoad, DeviceShare, FormingBatch, LoadSample};

/// Cut tensors encoded for the wire.
#[derive(Debug, Clone, Default)]
pub struct EncodedCut {
    /// One input per sent tensor: name, FP32 datatype, shape, and the codec's header parameters.
    pub inputs: Vec<InferInputTensor>,
    /// The payloads, in `inputs` order (shared, not copied, when the same tensors are sent
    /// again).
    pub raw: Vec<Bytes>,
    /// Payload bytes in all.
    pub bytes: u64,
    /// Time spent quantizing and compressing.
    pub encode: Duration,
}

/// Encodes `sent` (f32 tensors) with `encoder`, each tensor compressed as configured.
pub fn encode_tensors(
    encoder: &mut Encoder,
    sent: &[(String, Tensor)],
) -> Result<EncodedCut, ClientError> {
    encode_tensors_as(encoder, sent, &|_| TensorEncoding::Compressed)
}

/// Encodes `sent` with `encoder`, each tensor as `encoding` names it (as the planner priced
/// it): uncompressed, with the encoder's own settings, or with a tighter code width and zstd
/// level. The encoder's settings are as they were afterwards, also on error.
pub fn encode_tensors_as(
    encoder: &mut Encoder,
    sent: &[(String, Tensor)],
    encoding: &dyn Fn(&str) -> TensorEncoding,
) -> Result<EncodedCut, ClientError> {
    let configured = *encoder.options();
    let start = std::time::Instant::now();
    let mut out = EncodedCut::default();
    let result = sent.iter().try_for_each(|(name, t)| {
        set_encoding(encoder, &configured, encoding(name))?;
        let e = encoder.encode(f32_data(name, t)?, &t.shape)?;
        out.bytes += e.payload.len() as u64;
        out.inputs.push(InferInputTensor {
            name: name.clone(),
            datatype: "FP32".into(),
            shape: dims_i64(&t.shape),
            parameters: to_proto_params(e.header.to_params()),
            contents: None,
        });
        out.raw.push(e.payload.into());
        Ok::<_, ClientError>(())
    });
    set_encoding(encoder, &configured, TensorEncoding::Compressed)?;
    result?;
    out.encode = start.elapsed();
    Ok(out)
}

/// Points `encoder` at `encoding`, where [`TensorEncoding::Compressed`] is `configured`.
fn set_encoding(
    encoder: &mut Encoder,
    configured: &EncodeOptions,
    encoding: TensorEncoding,
) -> Result<(), ClientError> {
    let (compression, bits) = match encoding {
        TensorEncoding::Uncompressed => (Compression::None, configured.bits),
        TensorEncoding::Compressed => (configured.compression, configured.bits),
        TensorEncoding::Tighter { bits, zstd_level } => {
            (Compression::Zstd { level: zstd_level }, bits)
        }
    };
    encoder.set_compression(compression)?;
    encoder.set_bits(bits)?;
    Ok(())
}

fn f32_data<'a>(name: &str, t: &'a Tensor) -> Result<&'a [f32], ClientError> {
    t.as_f32()
        .ok_or_else(|| ClientError::BadInput(format!("cut tensor {name:?} is not float32")))
}

/// `sent` as the server would see it after encoding (each tensor as `encoding` names it, as
/// it was sent) and decoding: what a device computes the tail on when the server fails, so
/// that the result does not depend on which side ran it.
pub fn quantized_copy(
    encoder: &mut Encoder,
    sent: &[(String, Tensor)],
    encoding: &dyn Fn(&str) -> TensorEncoding,
) -> Result<NamedTensors, ClientError> {
    let limits = loadpart_codec::DecodeLimits::default();
    let mut decoder = loadpart_codec::Decoder::new();
    let configured = *encoder.options();
    let result = sent
        .iter()
        .map(|(name, t)| {
            set_encoding(encoder, &configured, encoding(name))?;
            let e = encoder.encode(f32_data(name, t)?, &t.shape)?;
            let values = decoder.decode(&e.validate(&limits)?)?;
            let t = Tensor::f32(t.shape.clone(), values)
                .map_err(|e| ClientError::BadInput(format!("cut tensor {name:?}: {e}")))?;
            Ok((name.clone(), t))
        })
        .collect();
    set_encoding(encoder, &configured, TensorEncoding::Compressed)?;
    result
}

/// Plain FP32 inputs in `raw_input_contents`, as any Open Inference Protocol client sends them
/// (the `server` policy with raw inputs).
pub fn raw_tensors(tensors: &[(String, Tensor)]) -> Result<EncodedCut, ClientError> {
    let mut out = EncodedCut::default();
    for (name, t) in tensors {
        let data = t
            .as_f32()
            .ok_or_else(|| ClientError::BadInput(format!("input {name:?} is not float32")))?;
        let bytes = loadpart_proto::le_f32_bytes(data);
        out.bytes += bytes.len() as u64;
        out.inputs.push(InferInputTensor {
            name: name.clone(),
            datatype: "FP32".into(),
            shape: dims_i64(&t.shape),
            parameters: HashMap::new(),
            contents: None,
        });
        out.raw.push(bytes);
    }
    Ok(out)
}

/// What identifies a partitioned request besides its tensors.
#[derive(Debug, Clone)]
pub struct RequestMeta<'a> {
    /// The server's model name.
    pub model: &'a str,
    /// The model identity the head ran on; `None` for a plain request.
    pub identity: Option<&'a str>,
    /// The cut, for its checksum; `None` for a plain request.
    pub cut: Option<&'a CutId>,
    /// Outputs wanted from the server (empty: all).
    pub outputs: &'a [String],
    /// How long the server may take.
    pub timeout: Option<Duration>,
}

/// The ModelInfer request for `tensors`.
pub fn request(meta: &RequestMeta<'_>, tensors: EncodedCut) -> ModelInferRequest {
    let mut params = Vec::new();
    if let Some(id) = meta.identity {
        params.push((
            names::MODEL_IDENTITY.to_string(),
            ParamValue::String(id.to_string()),
        ));
    }
    if let Some(cut) = meta.cut {
        params.push((
            names::CUT_CHECKSUM.to_string(),
            ParamValue::String(cut.checksum_hex()),
        ));
    }
    if let Some(t) = meta.timeout {
        params.push((
            names::TIMEOUT.to_string(),
            ParamValue::Int64(i64::try_from(t.as_micros()).unwrap_or(i64::MAX).max(1)),
        ));
    }
    ModelInferRequest {
        model_name: meta.model.to_string(),
        inputs: tensors.inputs,
        outputs: meta
            .outputs
            .iter()
            .map(|n| InferRequestedOutputTensor {
                name: n.clone(),
                parameters: HashMap::new(),
            })
            .collect(),
        parameters: to_proto_params(params),
        raw_input_contents: tensors.raw,
        ..Default::default()
    }
}

/// The server's account of one request, from the reply's parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ServerTimings {
    /// Waiting for a cold part to be built before being queued, µs.
    pub part_us: f64,
    /// Waiting in the queue, µs.
    pub queue_us: f64,
    /// Decoding the cut tensors, µs.
    pub decode_us: f64,
    /// Running the batch it was part of, µs.
    pub compute_us: f64,
    /// Requests in that batch.
    pub batch_size: u32,
}

impl ServerTimings {
    /// Time the request spent inside the server, µs.
    pub fn total_us(&self) -> f64 {
        self.part_us + self.queue_us + self.decode_us + self.compute_us
    }
}

/// A decoded reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The outputs the server computed, by name.
    pub outputs: NamedTensors,
    /// Its timings, when it reported them (a loadpart server always does).
    pub timings: Option<ServerTimings>,
    /// Its load report, when it sent one.
    pub load: Option<LoadSample>,
    /// Output payload bytes received.
    pub bytes: u64,
}

/// Reads `r`: FP32 outputs from `raw_output_contents` (or typed `fp32_contents`), the timings and
/// the load report from its parameters.
pub fn parse_reply(r: ModelInferResponse) -> Result<Reply, ClientError> {
    let bad = |m: String| ClientError::BadInput(format!("server reply: {m}"));
    let mut outputs = Vec::with_capacity(r.outputs.len());
    let mut bytes = 0u64;
    let mut raw = r.raw_output_contents.into_iter();
    for o in r.outputs {
        if o.datatype != "FP32" {
            return Err(bad(format!(
                "output {:?} is {}, expected FP32",
                o.name, o.datatype
            )));
        }
        let shape: Vec<usize> = o
            .shape
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| bad(format!("output {:?} dim {d}", o.name))))
            .collect::<Result<_, _>>()?;
        let data: Vec<f32> = match (raw.next(), &o.contents) {
            (Some(b), _) => {
                if b.len() % 4 != 0 {
                    return Err(bad(format!("output {:?}: {} bytes", o.name, b.len())));
                }
                bytes += b.len() as u64;
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            }
            (None, Some(c)) => c.fp32_contents.clone(),
            (None, None) => return Err(bad(format!("output {:?} has no data", o.name))),
        };
        let t = Tensor::f32(shape, data).map_err(|e| bad(format!("output {:?}: {e}", o.name)))?;
        outputs.push((o.name, t));
    }
    let p = &r.parameters;
    let timings = num(p, names::COMPUTE_US).map(|compute_us| ServerTimings {
        part_us: num(p, names::PART_US).unwrap_or(0.0),
        queue_us: num(p, names::QUEUE_US).unwrap_or(0.0),
        decode_us: num(p, names::DECODE_US).unwrap_or(0.0),
        compute_us,
        batch_size: num(p, names::BATCH_SIZE).unwrap_or(1.0) as u32,
    });
    let load = num(p, names::load::SLOWDOWN).map(|slowdown| {
        use names::load::*;
        let f = |k| num(p, k).unwrap_or(0.0);
        LoadSample {
            timestamp_unix_ms: 0,
            window_s: f(WINDOW_S),
            queue_wait_mean_us: f(QUEUE_WAIT_MEAN_US),
            queue_wait_p95_us: f(QUEUE_WAIT_P95_US),
            slowdown,
            queue_length: f(QUEUE_LENGTH) as u32,
            in_flight: f(IN_FLIGHT) as u32,
            requests_per_s: f(REQUESTS_PER_S),
            batch_mix: Vec::new(),
            forming: Vec::new(),
            mean_batch_size: f(MEAN_BATCH_SIZE),
            executors: f(EXECUTORS) as u32,
            executors_busy: f(EXECUTORS_BUSY) as u32,
            cut_batches: None,
            backlog_us: num(p, BACKLOG_US),
            backlog_mean_us: num(p, BACKLOG_MEAN_US),
            device_share: share_from_params(p),
            utilization: 0.0,
            busy_seconds_total: 0.0,
        }
    });
    Ok(Reply {
        outputs,
        timings,
        load,
        bytes,
    })
}

/// The caller's fair share as the server reported it in `r`, without reading its outputs.
pub fn reply_share(r: &ModelInferResponse) -> Option<DeviceShare> {
    share_from_params(&r.parameters)
}

/// The caller's fair share from a reply's `loadpart_share_*` parameters, if present.
fn share_from_params(p: &HashMap<String, InferParameter>) -> Option<DeviceShare> {
    use names::share::*;
    let queued = num(p, QUEUED)?;
    Some(DeviceShare {
        device: String::new(),
        active_devices: num(p, ACTIVE_DEVICES).unwrap_or(1.0) as u32,
        queued: queued as u32,
        queued_limit: num(p, QUEUED_LIMIT).map(|v| v as u32),
        admitted_per_s: num(p, ADMITTED_PER_S).unwrap_or(0.0),
        rate_limit_per_s: num(p, RATE_LIMIT_PER_S),
    })
}

/// A numeric parameter (int64 or double) by key.
fn num(p: &HashMap<String, InferParameter>, key: &str) -> Option<f64> {
    use loadpart_proto::inference::infer_parameter::ParameterChoice as C;
    match p.get(key)?.parameter_choice.as_ref()? {
        C::Int64Param(v) => Some(*v as f64),
        C::DoubleParam(v) => Some(*v),
        C::Uint64Param(v) => Some(*v as f64),
        _ => None,
    }
}

/// The estimator's view of a `loadpart.v1.LoadReport`.
pub fn load_sample(r: &LoadReport) -> LoadSample {
    LoadSample {
        timestamp_unix_ms: r.timestamp_unix_ms,
        window_s: r.window_s,
        queue_wait_mean_us: r.queue_wait_mean_us,
        queue_wait_p95_us: r.queue_wait_p95_us,
        slowdown: r.slowdown,
        queue_length: r.queue_length,
        in_flight: r.in_flight,
        requests_per_s: r.requests_per_s,
        batch_mix: r
            .batch_mix
            .iter()
            .map(|b| (b.batch_size, b.count))
            .collect(),
        forming: r
            .forming
            .iter()
            .map(|f| FormingBatch {
                model_name: f.model_name.clone(),
                cut_id: f.cut_id.clone(),
                size: f.size,
            })
            .collect(),
        mean_batch_size: r.mean_batch_size,
        executors: r.executors,
        executors_busy: r.executors_busy,
        cut_batches: Some(
            r.cut_batches
                .iter()
                .map(|c| CutLoad {
                    cut_id: c.cut_id.clone(),
                    requests: c.requests,
                    mean_batch_size: c.mean_batch_size,
                    queue_wait_mean_us: c.queue_wait_mean_us,
                })
                .collect(),
        ),
        backlog_us: r.backlog_us,
        backlog_mean_us: r.backlog_mean_us,
        utilization: r.utilization,
        busy_seconds_total: r.busy_seconds_total,
        device_share: r.device_share.as_ref().map(|s| DeviceShare {
            device: s.device.clone(),
            active_devices: s.active_devices,
            queued: s.queued,
            queued_limit: s.queued_limit,
            admitted_per_s: s.admitted_per_s,
            rate_limit_per_s: s.rate_limit_per_s,
        }),
    }
}

/// The load report a RESOURCE_EXHAUSTED status carries in its metadata, if any.
pub fn load_from_status(status: &tonic::Status) -> Option<LoadSample> {
    let v = status.metadata().get_bin(names::LOAD_REPORT_METADATA)?;
    let bytes = v.to_bytes().ok()?;
    LoadReport::decode(bytes.as_ref())
        .ok()
        .map(|r| load_sample(&r))
}

/// The retry pushback a refusal carries (gRPC's `grpc-retry-pushback-ms`, gRFC A6): how long
/// the server asks the caller to wait. `None` when absent or not a whole number of ms (gRFC A6
/// says a negative or malformed value means "do not retry"; a device then simply plans again).
pub fn pushback_from_status(status: &tonic::Status) -> Option<Duration> {
    let v = status.metadata().get(names::RETRY_PUSHBACK_METADATA)?;
    let ms: u64 = v.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_millis(ms))
}

fn dims_i64(dims: &[usize]) -> Vec<i64> {
    dims.iter().map(|&d| d as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadpart_codec::EncodeOptions;
    use loadpart_proto::inference::model_infer_response::InferOutputTensor;

    fn int(v: i64) -> InferParameter {
        InferParameter {
            parameter_choice: Some(
                loadpart_proto::inference::infer_parameter::ParameterChoice::Int64Param(v),
            ),
        }
    }

    #[test]
    fn a_request_carries_identity_checksum_timeout_and_codec_headers() {
        let t = Tensor::f32(vec![1, 2, 2], vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let mut enc = Encoder::new(EncodeOptions::default()).unwrap();
        let e = encode_tensors(&mut enc, &[("a".into(), t)]).unwrap();
        assert_eq!(e.raw.len(), 1);
        assert!(e.bytes > 0);
        let cut = CutId::from_names(["a"]);
        let r = request(
            &RequestMeta {
                model: "m",
                identity: Some("abc"),
                cut: Some(&cut),
                outputs: &["y".into()],
                timeout: Some(Duration::from_millis(5)),
            },
            e,
        );
        assert_eq!(r.model_name, "m");
        assert_eq!(r.inputs[0].shape, [1, 2, 2]);
        assert!(!r.inputs[0].parameters.is_empty(), "codec header missing");
        assert_eq!(num(&r.parameters, names::TIMEOUT), Some(5000.0));
        assert!(r.parameters.contains_key(names::MODEL_IDENTITY));
        assert!(r.parameters.contains_key(names::CUT_CHECKSUM));
        assert_eq!(r.outputs[0].name, "y");
    }

    #[test]
    fn replies_parse_and_bad_ones_are_errors() {
        let mut r = ModelInferResponse {
            outputs: vec![InferOutputTensor {
                name: "y".into(),
                datatype: "FP32".into(),
                shape: vec![1, 2],
                ..Default::default()
            }],
            raw_output_contents: vec![[1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect()],
            ..Default::default()
        };
        r.parameters.insert(names::COMPUTE_US.into(), int(700));
        r.parameters.insert(names::QUEUE_US.into(), int(300));
        r.parameters.insert(names::BATCH_SIZE.into(), int(3));
        let ok = parse_reply(r.clone()).unwrap();
        assert_eq!(ok.outputs[0].1.as_f32().unwrap(), [1.0, 2.0]);
        let t = ok.timings.unwrap();
        assert_eq!((t.total_us(), t.batch_size), (1000.0, 3));
        assert!(ok.load.is_none());
        assert_eq!(ok.bytes, 8);

        let mut short = r.clone();
        let n = short.raw_output_contents[0].len();
        short.raw_output_contents[0].truncate(n - 1);
        assert!(parse_reply(short).is_err());
        let mut wrong_shape = r.clone();
        wrong_shape.outputs[0].shape = vec![1, 3];
        assert!(parse_reply(wrong_shape).is_err());
        let mut negative = r.clone();
        negative.outputs[0].shape = vec![-1, 2];
        assert!(parse_reply(negative).is_err());
        let mut int8 = r;
        int8.outputs[0].datatype = "INT8".into();
        assert!(parse_reply(int8).is_err());
    }

    #[test]
    fn a_refusal_s_pushback_is_read_in_milliseconds_and_malformed_ones_are_ignored() {
        let with = |v: &str| {
            let mut s = tonic::Status::resource_exhausted("over share");
            s.metadata_mut()
                .insert(names::RETRY_PUSHBACK_METADATA, v.parse().unwrap());
            pushback_from_status(&s)
        };
        assert_eq!(with("2500"), Some(Duration::from_millis(2500)));
        assert_eq!(with("-1"), None);
        assert_eq!(with("soon"), None);
        assert_eq!(
            pushback_from_status(&tonic::Status::resource_exhausted("queue full")),
            None
        );
    }

    #[test]
    fn tensors_go_encoded_as_planned() {
        use loadpart_codec::{Codec, DecodeLimits, Decoder, EncodedTensor, TensorHeader};
        let mut enc = Encoder::new(EncodeOptions::default()).unwrap();
        let smooth: Vec<f32> = (0..4096).map(|i| ((i / 64) as f32 * 0.37).sin()).collect();
        let t = |n: &str| {
            (
                n.to_string(),
                Tensor::f32(vec![1, 4096], smooth.clone()).unwrap(),
            )
        };
        let sent = vec![t("a"), t("b"), t("c")];
        let plan = |name: &str| match name {
            "a" => TensorEncoding::Compressed,
            "b" => TensorEncoding::Uncompressed,
            _ => TensorEncoding::Tighter {
                bits: 4,
                zstd_level: 9,
            },
        };
        let e = encode_tensors_as(&mut enc, &sent, &plan).unwrap();
        let limits = DecodeLimits::default();
        let header = |i: usize| {
            TensorHeader::from_params(
                loadpart_proto::from_proto_params(&e.inputs[i].parameters)
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v)),
                &limits,
            )
            .unwrap()
        };
        assert_eq!(header(0).codec, Codec::Zstd);
        assert_eq!(header(1).codec, Codec::None);
        assert_eq!(e.raw[1].len(), 4096, "quantized, not compressed");
        assert_eq!(header(2).codec, Codec::Zstd);
        assert!(
            e.raw[2].len() < e.raw[0].len(),
            "4-bit codes compress further: {} against {}",
            e.raw[2].len(),
            e.raw[0].len()
        );
        // The encoder keeps its own settings for the next request.
        assert_eq!(*enc.options(), EncodeOptions::default());
        // What the server decodes is what the device's fallback computes on.
        let copy = quantized_copy(&mut enc, &sent, &plan).unwrap();
        let mut dec = Decoder::new();
        for (i, (name, fallback)) in copy.iter().enumerate() {
            let wire = EncodedTensor {
                header: header(i),
                payload: e.raw[i].to_vec(),
            };
            let served = dec.decode(&wire.validate(&limits).unwrap()).unwrap();
            assert_eq!(fallback.as_f32().unwrap(), &served[..], "tensor {name}");
        }
        assert_ne!(copy[2].1.as_f32(), copy[0].1.as_f32(), "4 bits lose more");
        assert_eq!(*enc.options(), EncodeOptions::default());
    }
}
