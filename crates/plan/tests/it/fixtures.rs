//! Hand-designed profiles with a clear shape: the device is 10x slower than the server per stage,
//! activations shrink steadily with depth, tensors are sent raw (no codec) unless asked.

use loadpart_cuts::Dag;
use loadpart_plan::{
    CodecLevel, ModelProfile, NodeCost, Planner, PlannerOptions, TensorCodec, TensorInfo,
};
use std::sync::Arc;

pub fn profiles(dag: &Dag, codec: bool) -> (ModelProfile, ModelProfile) {
    let nodes = |us: f64, sizes: &[usize]| {
        dag.nodes()
            .iter()
            .map(|n| NodeCost {
                name: n.name.clone(),
                time_us: sizes
                    .iter()
                    .map(|&b| us * (1.0 + 0.5 * (b as f64 - 1.0)))
                    .collect(),
                tail_time_us: None,
            })
            .collect()
    };
    let tensors: Vec<TensorInfo> = dag
        .tensors()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let elements = (1e6 * 0.85f64.powi(i as i32)).max(100.0) as u64;
            TensorInfo {
                name: t.name.clone(),
                bytes_per_sample: 4 * elements,
                elements_per_sample: elements,
                codec: codec.then_some(TensorCodec {
                    ratio: 3.0,
                    header_bytes: 8,
                    encode_ns_per_byte: 0.2,
                    decode_ns_per_byte: 0.2,
                    compress_ns_per_byte: 2.0,
                    decompress_ns_per_byte: 1.0,
                    tighter: Vec::new(),
                }),
            }
        })
        .collect();
    let profile = |host: &str, sizes: Vec<usize>, nodes| ModelProfile {
        role: None,
        threads: None,
        model_hash: "designed".into(),
        engine: "test".into(),
        host: host.into(),
        batch_sizes: sizes,
        nodes,
        tensors: tensors.clone(),
        validation: None,
    };
    (
        profile("device", vec![1], nodes(1000.0, &[1])),
        profile("server", vec![1, 2, 4, 8], nodes(100.0, &[1, 2, 4, 8])),
    )
}

pub fn planner(dag: Dag, codec: bool) -> Arc<Planner> {
    let (d, s) = profiles(&dag, codec);
    Arc::new(Planner::new(dag, &d, &s, PlannerOptions::default()).unwrap())
}

/// [`planner`] with the codec and, for every tensor, one tighter level as a 6-bit zstd-9
/// encoding measures: ratio 4.5 over uint8 (against 3), 20 ns per byte to compress (10x the
/// default), 1.2 to decompress.
pub fn planner_with_tighter(dag: Dag) -> Arc<Planner> {
    let (mut d, mut s) = profiles(&dag, true);
    for t in d.tensors.iter_mut().chain(s.tensors.iter_mut()) {
        if let Some(c) = t.codec.as_mut() {
            c.tighter.push(CodecLevel {
                bits: 6,
                zstd_level: 9,
                ratio: 4.5,
                compress_ns_per_byte: 20.0,
                decompress_ns_per_byte: 1.2,
            });
        }
    }
    Arc::new(Planner::new(dag, &d, &s, PlannerOptions::default()).unwrap())
}
