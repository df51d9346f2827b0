//! tract backend: pure Rust, always available.
//!
//! Loading parses the ONNX file, types it and declutters it once, keeping dynamic dimensions
//! (ONNX `dim_param`, e.g. a batch `N`) symbolic. Running needs an optimised plan, and we build
//! one per set of concrete symbol values (in practice: per batch size), lazily on the first run
//! with that batch, and cache it. We do not run one symbolic plan for every batch: a plan with
//! every dimension known lets tract pick its kernels and pre-pack weights for that exact shape,
//! and the set of batch sizes a server or profiler uses is small, so the cache stays small. A
//! model with no dynamic dimension gets its only plan at load, so load errors surface there.
//!
//! Plans are immutable (`Arc<TypedSimplePlan>`, each run spawns its own state), so any number of
//! threads run the same plan at once with no lock held during the run. Inputs are copied once
//! into tract tensors, which tract needs to own.
//!
//! tract can panic on malformed graphs (an output name no node produces, for one); every call
//! into it goes through [`catch_panic`].

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::RunOptions;

use crate::error::catch_panic;
use crate::{
    DType, Dim, Engine, EngineError, EngineKind, IoInfo, LoadOptions, Model, RunOutput,
    Tensor as OutTensor, TensorData, TensorDataRef, TensorRef, order_inputs,
};

const KIND: EngineKind = EngineKind::Tract;

type Plan = Arc<TypedSimplePlan>;

/// Concrete values of the model's symbols, sorted by symbol name: the plan cache key.
type Binding = Vec<(String, i64)>;

pub(crate) struct TractEngine;

impl Engine for TractEngine {
    fn kind(&self) -> EngineKind {
        KIND
    }

    fn load(&self, onnx: &[u8], opts: &LoadOptions) -> Result<Arc<dyn Model>, EngineError> {
        let load_err = |e: TractError| EngineError::Load {
            engine: KIND,
            len: onnx.len(),
            source: chain(e),
        };
        catch_panic(KIND, "loading a model", || {
            let typed = tract_onnx::onnx()
                .model_for_read(&mut &*onnx)
                .and_then(|m| m.into_typed())
                .and_then(|m| m.into_decluttered())
                .map_err(load_err)?;
            let inputs = typed
                .input_outlets()
                .map_err(load_err)?
                .iter()
                .map(|&o| io_info(&typed, o))
                .collect::<Result<Vec<_>, _>>()?;
            let outputs = typed
                .output_outlets()
                .map_err(load_err)?
                .iter()
                .map(|&o| io_info(&typed, o))
                .collect::<Result<Vec<_>, _>>()?;
            let executor = match opts.intra_threads {
                0 | 1 => None,
                n => Some(Executor::multithread(n)),
            };
            let model = TractModel {
                typed,
                inputs,
                outputs,
                options: RunOptions {
                    executor,
                    ..RunOptions::default()
                },
                plans: Mutex::new(HashMap::new()),
            };
            if model
                .inputs
                .iter()
                .all(|i| i.shape.iter().all(|d| matches!(d, Dim::Fixed(_))))
            {
                model.plan(Vec::new()).map_err(|e| match e {
                    EngineError::Run { source, .. } => EngineError::Load {
                        engine: KIND,
                        len: onnx.len(),
                        source,
                    },
                    other => other,
                })?;
            }
            Ok(Arc::new(model) as Arc<dyn Model>)
        })
    }
}

fn io_info(model: &TypedModel, outlet: OutletId) -> Result<IoInfo, EngineError> {
    let name = model
        .outlet_label(outlet)
        .unwrap_or(&model.node(outlet.node).name)
        .to_owned();
    let fact = model.outlet_fact(outlet).map_err(|e| EngineError::Load {
        engine: KIND,
        len: 0,
        source: chain(e),
    })?;
    let dtype = match fact.datum_type {
        DatumType::F32 => DType::F32,
        DatumType::I64 => DType::I64,
        other => {
            return Err(EngineError::UnsupportedDtype {
                tensor: name,
                dtype: format!("{other:?}"),
            });
        }
    };
    let shape = fact
        .shape
        .dims()
        .iter()
        .map(|d| match d.to_i64() {
            Ok(n) if n >= 0 => Dim::Fixed(n as usize),
            _ => Dim::Dynamic(d.to_string()),
        })
        .collect();
    Ok(IoInfo { name, dtype, shape })
}

struct TractModel {
    /// Decluttered, with dynamic dimensions still symbolic.
    typed: TypedModel,
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
    options: RunOptions,
    /// One slot per binding; the slot's own lock makes concurrent first runs of one batch size
    /// build its plan once while other batch sizes proceed.
    plans: Mutex<HashMap<Binding, Arc<Mutex<Option<Plan>>>>>,
}

impl TractModel {
    /// Binds each input dimension that is a bare symbol to the size given. Dimensions that are
    /// expressions of symbols are left to tract, which checks them when the plan runs.
    fn binding(&self, ordered: &[TensorRef<'_>]) -> Binding {
        let mut binding: Binding = Vec::new();
        for (&outlet, tensor) in self.typed.inputs.iter().zip(ordered) {
            let Ok(fact) = self.typed.outlet_fact(outlet) else {
                continue;
            };
            for (dim, &size) in fact.shape.dims().iter().zip(tensor.shape()) {
                if let TDim::Sym(sym) = dim {
                    let name = sym.to_string();
                    if !binding.iter().any(|(n, _)| *n == name) {
                        binding.push((name, size as i64));
                    }
                }
            }
        }
        binding.sort();
        binding
    }

    /// The optimised plan for `binding`, built on first use.
    fn plan(&self, binding: Binding) -> Result<Plan, EngineError> {
        let slot = {
            let mut plans = self.plans.lock();
            plans.entry(binding.clone()).or_default().clone()
        };
        let mut slot = slot.lock();
        if let Some(plan) = slot.as_ref() {
            return Ok(plan.clone());
        }
        let started = Instant::now();
        let plan = self.build_plan(&binding).map_err(|e| EngineError::Run {
            engine: KIND,
            source: chain(e),
        })?;
        tracing::debug!(?binding, elapsed = ?started.elapsed(), "tract plan built");
        *slot = Some(plan.clone());
        Ok(plan)
    }

    fn build_plan(&self, binding: &Binding) -> TractResult<Plan> {
        let concrete = if binding.is_empty() {
            self.typed.clone()
        } else {
            let subs: HashMap<Symbol, TDim> = binding
                .iter()
                .map(|(name, v)| (self.typed.symbols.sym(name), TDim::Val(*v)))
                .collect();
            self.typed.set_symbols(&subs)?
        };
        let optimized = concrete.into_optimized()?;
        TypedSimplePlan::new_with_options(optimized, &self.options)
    }
}

impl Model for TractModel {
    fn engine(&self) -> EngineKind {
        KIND
    }

    fn inputs(&self) -> &[IoInfo] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoInfo] {
        &self.outputs
    }

    fn run(&self, inputs: &[(&str, TensorRef<'_>)]) -> Result<RunOutput, EngineError> {
        let ordered = order_inputs(&self.inputs, inputs)?;
        catch_panic(KIND, "running a model", || {
            let run_err = |e: TractError| EngineError::Run {
                engine: KIND,
                source: chain(e),
            };
            let plan = self.plan(self.binding(&ordered))?;
            let values = ordered
                .iter()
                .map(to_tract)
                .collect::<TractResult<TVec<TValue>>>()
                .map_err(run_err)?;
            let start = Instant::now();
            let results = plan.run(values).map_err(run_err)?;
            let elapsed = start.elapsed();
            let outputs = self
                .outputs
                .iter()
                .zip(results)
                .map(|(info, value)| Ok((info.name.clone(), from_tract(&value)?)))
                .collect::<TractResult<_>>()
                .map_err(run_err)?;
            Ok(RunOutput { outputs, elapsed })
        })
    }
}

/// The one copy on the way in: tract owns its input tensors.
fn to_tract(t: &TensorRef<'_>) -> TractResult<TValue> {
    let tensor = match t.data() {
        TensorDataRef::F32(v) => tract_onnx::prelude::Tensor::from_shape(t.shape(), v)?,
        TensorDataRef::I64(v) => tract_onnx::prelude::Tensor::from_shape(t.shape(), v)?,
    };
    Ok(tensor.into_tvalue())
}

fn from_tract(value: &TValue) -> TractResult<OutTensor> {
    let plain = value.try_as_plain_ram()?;
    let data = match value.datum_type() {
        DatumType::F32 => TensorData::F32(plain.as_slice::<f32>()?.to_vec().into()),
        DatumType::I64 => TensorData::I64(plain.as_slice::<i64>()?.to_vec().into()),
        other => {
            return Err(TractError::msg(format!(
                "output of element type {other:?}; only f32 and i64 are supported"
            )));
        }
    };
    Ok(OutTensor {
        shape: value.shape().to_vec(),
        data,
    })
}

/// tract errors are context chains whose outer message ("Reading proto model") says little;
/// keep the whole chain, outermost first.
fn chain(e: TractError) -> crate::BoxError {
    format!("{e:#}").into()
}
