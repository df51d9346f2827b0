//! Engine conformance suite: the same tests on every engine (one test binary).
//!
//! Run in release mode (tract is slow unoptimised):
//! `cargo test --release -p loadpart-engine`. Needs `scripts/setup.sh` to have installed
//! ONNX Runtime and the light models; their absence fails the suite, it is never skipped.

mod dynamic;
mod errors;
mod fixtures;
mod light;
mod ort_io;
mod randomized;
mod small_net;
mod support;
mod threads;

/// One module of tests per engine, identical but for the engine.
macro_rules! conformance {
    ($name:ident, $kind:expr, [$($model:ident),*]) => {
        mod $name {
            use loadpart_engine::EngineKind;
            const KIND: EngineKind = $kind;

            /// The light models against their reference outputs.
            mod light {
                use super::KIND;
                $(
                    #[test]
                    fn $model() {
                        crate::light::check(KIND, stringify!($model));
                    }
                )*
            }

            #[test]
            fn any_batch_size_on_dynamic_batch_model() {
                crate::dynamic::batches(KIND);
            }

            #[test]
            fn one_model_shared_by_8_threads() {
                crate::threads::shared(KIND);
            }

            #[test]
            fn time_runs_reports_every_run() {
                crate::threads::timed(KIND);
            }

            #[test]
            fn bad_bytes_are_load_errors() {
                crate::errors::bad_bytes(KIND);
            }

            #[test]
            fn dangling_graph_output_is_an_error() {
                crate::errors::dangling_output(KIND);
            }

            #[test]
            fn bad_requests_are_typed_errors() {
                crate::errors::bad_requests(KIND);
            }
        }
    };
}

conformance!(
    ort,
    EngineKind::Ort,
    [
        bvlc_alexnet,
        densenet121,
        inception_v1,
        inception_v2,
        resnet50,
        shufflenet,
        squeezenet,
        vgg19,
        zfnet512
    ]
);
conformance!(
    tract,
    EngineKind::Tract,
    [
        bvlc_alexnet,
        densenet121,
        inception_v1,
        inception_v2,
        resnet50,
        shufflenet,
        squeezenet,
        vgg19,
        zfnet512
    ]
);

#[test]
fn engines_agree_on_dynamic_batch_model() {
    dynamic::engines_agree();
}

#[test]
fn ort_hands_outputs_over_without_a_copy() {
    ort_io::outputs_handed_over();
}

#[test]
fn ort_thread_pool_settings_agree() {
    ort_io::pool_settings_agree();
}

/// Cross-engine: ort and tract agree on input-dependent logits of every light model.
mod randomized_weights {
    macro_rules! randomized {
        ($($model:ident),*) => {$(
            #[test]
            fn $model() {
                crate::randomized::check(stringify!($model));
            }
        )*};
    }
    randomized!(
        bvlc_alexnet,
        densenet121,
        inception_v1,
        inception_v2,
        resnet50,
        shufflenet,
        squeezenet,
        vgg19,
        zfnet512
    );
}

#[test]
fn light_model_list_is_complete() {
    let mut on_disk: Vec<String> = std::fs::read_dir(support::models_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let model = name.strip_prefix("light_")?.strip_suffix(".onnx")?;
            Some(model.to_owned())
        })
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, light::MODELS);
}
