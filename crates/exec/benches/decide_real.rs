//! Planner decision time per request on the real stage DAGs of the light models (synthetic
//! profiles), with random (B, RTT, W, f, k) per call. Run:
//! `cargo bench -p loadpart-exec --bench decide_real` (needs `scripts/setup.sh`'s light models).
//!
//! Criterion's medians are in `target/criterion/decide_real/<model>/new/estimates.json`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use loadpart_graph::Prepared;
use loadpart_graph::zoo::{self, LIGHT_MODELS};
use loadpart_plan::synth;
use loadpart_plan::{Planner, PlannerOptions};

fn planner(name: &str, options: PlannerOptions) -> Planner {
    let model = zoo::load_light(name).unwrap_or_else(|e| panic!("{e}"));
    let prepared = Prepared::new(&model).expect("light model prepares");
    let dag = prepared.stages.dag().clone();
    synth::synthetic_planner(dag, 7, &[1, 2, 4, 8], options)
        .expect("synthetic profiles fit the DAG")
}

fn bench(c: &mut Criterion) {
    let listed = PlannerOptions::default();
    let min_cut = PlannerOptions {
        max_cuts_per_block: 0,
        ..listed
    };
    let mut cases: Vec<(String, Planner)> = LIGHT_MODELS
        .iter()
        .map(|&name| (name.to_string(), planner(name, listed)))
        .collect();
    // The same DAGs with every block searched by min-cut: the cost when blocks are too large to list.
    for name in ["densenet121", "inception_v2", "resnet50"] {
        cases.push((format!("{name}/min_cut"), planner(name, min_cut)));
    }
    let est = synth::random_estimates(11, 1024);
    let mut group = c.benchmark_group("decide_real");
    for (name, p) in &cases {
        let mut i = 0;
        group.bench_function(name.as_str(), |b| {
            b.iter(|| {
                i = (i + 1) % est.len();
                black_box(p.decide(black_box(&est[i])))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
