//! Exactness: the solver's optimum equals brute force over every downset, on random DAGs.

use crate::problem::{PlanProblem, Style};
use proptest::prelude::*;

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![Just(Style::Structured), Just(Style::Random)]
}

fn problem(max_cuts: impl Strategy<Value = usize>) -> impl Strategy<Value = PlanProblem> {
    (
        any::<u64>(),
        2usize..=40,
        style(),
        any::<u64>(),
        max_cuts,
        any::<bool>(),
    )
        .prop_map(
            |(dag_seed, max_nodes, style, cost_seed, max_cuts_per_block, prune)| PlanProblem {
                dag_seed,
                max_nodes,
                style,
                cost_seed,
                max_cuts_per_block,
                prune,
            },
        )
}

/// Cases per property: the release run (the one reported) tries 1000; debug builds, where brute
/// force is ~10x slower, try 250.
const CASES: u32 = if cfg!(debug_assertions) { 250 } else { 1000 };

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Listing (default cap) agrees with brute force.
    #[test]
    fn solver_matches_brute_force(p in problem(Just(256usize))) {
        prop_assert_eq!(p.check(), Ok(()));
    }

    /// Min-cut on (almost) every block agrees with brute force.
    #[test]
    fn min_cut_matches_brute_force(p in problem(0usize..3)) {
        prop_assert_eq!(p.check(), Ok(()));
    }
}

/// The generated cases exercise what matters: optima strictly inside blocks (multi-tensor cuts),
/// through min-cut too, and few cases too large for brute force.
#[test]
fn cases_cover_inner_multi_tensor_optima() {
    let (mut total, mut skipped, mut inner, mut multi, mut local, mut offload) = (0, 0, 0, 0, 0, 0);
    let seeds = if cfg!(debug_assertions) { 100 } else { 400 };
    for seed in 0..seeds {
        for (style, max_cuts) in [(Style::Structured, 256), (Style::Random, 0)] {
            let p = PlanProblem {
                dag_seed: seed,
                max_nodes: 40,
                style,
                cost_seed: seed.wrapping_mul(31),
                max_cuts_per_block: max_cuts,
                prune: true,
            };
            assert_eq!(p.check(), Ok(()), "{p:?}");
            let b = p.build();
            total += 1;
            if p.reference(&b).is_none() {
                skipped += 1;
                continue;
            }
            let planner = p.planner(&b);
            let d = planner.decide(&b.estimate);
            let space = planner.space();
            let boundary = space.boundaries().iter().any(|x| x.cut.head == d.cut.head);
            inner += usize::from(!boundary);
            multi += usize::from(d.cut.tensors.len() > 1 && !d.cut.is_full_local());
            local += usize::from(d.cut.is_full_local());
            offload += usize::from(d.cut.is_full_offload());
        }
    }
    println!(
        "{total} cases: {skipped} too large, optimum inside a block {inner}, multi-tensor {multi}, \
         full local {local}, full offload {offload}"
    );
    assert!(skipped * 20 <= total);
    assert!(inner * 20 >= total, "too few inner optima: {inner}/{total}");
    assert!(local > 0 && offload > 0);
}

/// The block-by-block check the CLI can run on real models agrees on synthetic CNN shapes, on
/// both search paths.
#[test]
fn block_brute_force_on_cnn_shapes() {
    use loadpart_plan::synth::{self, SplitMix64};
    use loadpart_plan::{Planner, PlannerOptions, verify};
    let shapes = [
        synth::resnet50_like(),
        synth::inception_v1_like(),
        synth::densenet121_like(),
        synth::densenet121_all_concat_like(),
    ];
    let mut rng = SplitMix64::new(99);
    for dag in shapes {
        for cap in [256, 0] {
            let (d, s) = synth::random_profiles(&dag, &mut rng, &[1, 4, 8]);
            let options = PlannerOptions {
                max_cuts_per_block: cap,
                ..PlannerOptions::default()
            };
            let p = Planner::new(dag.clone(), &d, &s, options).unwrap();
            for _ in 0..5 {
                let e = synth::random_estimate(&mut rng);
                for c in verify::brute_force_blocks(&p, &e, 100_000) {
                    assert!(c.downsets.is_some() && c.agrees(), "{c:?} cap {cap}");
                }
            }
        }
    }
}

/// On random DAGs the cut space lists every downset exactly once: the decomposition at
/// articulation tensors loses no cut and repeats none.
#[test]
fn cut_space_lists_every_downset_once() {
    use crate::problem::all_downsets;
    use loadpart_cuts::{CutSpace, NodeSet};
    use std::collections::HashSet;
    let seeds = if cfg!(debug_assertions) { 50 } else { 200 };
    for seed in 0..seeds {
        for style in [Style::Structured, Style::Random] {
            let p = PlanProblem {
                dag_seed: seed,
                max_nodes: 30,
                style,
                cost_seed: 0,
                max_cuts_per_block: 0,
                prune: false,
            };
            let dag = p.build().dag;
            let mut heads = Vec::new();
            if all_downsets(
                &dag,
                0,
                &mut NodeSet::empty(dag.node_count()),
                &mut heads,
                50_000,
            )
            .is_none()
            {
                continue;
            }
            let space = CutSpace::analyze(&dag, 100_000);
            assert!(space.is_complete());
            let listed: Vec<String> = space
                .all_candidate_cuts()
                .map(|c| c.cut.id(&dag).to_string())
                .collect();
            let unique: HashSet<&String> = listed.iter().collect();
            assert_eq!(unique.len(), listed.len(), "seed {seed}: repeated cut");
            let all: HashSet<String> = heads
                .into_iter()
                .map(|h| dag.cut_of(h).id(&dag).to_string())
                .collect();
            assert_eq!(all.len(), listed.len(), "seed {seed}");
            assert!(listed.iter().all(|id| all.contains(id)), "seed {seed}");
            for c in space.all_candidate_cuts() {
                let names: Vec<&str> = c
                    .cut
                    .tensors
                    .iter()
                    .map(|&t| dag.tensor(t).name.as_str())
                    .collect();
                let v = dag.validate_cut_names(&names).unwrap();
                assert_eq!(v.head, c.cut.head, "seed {seed}: canonical head");
            }
        }
    }
}

/// Long soak over many seeds, both search paths, both pruning settings:
/// `LOADPART_SOAK_CASES=20000 cargo test --release -p loadpart-plan --test it soak -- --ignored`.
#[test]
#[ignore]
fn soak() {
    let n: u64 = std::env::var("LOADPART_SOAK_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let mut checked = 0;
    for seed in 0..n {
        let style = if seed % 2 == 0 {
            Style::Structured
        } else {
            Style::Random
        };
        let p = PlanProblem {
            dag_seed: seed.wrapping_mul(0x9E37_79B9),
            max_nodes: 2 + (seed % 39) as usize,
            style,
            cost_seed: seed,
            max_cuts_per_block: [256, 0, 1, 4][(seed / 2 % 4) as usize],
            prune: seed % 3 != 0,
        };
        assert_eq!(p.check(), Ok(()), "{p:?}");
        checked += 1;
    }
    println!("soak: {checked} cases agree with brute force");
}
