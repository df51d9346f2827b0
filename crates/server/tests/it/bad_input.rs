//! Bad requests get the right status and message while valid traffic keeps flowing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use loadpart_codec::Precision;
use loadpart_proto::inference::InferParameter;
use loadpart_proto::inference::infer_parameter::ParameterChoice;
use tonic::Code;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_the_server_keeps_serving() {
    let server = start(&["inception"], |_| {}).await;
    let m = server.models()[0].clone();
    let cut = inner_cut(&m);
    let x = inputs(&m, 1, 7);
    let want = reference(&m, &x);

    // Valid traffic in the background for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let background = {
        let (mut client, stop, ok) = (infer_client(&server).await, stop.clone(), ok.clone());
        let (x, want, name) = (x.clone(), want.clone(), m.name.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = client.model_infer(plain_request(&name, &x)).await.unwrap();
                assert!(rel_err(&want, &outputs(r.get_ref())) < 1e-5);
                ok.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let good = plain_request(&m.name, &x);
    let good_part = partitioned_request(&m, &cut, &x, Precision::U8Auto);
    let string = |s: &str| InferParameter {
        parameter_choice: Some(ParameterChoice::StringParam(s.into())),
    };
    let mut cases: Vec<(&str, ModelInferRequest, Code, &str)> = Vec::new();

    let mut r = good.clone();
    r.inputs[0].shape[2] += 1;
    cases.push((
        "wrong shape",
        r,
        Code::InvalidArgument,
        "does not match the model",
    ));
    let mut r = good.clone();
    r.inputs[0].datatype = "FP16".into();
    cases.push(("wrong dtype", r, Code::InvalidArgument, "datatype \"FP16\""));
    let mut r = good.clone();
    r.model_name = "nope".into();
    cases.push(("unknown model", r, Code::NotFound, "unknown model \"nope\""));
    let mut r = good.clone();
    r.raw_input_contents[0].truncate(100);
    cases.push((
        "truncated raw",
        r,
        Code::InvalidArgument,
        "raw contents hold 100 bytes",
    ));
    let mut r = good.clone();
    r.inputs[0].name = "y".into();
    cases.push((
        "unknown input",
        r,
        Code::InvalidArgument,
        "has no input \"y\"",
    ));

    let mut r = good_part.clone();
    r.parameters
        .insert("loadpart_model_identity".into(), string(&"0".repeat(64)));
    cases.push((
        "identity mismatch",
        r,
        Code::FailedPrecondition,
        "model identity mismatch",
    ));
    let mut r = good_part.clone();
    r.parameters
        .insert("loadpart_cut_checksum".into(), string("0123456789abcdef"));
    cases.push((
        "wrong cut checksum",
        r,
        Code::InvalidArgument,
        "cut checksum mismatch",
    ));
    let mut r = good_part.clone();
    let mut corrupt = r.raw_input_contents[0].to_vec();
    *corrupt.last_mut().unwrap() ^= 0x5a;
    r.raw_input_contents[0] = corrupt.into();
    cases.push(("corrupt payload", r, Code::InvalidArgument, "checksum"));
    let mut r = good_part.clone();
    let n = r.raw_input_contents[0].len();
    r.raw_input_contents[0].truncate(n - 1);
    cases.push(("truncated payload", r, Code::InvalidArgument, "input"));
    let mut r = good_part.clone();
    r.inputs.truncate(1);
    r.raw_input_contents.truncate(1);
    if good_part.inputs.len() > 1 {
        cases.push(("not a cut", r, Code::InvalidArgument, "cut"));
    }

    let mut client = infer_client(&server).await;
    for (what, req, code, needle) in cases {
        let e = client.model_infer(req).await.expect_err(what);
        assert_eq!(e.code(), code, "{what}: {}", e.message());
        assert!(
            e.message().contains(needle),
            "{what}: {:?} lacks {needle:?}",
            e.message()
        );
        // A valid request right after each bad one succeeds.
        let r = client
            .model_infer(good.clone())
            .await
            .expect(what)
            .into_inner();
        assert!(rel_err(&want, &outputs(&r)) < 1e-5, "{what}");
        let r = client
            .model_infer(good_part.clone())
            .await
            .expect(what)
            .into_inner();
        assert!(rel_err(&want, &outputs(&r)) < 0.1, "{what}");
    }
    stop.store(true, Ordering::Relaxed);
    background.await.unwrap();
    assert!(ok.load(Ordering::Relaxed) > 0);
    server.shutdown().await.unwrap();
}
