//! One part of a partitioned model, loaded on an engine and ready to run at any batch size.

use std::sync::Arc;
use std::time::Duration;

use loadpart_engine::{DType, Dim, Engine, EngineKind, LoadOptions, Model, Tensor, TensorRef};
use loadpart_graph::{BatchDim, Part, PartKind, Prepared, insert_layout_relays};

use crate::{NamedTensors, PartSpec, RuntimeError};

/// What a run produced.
#[derive(Debug, Clone)]
pub struct PartOutput {
    /// The part's outputs ([`PartRunner::outputs`]), in that order.
    pub outputs: NamedTensors,
    /// Time inside the engine's run call (zero for a part with nothing to compute).
    pub elapsed: Duration,
}

/// A head, tail, segment or whole model, loaded on an engine.
///
/// Which tensors it needs and returns follows from its [`PartSpec`]: a head returns every tensor
/// of its cut (sent ones and outputs the device keeps); a tail takes the cut's sent tensors and
/// returns only the model outputs the head did not compute; a segment returns the later cut's
/// tensors. Tensors that are both given and wanted (a model input in a head's cut) are forwarded.
pub struct PartRunner {
    spec: PartSpec,
    /// Tensors the loaded model reads, in model order.
    inputs: Vec<String>,
    /// Tensors a run returns, in order.
    outputs: Vec<String>,
    model: Option<Arc<dyn Model>>,
    bytes: usize,
}

impl std::fmt::Debug for PartRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartRunner")
            .field("spec", &self.spec)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// The bytes to load `part` from on `engine`: ONNX Runtime gets layout relays (see
/// [`insert_layout_relays`]), which change no values.
pub fn part_bytes(engine: &dyn Engine, mut part: Part) -> Vec<u8> {
    if engine.kind() == EngineKind::Ort {
        insert_layout_relays(&mut part);
    }
    part.to_bytes()
}

impl PartRunner {
    /// Extracts `spec` from `prepared` (batch dimension dynamic) and loads it on `engine`.
    /// Errors: a cut id that is not a cut of the model (unknown tensor, uncut path), or a part the
    /// engine cannot load.
    pub fn load(
        engine: &dyn Engine,
        prepared: &Prepared,
        spec: PartSpec,
        opts: &LoadOptions,
    ) -> Result<Self, RuntimeError> {
        let model = &prepared.model;
        let cut_names = |id: &loadpart_cuts::CutId| -> Result<Vec<String>, RuntimeError> {
            let names = id.names();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            prepared.stages.validate_cut(&refs)?;
            Ok(names)
        };
        let (kind, available, wanted) = match &spec {
            PartSpec::Head(cut) => (PartKind::Head, model.inputs().to_vec(), cut_names(cut)?),
            PartSpec::Tail(cut) => {
                let cut = cut_names(cut)?;
                let rest = model
                    .outputs()
                    .iter()
                    .filter(|o| !cut.contains(o))
                    .cloned()
                    .collect();
                (PartKind::Tail, cut, rest)
            }
            PartSpec::Segment { from, to } => (PartKind::Segment, cut_names(from)?, cut_names(to)?),
            PartSpec::Full => (
                PartKind::Segment,
                model.inputs().to_vec(),
                model.outputs().to_vec(),
            ),
        };
        let part = model.extract(kind, &available, &wanted, BatchDim::Dynamic)?;
        let inputs = part.inputs.clone();
        let (model, bytes) = if part.is_empty() {
            (None, 0)
        } else {
            let bytes = part_bytes(engine, part);
            (Some(engine.load(&bytes, opts)?), bytes.len())
        };
        Ok(Self {
            spec,
            inputs,
            outputs: wanted,
            model,
            bytes,
        })
    }

    pub fn spec(&self) -> &PartSpec {
        &self.spec
    }

    /// Tensors a run reads (besides forwarded ones), in model order.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Tensors a run returns, in order.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// Size of the loaded ONNX part, bytes (weights dominate): what the part cache counts.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Runs the part. `given` must hold every tensor in [`PartRunner::inputs`] and every
    /// forwarded one; other given tensors are ignored. Inputs are borrowed: on ONNX Runtime the
    /// engine reads the caller's buffers in place.
    pub fn run(&self, given: &[(&str, TensorRef<'_>)]) -> Result<PartOutput, RuntimeError> {
        let (mut produced, elapsed) = match &self.model {
            Some(m) => {
                let inputs: Vec<(&str, TensorRef<'_>)> = given
                    .iter()
                    .filter(|(n, _)| self.inputs.iter().any(|i| i == n))
                    .copied()
                    .collect();
                let out = m.run(&inputs)?;
                (out.outputs, out.elapsed)
            }
            None => (Vec::new(), Duration::ZERO),
        };
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for name in &self.outputs {
            if let Some(pos) = produced.iter().position(|(n, _)| n == name) {
                outputs.push(produced.swap_remove(pos));
            } else if let Some((_, t)) = given.iter().find(|(n, _)| n == name) {
                outputs.push((name.clone(), t.to_owned()));
            } else {
                return Err(RuntimeError::MissingTensor {
                    part: self.spec.to_string(),
                    tensor: name.clone(),
                });
            }
        }
        Ok(PartOutput { outputs, elapsed })
    }

    /// Runs the part once on zeros at each of `batch_sizes`, so that engine plans and sessions
    /// for those sizes are built now rather than on a request's path.
    pub fn warm_up(&self, batch_sizes: &[usize]) -> Result<(), RuntimeError> {
        let Some(model) = &self.model else {
            return Ok(());
        };
        for &b in batch_sizes {
            if b == 0 {
                return Err(RuntimeError::BatchSize(b));
            }
            let zeros: Vec<(String, Tensor)> = model
                .inputs()
                .iter()
                .map(|io| {
                    let dims: Vec<usize> = io
                        .shape
                        .iter()
                        .map(|d| match d {
                            Dim::Fixed(n) => *n,
                            Dim::Dynamic(_) => b,
                        })
                        .collect();
                    let n = dims.iter().product();
                    let t = match io.dtype {
                        DType::F32 => Tensor::f32(dims, vec![0.0; n]),
                        DType::I64 => Tensor::i64(dims, vec![0; n]),
                    };
                    Ok((io.name.clone(), t?))
                })
                .collect::<Result<_, RuntimeError>>()?;
            model.run(&crate::views(&zeros))?;
        }
        Ok(())
    }
}
