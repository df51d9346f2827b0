//! ONNX Runtime backend (`ort` crate, library loaded at run time).
//!
//! ONNX Runtime is initialised once per process ([`OnceLock`]); the outcome, including a missing
//! library, is remembered, so install the library and restart rather than retry in-process.
//! Sessions use ONNX Runtime's default options (graph optimisation level "all": Conv+BatchNorm+
//! Relu fusion, NCHWc layout) but for the intra-op thread pool, which follows
//! [`crate::LoadOptions`] (thread count, [`crate::Spinning`]); concurrent runs of one model go
//! through a [`pool::Pool`] of sessions that share pre-packed weights. Outputs are handed over as
//! ONNX Runtime's own values, not copied.

mod pool;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::session::{Session, SessionInputValue};
use ort::value::{
    DynValue, PrimitiveTensorElementType, TensorElementType, TensorValueType, ValueType,
};

use crate::error::catch_panic;
use crate::tensor::EngineMemory;
use crate::{
    Buffer, DType, Dim, Engine, EngineError, EngineKind, IoInfo, LoadOptions, Model, RunOutput,
    Spinning, Tensor, TensorData, TensorDataRef, TensorRef, locate, order_inputs,
};

const KIND: EngineKind = EngineKind::Ort;

/// Why ONNX Runtime could not be initialised; cloneable so the outcome can be cached.
#[derive(Debug, Clone)]
enum InitError {
    NotFound(Vec<PathBuf>),
    Load { path: PathBuf, reason: String },
}

impl From<InitError> for EngineError {
    fn from(e: InitError) -> Self {
        match e {
            InitError::NotFound(tried) => EngineError::LibraryNotFound { tried },
            InitError::Load { path, reason } => EngineError::LibraryLoad { path, reason },
        }
    }
}

static ENVIRONMENT: OnceLock<Result<Environment, InitError>> = OnceLock::new();

fn init() -> Result<Environment, InitError> {
    let path = locate::find_library(&locate::default_candidates()).map_err(InitError::NotFound)?;
    let load_err = |reason: String| InitError::Load {
        path: path.clone(),
        reason,
    };
    let env = std::panic::catch_unwind(|| {
        // One intra-op pool for every session of the process that neither spins nor asks for
        // its own thread count: a head and the tail after it, or many models on one device,
        // then share workers instead of each waking a pool of its own, and sessions do not
        // oversubscribe the cores. Its idle workers sleep (see `Spinning`).
        // (The options call into the library, so they come after `init_from` loads it.)
        let builder = ort::init_from(&path).map_err(|e| e.to_string())?;
        let pool = ort::environment::GlobalThreadPoolOptions::default()
            .with_spin_control(false)
            .map_err(|e| e.to_string())?;
        builder
            .with_name("loadpart")
            .with_telemetry(false)
            .with_global_thread_pool(pool)
            .build()
            .map_err(|e| e.to_string())
    })
    .map_err(|_| load_err("ONNX Runtime panicked during initialisation".into()))?
    .map_err(load_err)?;
    tracing::debug!(path = %path.display(), "ONNX Runtime initialised");
    Ok(env)
}

/// The process-wide ONNX Runtime environment.
fn environment() -> Result<Environment, EngineError> {
    ENVIRONMENT
        .get_or_init(init)
        .clone()
        .map_err(EngineError::from)
}

pub(crate) struct OrtEngine {
    env: Environment,
}

impl OrtEngine {
    /// Loads the library on first use; fails if it cannot be found or initialised.
    pub(crate) fn new() -> Result<Self, EngineError> {
        Ok(OrtEngine {
            env: environment()?,
        })
    }
}

impl Engine for OrtEngine {
    fn kind(&self) -> EngineKind {
        KIND
    }

    fn load(&self, onnx: &[u8], opts: &LoadOptions) -> Result<Arc<dyn Model>, EngineError> {
        catch_panic(KIND, "loading a model", || {
            let recipe = Recipe {
                env: self.env.clone(),
                onnx: onnx.into(),
                opts: opts.clone(),
                prepacked: PrepackedWeights::new(),
            };
            let first = recipe.build()?;
            let (inputs, outputs) = describe(&first)?;
            Ok(Arc::new(OrtModel {
                inputs,
                outputs,
                pool: pool::Pool::new(first, opts.max_sessions),
                recipe,
            }) as Arc<dyn Model>)
        })
    }
}

/// Everything needed to build another session of the same model on demand. The model bytes are
/// kept for that (one copy per loaded model); weights pre-packed by the first session are shared
/// by the later ones.
struct Recipe {
    env: Environment,
    onnx: Box<[u8]>,
    opts: LoadOptions,
    prepacked: PrepackedWeights,
}

impl Recipe {
    fn build(&self) -> Result<Session, EngineError> {
        let load_err = |e: ort::Error| EngineError::Load {
            engine: KIND,
            len: self.onnx.len(),
            source: Box::new(e),
        };
        let mut builder = Session::builder(&self.env)
            .map_err(load_err)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| load_err(e.into()))?
            .with_prepacked_weights(&self.prepacked)
            .map_err(|e| load_err(e.into()))?;
        // The process-wide pool's workers sleep when idle; a session that spins, or wants a
        // thread count of its own, gets its own pool (see `Spinning`).
        let spin = self.opts.spinning == Spinning::On;
        if self.opts.intra_threads > 0 || spin {
            builder = builder
                .with_independent_thread_pool()
                .map_err(|e| load_err(e.into()))?
                .with_intra_op_spinning(spin)
                .map_err(|e| load_err(e.into()))?;
        }
        if self.opts.intra_threads > 0 {
            builder = builder
                .with_intra_threads(self.opts.intra_threads)
                .map_err(|e| load_err(e.into()))?;
        }
        builder.commit_from_memory(&self.onnx).map_err(load_err)
    }
}

/// Inputs (minus overridable initializers, which IR < 4 files list as graph inputs) and outputs.
fn describe(session: &Session) -> Result<(Vec<IoInfo>, Vec<IoInfo>), EngineError> {
    let initializers: Vec<String> = session
        .overridable_initializers()
        .into_iter()
        .map(|i| i.name().to_owned())
        .collect();
    let inputs = session
        .inputs()
        .iter()
        .filter(|o| !initializers.iter().any(|n| n == o.name()))
        .map(|o| io_info(o.name(), o.dtype()))
        .collect::<Result<_, _>>()?;
    let outputs = session
        .outputs()
        .iter()
        .map(|o| io_info(o.name(), o.dtype()))
        .collect::<Result<_, _>>()?;
    Ok((inputs, outputs))
}

fn io_info(name: &str, ty: &ValueType) -> Result<IoInfo, EngineError> {
    let unsupported = |dtype: String| EngineError::UnsupportedDtype {
        tensor: name.to_owned(),
        dtype,
    };
    let ValueType::Tensor {
        ty,
        shape,
        dimension_symbols,
    } = ty
    else {
        return Err(unsupported(ty.to_string()));
    };
    let dtype = match ty {
        TensorElementType::Float32 => DType::F32,
        TensorElementType::Int64 => DType::I64,
        other => return Err(unsupported(format!("{other:?}"))),
    };
    let shape = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| match usize::try_from(d) {
            Ok(n) => Dim::Fixed(n),
            Err(_) => Dim::Dynamic(
                dimension_symbols
                    .get(i)
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .unwrap_or_else(|| "?".to_owned()),
            ),
        })
        .collect();
    Ok(IoInfo {
        name: name.to_owned(),
        dtype,
        shape,
    })
}

struct OrtModel {
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
    pool: pool::Pool<Session>,
    recipe: Recipe,
}

impl Model for OrtModel {
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
            let run_err = |e: ort::Error| EngineError::Run {
                engine: KIND,
                source: Box::new(e),
            };
            let mut seen = Vec::with_capacity(ordered.len());
            let values = self
                .inputs
                .iter()
                .zip(&ordered)
                .map(|(info, t)| {
                    let (value, address) = borrow(t)?;
                    seen.push(address);
                    Ok((Cow::Borrowed(info.name.as_str()), value))
                })
                .collect::<Result<Vec<_>, ort::Error>>()
                .map_err(run_err)?;
            crate::probe::record(seen);
            self.pool.with(
                || self.recipe.build(),
                |session| {
                    let start = Instant::now();
                    let mut out = session.run(values).map_err(run_err)?;
                    let elapsed = start.elapsed();
                    let outputs = self
                        .outputs
                        .iter()
                        .map(|info| {
                            let value = out.remove(&info.name).ok_or_else(|| EngineError::Run {
                                engine: KIND,
                                source: format!("no output {:?} in the results", info.name).into(),
                            })?;
                            Ok((
                                info.name.clone(),
                                to_tensor(value, info.dtype).map_err(run_err)?,
                            ))
                        })
                        .collect::<Result<_, EngineError>>()?;
                    Ok(RunOutput { outputs, elapsed })
                },
            )
        })
    }
}

/// A view of the caller's buffer: ONNX Runtime reads it in place, no copy. Also returns the
/// data address ONNX Runtime reports for the value (see [`crate::probe`]).
fn borrow<'a>(t: &TensorRef<'a>) -> Result<(SessionInputValue<'a>, usize), ort::Error> {
    Ok(match t.data() {
        TensorDataRef::F32(v) => {
            let r = ort::value::TensorRef::from_array_view((t.shape(), v))?;
            let address = r.data_ptr() as usize;
            (r.into(), address)
        }
        TensorDataRef::I64(v) => {
            let r = ort::value::TensorRef::from_array_view((t.shape(), v))?;
            let address = r.data_ptr() as usize;
            (r.into(), address)
        }
    })
}

/// Hands an output value over as it is: the tensor's elements stay in the memory ONNX Runtime
/// wrote them to, owned by the returned [`Tensor`] (no copy, like Python `onnxruntime`'s numpy
/// outputs).
fn to_tensor(value: DynValue, dtype: DType) -> Result<Tensor, ort::Error> {
    fn hand_over<T: PrimitiveTensorElementType + std::fmt::Debug + 'static>(
        value: DynValue,
    ) -> Result<(Vec<usize>, Buffer<T>), ort::Error> {
        let tensor = value.downcast::<TensorValueType<T>>()?;
        let shape = tensor.shape().iter().map(|&d| d.max(0) as usize).collect();
        Ok((shape, Buffer::from_engine(Box::new(OrtMemory(tensor)))))
    }
    Ok(match dtype {
        DType::F32 => {
            let (shape, data) = hand_over::<f32>(value)?;
            Tensor {
                shape,
                data: TensorData::F32(data),
            }
        }
        DType::I64 => {
            let (shape, data) = hand_over::<i64>(value)?;
            Tensor {
                shape,
                data: TensorData::I64(data),
            }
        }
    })
}

/// An output tensor value of ONNX Runtime, owning the memory its session allocated.
struct OrtMemory<T: PrimitiveTensorElementType + std::fmt::Debug>(ort::value::Tensor<T>);

impl<T: PrimitiveTensorElementType + std::fmt::Debug> EngineMemory<T> for OrtMemory<T> {
    fn as_slice(&self) -> &[T] {
        self.0.extract_tensor().1
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        self.0.extract_tensor_mut().1
    }
}
