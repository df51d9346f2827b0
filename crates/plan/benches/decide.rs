//! Planner decision time per request on synthetic CNN-shaped DAGs, with random (B, RTT, W, f, k)
//! per call. Run: `cargo bench -p loadpart-plan --bench decide`.

use criterion::{Criterion, criterion_group, criterion_main};
use loadpart_cuts::Dag;
use loadpart_plan::synth;
use loadpart_plan::{Planner, PlannerOptions};
use std::hint::black_box;

fn planner(dag: Dag, options: PlannerOptions) -> Planner {
    synth::synthetic_planner(dag, 7, &[1, 2, 4, 8], options).expect("synthetic profiles are valid")
}

fn bench(c: &mut Criterion) {
    let listed = PlannerOptions::default();
    let min_cut = PlannerOptions {
        max_cuts_per_block: 0,
        ..listed
    };
    let cases = [
        ("resnet50_like", synth::resnet50_like(), listed),
        ("inception_v1_like", synth::inception_v1_like(), listed),
        ("densenet121_like", synth::densenet121_like(), listed),
        (
            "densenet121_all_concat_like",
            synth::densenet121_all_concat_like(),
            listed,
        ),
        ("resnet50_like/min_cut", synth::resnet50_like(), min_cut),
        (
            "inception_v1_like/min_cut",
            synth::inception_v1_like(),
            min_cut,
        ),
        (
            "densenet121_all_concat_like/min_cut",
            synth::densenet121_all_concat_like(),
            min_cut,
        ),
    ];
    let est = synth::random_estimates(11, 1024);
    let mut group = c.benchmark_group("decide");
    for (name, dag, options) in cases {
        let p = planner(dag, options);
        let mut i = 0;
        group.bench_function(name, |b| {
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
