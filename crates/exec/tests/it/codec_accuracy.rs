//! The codec keeps the model's answer: split execution with uint8 cut tensors agrees with the
//! whole model on the top-1 class (`loadpart check-codec MODEL` runs the full-size check).

use loadpart_engine::EngineKind;
use loadpart_exec::{
    AgreementOptions, EncodeOptions, FullOffload, Precision, Prepared, codec_agreement,
    randomize_for_checks, sample_cuts,
};
use loadpart_graph::zoo;

#[test]
fn uint8_cut_tensors_keep_top1_on_generated_inception() {
    let _serial = crate::exclusive();
    let engine = loadpart_engine::engine(EngineKind::Ort).unwrap();
    let model = randomize_for_checks(&zoo::generate("inception").unwrap(), 7).unwrap();
    let prepared = Prepared::new(&model).unwrap();
    let cuts = sample_cuts(&prepared, 3, 7, FullOffload::Exclude);
    assert_eq!(cuts.len(), 3);
    let opts = AgreementOptions {
        inputs: 40,
        codec: EncodeOptions::default(),
        seed: 7,
        ..Default::default()
    };
    let r = codec_agreement(engine.as_ref(), &prepared, &cuts, &opts).unwrap();
    assert_eq!(r.compared, 40 * 3);
    assert!(
        r.input_dependent,
        "reference top-1 is the same class for every input"
    );
    assert!(
        r.agreement_pct > 95.0,
        "agreement {:.1}%: {:?}",
        r.agreement_pct,
        r.cuts
    );
    assert!(
        r.cuts.iter().all(|c| c.ratio > 3.0 && c.max_rel_err < 0.1),
        "{:?}",
        r.cuts
    );
    // The centered class (output minus its mean over the inputs) varies at least as much.
    let centered = r.centered_agreement_pct.unwrap();
    assert!(centered > 90.0, "centered agreement {centered:.1}%");
    assert!(r.centered_reference_classes.unwrap() > 1);
    assert!(r.cuts.iter().all(|c| c.centered_agreement_pct.is_some()));
}

#[test]
fn lossless_codec_agrees_exactly() {
    let _serial = crate::exclusive();
    let engine = loadpart_engine::engine(EngineKind::Ort).unwrap();
    let model = randomize_for_checks(&zoo::generate("residual").unwrap(), 7).unwrap();
    let prepared = Prepared::new(&model).unwrap();
    let cuts = sample_cuts(&prepared, 2, 3, FullOffload::Include);
    let opts = AgreementOptions {
        inputs: 10,
        codec: EncodeOptions {
            precision: Precision::F32,
            ..Default::default()
        },
        seed: 3,
        ..Default::default()
    };
    let r = codec_agreement(engine.as_ref(), &prepared, &cuts, &opts).unwrap();
    assert_eq!(r.agree, r.compared);
    assert_eq!(r.centered_agreement_pct, Some(100.0));
    assert!(r.cuts.iter().all(|c| c.max_rel_err <= 1e-4), "{:?}", r.cuts);
}
