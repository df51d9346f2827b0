//! The served models: each loaded once at start, with its metadata, optional cost profile and
//! runtime (parts on demand from a shared, byte-bounded cache).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use loadpart_cuts::NodeSet;
use loadpart_engine::{Engine, LoadOptions};
use loadpart_graph::{Prepared, Shapes, onnx::DataType, randomize_for_checks};
use loadpart_plan::{ModelProfile, ServerCosts};
use loadpart_runtime::{ModelRuntime, PartCache};

use crate::error::ServerError;

/// Which cuts of a model to build and warm at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WarmCuts {
    /// None: each cut is built on its first request.
    #[default]
    None,
    /// The model's articulation cuts (single-tensor cuts between blocks, where planners most
    /// often cut), at most this many, spread evenly over the model.
    Auto(usize),
    /// These cut ids (`CutId` text: tensor names joined by `,`).
    List(Vec<String>),
}

/// How many articulation cuts `auto` warms.
pub const AUTO_WARM_CUTS: usize = 8;

impl std::str::FromStr for WarmCuts {
    type Err = ServerError;

    /// Reads `auto` (at most [`AUTO_WARM_CUTS`]), `auto:N`, `none`, or cut ids separated by
    /// `;` (a cut id itself holds `,`).
    fn from_str(s: &str) -> Result<Self, ServerError> {
        let s = s.trim();
        Ok(match s {
            "" | "none" => WarmCuts::None,
            "auto" => WarmCuts::Auto(AUTO_WARM_CUTS),
            _ => match s.strip_prefix("auto:") {
                Some(n) => WarmCuts::Auto(n.parse().map_err(|_| {
                    ServerError::Config(format!("warm cuts {s:?}: auto:N takes a count"))
                })?),
                None => WarmCuts::List(
                    s.split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(String::from)
                        .collect(),
                ),
            },
        })
    }
}

/// Where a model's server profile comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileSource {
    /// A profile file (`loadpart profile --role server` JSON).
    File(PathBuf),
    /// A profile in memory: measured at start (`loadpart serve` does so when none is given),
    /// whether or not it could be cached on disk.
    Measured(Arc<ModelProfile>),
}

/// Where a model comes from and how it is named.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The name clients use; `None` takes the source's file stem (or the zoo/light name).
    pub name: Option<String>,
    /// A path to an `.onnx` file, `zoo:NAME` for a generated model, or a light model name.
    pub source: String,
    /// Replace the weights with seeded random ones (and drop a final Softmax), as checks do:
    /// the model-zoo light models have constant weights. The identity changes accordingly.
    pub randomize_seed: Option<u64>,
    /// A server profile for this model: enables the slowdown factor against profiled times,
    /// profile-based admission and GetServerProfile (which planning devices need).
    pub profile: Option<ProfileSource>,
    /// Cuts whose tails are built and warmed at start, before the server is ready.
    pub warm_cuts: WarmCuts,
}

impl ModelSpec {
    /// A spec with only a source: default name, real weights, no profile.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            name: None,
            source: source.into(),
            randomize_seed: None,
            profile: None,
            warm_cuts: WarmCuts::None,
        }
    }
}

/// A model input or output as ModelMetadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorMeta {
    /// Tensor name in the model.
    pub name: String,
    /// Open Inference Protocol datatype; always "FP32" (only float models are served).
    pub datatype: &'static str,
    /// Dimensions, -1 for the batch dimension (dim 0).
    pub shape: Vec<i64>,
}

impl TensorMeta {
    /// The dims after the batch dimension.
    pub fn sample_shape(&self) -> Vec<usize> {
        self.shape.iter().skip(1).map(|&d| d as usize).collect()
    }
}

/// One model as served.
#[derive(Debug)]
pub struct ServedModel {
    /// The name clients use.
    pub name: String,
    /// Prepared model, engine and part cache.
    pub runtime: ModelRuntime,
    /// Profiled tail times, when a profile was given.
    pub costs: Option<ServerCosts>,
    /// The profile itself, as loaded (for GetServerProfile).
    pub profile: Option<ModelProfile>,
    /// Model inputs, in model order.
    pub inputs: Vec<TensorMeta>,
    /// Model outputs, in model order.
    pub outputs: Vec<TensorMeta>,
    /// Every tensor's type at batch 1: after dim 0, what a cut tensor of a partitioned request
    /// must have.
    shapes: Shapes,
}

impl ServedModel {
    /// Loads, prepares and describes `spec` on `engine`, with parts cached in `cache`.
    pub fn load(
        spec: &ModelSpec,
        engine: Arc<dyn Engine>,
        cache: Arc<PartCache>,
        load: LoadOptions,
    ) -> Result<Self, ServerError> {
        let fail = |reason: String| ServerError::ModelLoad {
            source_spec: spec.source.clone(),
            reason,
        };
        let model = loadpart_graph::load_model(&spec.source).map_err(|e| fail(e.to_string()))?;
        let model = match spec.randomize_seed {
            Some(seed) => randomize_for_checks(&model, seed).map_err(|e| fail(e.to_string()))?,
            None => model,
        };
        let prepared = Prepared::new(&model).map_err(|e| fail(e.to_string()))?;
        let shapes = Shapes::infer(&prepared.model, 1).map_err(|e| fail(e.to_string()))?;
        let meta = |names: &[String]| -> Result<Vec<TensorMeta>, ServerError> {
            names
                .iter()
                .map(|n| {
                    let ty = shapes
                        .get(n)
                        .ok_or_else(|| fail(format!("no shape for tensor {n:?}")))?;
                    if ty.elem != DataType::Float {
                        return Err(fail(format!(
                            "tensor {n:?} is {}, only FP32 models are served",
                            ty.elem.as_str_name()
                        )));
                    }
                    let shape = std::iter::once(-1)
                        .chain(ty.dims.iter().skip(1).map(|&d| d as i64))
                        .collect();
                    Ok(TensorMeta {
                        name: n.clone(),
                        datatype: "FP32",
                        shape,
                    })
                })
                .collect()
        };
        let inputs = meta(prepared.model.inputs())?;
        let outputs = meta(prepared.model.outputs())?;
        let profile = match &spec.profile {
            None => None,
            Some(ProfileSource::File(path)) => Some(read_profile(path).map_err(fail)?),
            Some(ProfileSource::Measured(p)) => Some(ModelProfile::clone(p)),
        };
        let (profile, costs) = match profile {
            None => (None, None),
            Some(profile) => {
                if profile.model_hash != prepared.identity() {
                    let origin = match &spec.profile {
                        Some(ProfileSource::File(path)) => format!("profile {}", path.display()),
                        _ => "the profile".to_string(),
                    };
                    return Err(fail(format!(
                        "{origin} is for model {}, the served model is {}",
                        profile.model_hash,
                        prepared.identity()
                    )));
                }
                let costs = ServerCosts::new(prepared.stages.dag(), &profile)
                    .map_err(|e| fail(e.to_string()))?;
                (Some(profile), Some(costs))
            }
        };
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| loadpart_graph::model_name(&spec.source));
        let runtime = ModelRuntime::new(engine, Arc::new(prepared), cache, load);
        Ok(Self {
            name,
            runtime,
            costs,
            profile,
            inputs,
            outputs,
            shapes,
        })
    }

    /// The model's identity (hex SHA-256 of what runs).
    pub fn identity(&self) -> &str {
        self.runtime.identity()
    }

    /// Profiled time of a batch of `rows` rows entering after `head` (the cut's head; `None`
    /// for the whole model), µs; `None` without a profile.
    pub fn profiled_us(&self, head: Option<&NodeSet>, rows: usize) -> Option<f64> {
        let costs = self.costs.as_ref()?;
        Some(match head {
            Some(h) => costs.tail_time_us(h, rows as f64),
            None => {
                let n = self.runtime.prepared().stages.dag().node_count();
                costs.tail_time_us(&NodeSet::empty(n), rows as f64)
            }
        })
    }

    /// Per-sample shape (dims after dim 0) of tensor `name`, if the model has it.
    pub fn sample_shape(&self, name: &str) -> Option<&[usize]> {
        self.shapes
            .get(name)
            .map(|t| t.dims.get(1..).unwrap_or(&[]))
    }
}

fn read_profile(path: &Path) -> Result<ModelProfile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading profile {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing profile {}: {e}", path.display()))
}

/// Every served model, by name, in configuration order.
#[derive(Debug, Default)]
pub struct Registry {
    models: Vec<Arc<ServedModel>>,
}

impl Registry {
    /// Errors when two models share a name.
    pub fn new(models: Vec<ServedModel>) -> Result<Self, ServerError> {
        let mut names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ServerError::Config(format!(
                "two models are named {:?}; give one a name",
                w[0]
            )));
        }
        Ok(Self {
            models: models.into_iter().map(Arc::new).collect(),
        })
    }

    /// The model called `name`, or [`ServerError::UnknownModel`].
    pub fn get(&self, name: &str) -> Result<&Arc<ServedModel>, ServerError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| ServerError::UnknownModel {
                name: name.to_string(),
                served: self.names().join(", "),
            })
    }

    /// The served names, in configuration order.
    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }

    /// Every served model.
    pub fn models(&self) -> &[Arc<ServedModel>] {
        &self.models
    }
}
