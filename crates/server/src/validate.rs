//! The edge: a `ModelInferRequest` becomes a [`ValidRequest`] or a typed [`ServerError`].
//!
//! Two kinds of request share ModelInfer:
//! - **Plain** (no input carries a `loadpart_` parameter): the whole model runs. Inputs are FP32,
//!   in `raw_input_contents` (one little-endian, row-major entry per input, in input order) or in
//!   typed `contents.fp32_contents`; names, shapes and byte lengths are checked against the
//!   model.
//! - **Partitioned**: each input is a cut tensor encoded by `loadpart_codec`. Its `loadpart_*`
//!   parameters carry the codec header ([`TensorHeader::from_params`]) and its payload is the
//!   matching `raw_input_contents` entry. The input's `shape`, when given, must equal the
//!   decoded shape (`loadpart_shape`); its `datatype` should be "FP32", the decoded type (the
//!   header's `loadpart_dtype` says how the bytes encode it, so `datatype` is not checked). The
//!   request parameter `loadpart_model_identity` (string) must equal the served model's
//!   identity, and `loadpart_cut_checksum` (string, optional) the checksum of the cut the sent
//!   tensors name. The request's `outputs` say which outputs the tail computes (none: all it
//!   can).
//!
//! Either kind may carry `timeout` (int64, µs, Triton's schedule-policy parameter); with the
//! gRPC deadline it gives the request's deadline (the earlier one).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_codec::{DecodeLimits, EncodedTensor, PARAM_PREFIX, TensorHeader, validate};
use loadpart_cuts::{CutId, NodeSet};
use loadpart_proto::Bytes;
use loadpart_proto::inference::infer_parameter::ParameterChoice;
use loadpart_proto::inference::{InferParameter, ModelInferRequest};
use loadpart_runtime::{PartRunner, PartSpec};

use crate::batcher::BatchKey;
use crate::error::ServerError;
use crate::error::invalid;
use crate::registry::{Registry, ServedModel};

/// Request parameter: the identity of the model the device ran its head of.
pub const PARAM_MODEL_IDENTITY: &str = loadpart_proto::names::MODEL_IDENTITY;
/// Request parameter: `CutId::checksum_hex` of the cut the device used (optional).
pub const PARAM_CUT_CHECKSUM: &str = loadpart_proto::names::CUT_CHECKSUM;
/// Request parameter (Triton's schedule policy): the request's timeout, µs.
pub const PARAM_TIMEOUT: &str = loadpart_proto::names::TIMEOUT;

/// Where a request enters the model.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A plain request: the whole model runs.
    Full,
    /// A partitioned request: the tail of `cut` runs.
    Tail {
        /// The canonical cut its sent tensors name.
        cut: CutId,
        /// The cut's head (nodes the device ran), for the profiled tail time.
        head: NodeSet,
    },
}

impl Entry {
    /// The head the device ran (`None` for the whole model), for profiled times.
    pub fn head(&self) -> Option<&NodeSet> {
        match self {
            Entry::Full => None,
            Entry::Tail { head, .. } => Some(head),
        }
    }
}

/// One input's bytes, checked: decoding them cannot fail on size.
#[derive(Debug)]
pub enum InputData {
    /// Little-endian FP32 of exactly the input's element count: a slice of the received
    /// message, not a copy.
    RawF32(Bytes),
    /// An encoded cut tensor whose header and payload passed [`validate`].
    Encoded(EncodedTensor),
}

/// One checked input tensor.
#[derive(Debug)]
pub struct ValidInput {
    /// Tensor name in the model.
    pub name: String,
    /// Its shape, dim 0 the rows.
    pub shape: Vec<usize>,
    /// Its bytes.
    pub data: InputData,
}

/// A request that passed every check at the edge; code past it trusts these fields.
#[derive(Debug)]
pub struct ValidRequest {
    /// The model it runs on.
    pub model: Arc<ServedModel>,
    /// The client's request id, echoed in the reply.
    pub id: String,
    /// Full model or tail of a cut.
    pub entry: Entry,
    /// What must match for batching: the model, the cut (the model inputs for a plain request,
    /// the canonical cut for a partitioned one), and the per-sample dims of `inputs`.
    pub key: BatchKey,
    /// Rows (dim 0), equal for every input.
    pub rows: usize,
    /// Inputs sorted by name.
    pub inputs: Vec<ValidInput>,
    /// Outputs to return, in reply order.
    pub outputs: Vec<String>,
    /// When the answer stops being useful.
    pub deadline: Option<Instant>,
    /// When the request reached the server.
    pub arrival: Instant,
    /// How long it waited for its part to be built ([`crate::parts`]) before being queued: not
    /// counted as queue wait, which is what the load report tells clients about contention.
    pub part_wait: Duration,
    /// The part that runs it, once loaded ([`crate::parts`]); the executor loads it itself
    /// when this is `None`.
    pub part: Option<Arc<PartRunner>>,
}

impl ValidRequest {
    /// The part that runs this request: the whole model or the tail of its cut.
    pub fn part_spec(&self) -> PartSpec {
        match &self.entry {
            Entry::Full => PartSpec::Full,
            Entry::Tail { cut, .. } => PartSpec::Tail(cut.clone()),
        }
    }
}

/// Checks `req` against the served models. `grpc_timeout` is the call's deadline, if the client
/// set one; `now` is its arrival time.
pub fn validate_request(
    mut req: ModelInferRequest,
    registry: &Registry,
    limits: &DecodeLimits,
    grpc_timeout: Option<Duration>,
    now: Instant,
) -> Result<ValidRequest, ServerError> {
    let model = registry.get(&req.model_name)?.clone();
    let deadline = deadline(&req.parameters, grpc_timeout, now)?;
    if req.inputs.is_empty() {
        return Err(invalid("the request has no inputs"));
    }
    let partitioned = req
        .inputs
        .iter()
        .any(|i| i.parameters.keys().any(|k| k.starts_with(PARAM_PREFIX)));
    let raw = std::mem::take(&mut req.raw_input_contents);
    let (entry, mut inputs, outputs) = if partitioned {
        partitioned_inputs(&req, raw, &model, limits)?
    } else {
        plain_inputs(&req, raw, &model, limits)?
    };
    let rows = inputs[0].shape[0];
    if let Some(i) = inputs.iter().find(|i| i.shape[0] != rows) {
        return Err(invalid(format!(
            "inputs disagree on the batch dimension: {:?} has {} rows, {:?} has {rows}",
            i.name, i.shape[0], inputs[0].name
        )));
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let cut = match &entry {
        Entry::Full => CutId::from_names(inputs.iter().map(|i| i.name.as_str())),
        Entry::Tail { cut, .. } => cut.clone(),
    };
    let key = BatchKey {
        model: model.name.clone(),
        cut,
        sample_shapes: inputs.iter().map(|i| i.shape[1..].to_vec()).collect(),
    };
    Ok(ValidRequest {
        model,
        id: req.id,
        entry,
        key,
        rows,
        inputs,
        outputs,
        deadline,
        arrival: now,
        part_wait: Duration::ZERO,
        part: None,
    })
}

/// The earlier of the gRPC deadline and the `timeout` parameter (µs, must be positive).
fn deadline(
    params: &HashMap<String, InferParameter>,
    grpc_timeout: Option<Duration>,
    now: Instant,
) -> Result<Option<Instant>, ServerError> {
    let param = match params
        .get(PARAM_TIMEOUT)
        .and_then(|p| p.parameter_choice.as_ref())
    {
        None => None,
        Some(ParameterChoice::Int64Param(us)) if *us > 0 => Some(Duration::from_micros(*us as u64)),
        Some(ParameterChoice::Uint64Param(us)) if *us > 0 => Some(Duration::from_micros(*us)),
        Some(other) => {
            return Err(invalid(format!(
                "parameter {PARAM_TIMEOUT:?} must be a positive int64 of microseconds, got {other:?}"
            )));
        }
    };
    let timeout = match (param, grpc_timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(timeout.and_then(|t| now.checked_add(t)))
}

/// A string request parameter, if present; another kind is an error.
fn string_param<'a>(
    params: &'a HashMap<String, InferParameter>,
    key: &str,
) -> Result<Option<&'a str>, ServerError> {
    match params.get(key).and_then(|p| p.parameter_choice.as_ref()) {
        None => Ok(None),
        Some(ParameterChoice::StringParam(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(format!(
            "parameter {key:?} must be a string, got {other:?}"
        ))),
    }
}

/// Element count of `shape`, overflow-checked and bounded by `limits.max_elements`.
fn elements(name: &str, shape: &[usize], limits: &DecodeLimits) -> Result<usize, ServerError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n as u64 <= limits.max_elements)
        .ok_or_else(|| {
            invalid(format!(
                "input {name:?}: shape {shape:?} exceeds the limit of {} elements",
                limits.max_elements
            ))
        })
}

type Parsed = (Entry, Vec<ValidInput>, Vec<String>);

/// A plain request: every model input once, FP32, the model's per-sample shape.
fn plain_inputs(
    req: &ModelInferRequest,
    raw: Vec<Bytes>,
    model: &ServedModel,
    limits: &DecodeLimits,
) -> Result<Parsed, ServerError> {
    let expected: Vec<&str> = model.inputs.iter().map(|m| m.name.as_str()).collect();
    if req.inputs.len() != expected.len() {
        return Err(invalid(format!(
            "model {:?} takes {} inputs {expected:?}, the request has {}",
            model.name,
            expected.len(),
            req.inputs.len()
        )));
    }
    if !raw.is_empty() && raw.len() != req.inputs.len() {
        return Err(invalid(format!(
            "raw_input_contents has {} entries for {} inputs (one per input, in input order)",
            raw.len(),
            req.inputs.len()
        )));
    }
    let mut raw = raw.into_iter();
    let mut out: Vec<ValidInput> = Vec::with_capacity(req.inputs.len());
    for input in &req.inputs {
        let name = &input.name;
        let meta = model
            .inputs
            .iter()
            .find(|m| &m.name == name)
            .ok_or_else(|| {
                invalid(format!(
                    "model {:?} has no input {name:?}; its inputs are {expected:?}",
                    model.name
                ))
            })?;
        if out.iter().any(|i| &i.name == name) {
            return Err(invalid(format!("input {name:?} is given twice")));
        }
        if input.datatype != "FP32" {
            return Err(invalid(format!(
                "input {name:?}: datatype {:?} is not supported; the model takes FP32",
                input.datatype
            )));
        }
        let want = meta.sample_shape();
        let shape_ok = input.shape.len() == want.len() + 1
            && input.shape[0] > 0
            && input.shape[1..]
                .iter()
                .zip(&want)
                .all(|(&a, &b)| a == b as i64);
        if !shape_ok {
            return Err(invalid(format!(
                "input {name:?}: shape {:?} does not match the model's {:?} (-1: any batch size >= 1)",
                input.shape, meta.shape
            )));
        }
        let shape: Vec<usize> = input.shape.iter().map(|&d| d as usize).collect();
        let n = elements(name, &shape, limits)?;
        let typed = input.contents.as_ref();
        let bytes = match raw.next() {
            Some(bytes) => {
                if typed.is_some_and(|c| !c.fp32_contents.is_empty()) {
                    return Err(invalid(format!(
                        "input {name:?} has both raw and typed contents; send one"
                    )));
                }
                if bytes.len() as u64 != n as u64 * 4 {
                    return Err(invalid(format!(
                        "input {name:?}: raw contents hold {} bytes, FP32 of shape {shape:?} needs {}",
                        bytes.len(),
                        n as u64 * 4
                    )));
                }
                bytes
            }
            None => {
                let values = typed.map(|c| c.fp32_contents.as_slice()).unwrap_or(&[]);
                if values.len() != n {
                    return Err(invalid(format!(
                        "input {name:?}: contents.fp32_contents hold {} values, shape {shape:?} needs {n} \
                         (or send raw_input_contents)",
                        values.len()
                    )));
                }
                values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>()
                    .into()
            }
        };
        out.push(ValidInput {
            name: name.clone(),
            shape,
            data: InputData::RawF32(bytes),
        });
    }
    let outputs = requested_outputs(req, model.outputs.iter().map(|m| m.name.as_str()))?;
    Ok((Entry::Full, out, outputs))
}

/// The request's `outputs`, each one of `available`; all of `available` when none is asked.
fn requested_outputs<'a>(
    req: &ModelInferRequest,
    available: impl Iterator<Item = &'a str> + Clone,
) -> Result<Vec<String>, ServerError> {
    if req.outputs.is_empty() {
        return Ok(available.map(str::to_string).collect());
    }
    req.outputs
        .iter()
        .map(|o| {
            if available.clone().any(|a| a == o.name) {
                Ok(o.name.clone())
            } else {
                Err(invalid(format!(
                    "output {:?} is not computed here; available: {:?}",
                    o.name,
                    available.clone().collect::<Vec<_>>()
                )))
            }
        })
        .collect()
}

/// A partitioned request: identity, cut, checksum, then every encoded tensor.
fn partitioned_inputs(
    req: &ModelInferRequest,
    raw: Vec<Bytes>,
    model: &ServedModel,
    limits: &DecodeLimits,
) -> Result<Parsed, ServerError> {
    let identity = string_param(&req.parameters, PARAM_MODEL_IDENTITY)?.ok_or_else(|| {
        invalid(format!(
            "a partitioned request (inputs with {PARAM_PREFIX}* parameters) must carry the \
             request parameter {PARAM_MODEL_IDENTITY:?}"
        ))
    })?;
    if identity != model.identity() {
        return Err(ServerError::IdentityMismatch {
            model: model.name.clone(),
            sent: identity.to_string(),
            served: model.identity().to_string(),
        });
    }
    if let Some(i) = req
        .inputs
        .iter()
        .find(|i| !i.parameters.keys().any(|k| k.starts_with(PARAM_PREFIX)))
    {
        return Err(invalid(format!(
            "input {:?} has no {PARAM_PREFIX}* parameters while others do: a partitioned request \
             encodes every input",
            i.name
        )));
    }
    if raw.len() != req.inputs.len() {
        return Err(invalid(format!(
            "raw_input_contents has {} entries for {} encoded inputs (one payload per input)",
            raw.len(),
            req.inputs.len()
        )));
    }
    let dag = model.runtime.prepared().stages.dag();
    let sent: Vec<&str> = req.inputs.iter().map(|i| i.name.as_str()).collect();
    let wanted: Vec<&str> = req.outputs.iter().map(|o| o.name.as_str()).collect();
    let rc = dag.cut_for_request(&sent, (!wanted.is_empty()).then_some(&wanted[..]))?;
    let cut = rc.cut.id(dag);
    if let Some(sum) = string_param(&req.parameters, PARAM_CUT_CHECKSUM)? {
        let expected = cut.checksum_hex();
        if sum != expected {
            return Err(ServerError::CutChecksum {
                sent: sum.to_string(),
                expected,
                cut: cut.to_string(),
            });
        }
    }
    let mut out = Vec::with_capacity(req.inputs.len());
    for (input, payload) in req.inputs.iter().zip(raw) {
        let name = &input.name;
        let codec = |source| ServerError::Codec {
            input: name.clone(),
            source,
        };
        let params = loadpart_proto::from_proto_params(&input.parameters)
            .map_err(|e| invalid(format!("input {name:?}: {e}")))?;
        let header = TensorHeader::from_params(params.iter().map(|(k, v)| (k.as_str(), v)), limits)
            .map_err(codec)?;
        let valid = validate(&header, &payload, limits).map_err(codec)?;
        let shape = valid.shape().to_vec();
        let want = model
            .sample_shape(name)
            .ok_or_else(|| invalid(format!("model has no tensor {name:?}")))?;
        if shape.len() != want.len() + 1 || shape[0] == 0 || shape[1..] != *want {
            return Err(invalid(format!(
                "input {name:?}: encoded shape {shape:?} does not match the model's tensor \
                 [-1, {}] (rows >= 1)",
                want.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !input.shape.is_empty()
            && (input.shape.len() != shape.len()
                || input.shape.iter().zip(&shape).any(|(&a, &b)| a != b as i64))
        {
            return Err(invalid(format!(
                "input {name:?}: declared shape {:?} differs from the encoded shape {shape:?}",
                input.shape
            )));
        }
        out.push(ValidInput {
            name: name.clone(),
            shape,
            data: InputData::Encoded(EncodedTensor {
                header,
                // Compressed cut tensors are small; the codec's decoder takes a Vec.
                payload: Vec::from(payload),
            }),
        });
    }
    let outputs = if wanted.is_empty() {
        rc.outputs
            .iter()
            .map(|&t| dag.tensor(t).name.clone())
            .collect()
    } else {
        wanted.iter().map(|s| s.to_string()).collect()
    };
    let entry = Entry::Tail {
        cut,
        head: rc.cut.head,
    };
    Ok((entry, out, outputs))
}
