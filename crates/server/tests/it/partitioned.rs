//! Partitioned requests from a Rust tonic client: head here, tail on the server.

use loadpart_codec::Precision;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_outputs_equal_the_unsplit_model() {
    let server = start(&["inception"], |_| {}).await;
    let m = server.models()[0].clone();
    let cut = inner_cut(&m);
    let mut client = infer_client(&server).await;
    for seed in [1, 2] {
        let x = inputs(&m, 1, seed);
        let want = reference(&m, &x);
        // Lossless f32 codec: equal within float noise.
        let r = client
            .model_infer(partitioned_request(&m, &cut, &x, Precision::F32))
            .await
            .unwrap()
            .into_inner();
        let err = rel_err(&want, &outputs(&r));
        assert!(err < 1e-5, "f32 cut {cut}: relative error {err}");
        assert_eq!(param(&r, "loadpart_batch_size"), 1.0);
        assert!(param(&r, "loadpart_load_slowdown") > 0.0);
        // Default uint8 codec: within quantization error.
        let r = client
            .model_infer(partitioned_request(&m, &cut, &x, Precision::U8Auto))
            .await
            .unwrap()
            .into_inner();
        let err = rel_err(&want, &outputs(&r));
        assert!(err < 0.1, "uint8 cut {cut}: relative error {err}");
        eprintln!("cut {cut}: uint8 relative error {err:.2e}");
    }
    server.shutdown().await.unwrap();
}
