//! A panic inside an engine fails its batch, not the server: that batch's requests get
//! INTERNAL with the panic's message, the executor goes on (with one executor, the server would
//! otherwise stop), and the error metrics count it.

use std::sync::Arc;

use loadpart_engine::{
    Engine, EngineError, EngineKind, IoInfo, LoadOptions, Model, RunOutput, Tensor, TensorDataRef,
    TensorRef,
};
use loadpart_server::CustomEngine;
use tonic::Code;

use crate::*;

/// An input whose first element is this makes the engine panic.
const POISON: f32 = 1234.5;

/// Tract, except that a run on a poisoned input panics (as a bug in a backend would).
struct Panicky(Box<dyn Engine>);

struct PanickyModel(Arc<dyn Model>);

impl Engine for Panicky {
    fn kind(&self) -> EngineKind {
        self.0.kind()
    }

    fn load(&self, onnx: &[u8], opts: &LoadOptions) -> Result<Arc<dyn Model>, EngineError> {
        Ok(Arc::new(PanickyModel(self.0.load(onnx, opts)?)))
    }
}

impl Model for PanickyModel {
    fn engine(&self) -> EngineKind {
        self.0.engine()
    }

    fn inputs(&self) -> &[IoInfo] {
        self.0.inputs()
    }

    fn outputs(&self) -> &[IoInfo] {
        self.0.outputs()
    }

    fn run(&self, inputs: &[(&str, TensorRef<'_>)]) -> Result<RunOutput, EngineError> {
        let poisoned = inputs
            .iter()
            .any(|(_, t)| matches!(t.data(), TensorDataRef::F32(v) if v.first() == Some(&POISON)));
        if poisoned {
            panic!("injected: a poisoned input");
        }
        self.0.run(inputs)
    }
}

/// `x` with the first element of its first input set to [`POISON`].
fn poisoned(x: &NamedTensors) -> NamedTensors {
    let mut x = x.clone();
    let (_, t) = &mut x[0];
    let mut values = t.as_f32().expect("an f32 input").to_vec();
    values[0] = POISON;
    *t = Tensor::f32(t.shape.clone(), values).unwrap();
    x
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_engine_fails_its_batch_not_the_server() {
    let engine = loadpart_engine::engine(EngineKind::Tract).unwrap();
    let server = start(&["chain"], |c| {
        c.custom_engine = Some(CustomEngine(Arc::new(Panicky(engine))));
        c.executors = 1;
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let m = server.models()[0].clone();
    let mut client = infer_client(&server).await;
    let x = inputs(&m, 1, 3);
    let want = reference(&m, &x);

    for round in 0..3 {
        let e = client
            .model_infer(plain_request(&m.name, &poisoned(&x)))
            .await
            .expect_err("a panicking batch is not answered with outputs");
        assert_eq!(e.code(), Code::Internal, "round {round}: {e:?}");
        assert!(
            e.message().contains("panicked") && e.message().contains("poisoned"),
            "the panic's message reaches the caller: {}",
            e.message()
        );
        // The one executor is still there: the next requests are answered, right.
        for _ in 0..3 {
            let r = client
                .model_infer(plain_request(&m.name, &x))
                .await
                .expect("the server keeps serving")
                .into_inner();
            assert!(rel_err(&want, &outputs(&r)) < 1e-5);
        }
    }

    let text = metrics_text(server.metrics_addr().expect("metrics are served")).await;
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("loadpart_request_errors_total") && l.contains("executor_panic"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted, 3.0, "{text}");
    let r = load_report(&server, &m.name).await;
    assert_eq!((r.in_flight, r.queue_length), (0, 0), "{r:?}");
    server.shutdown().await.unwrap();
}
