//! The planner on the real light models' stage DAGs: on every block, the exact solver's optimum
//! equals a brute force over every cut of the block, for both search kinds (listed cuts and
//! min-cut), over random synthetic profiles and random conditions.

use loadpart_exec::Prepared;
use loadpart_graph::zoo::{self, LIGHT_MODELS};
use loadpart_plan::synth::{self, SplitMix64};
use loadpart_plan::{Planner, PlannerOptions, verify};

/// Profile draws per model and search kind, and conditions per profile.
const PROFILES: u64 = 4;
const ESTIMATES: usize = 25;
/// Blocks with more downsets than this would be skipped (none of the light models has one).
const MAX_DOWNSETS: usize = 200_000;

#[test]
fn solver_matches_brute_force_on_every_block_of_the_light_models() {
    let listed = PlannerOptions::default();
    let min_cut = PlannerOptions {
        max_cuts_per_block: 0,
        ..listed
    };
    for (m, name) in LIGHT_MODELS.iter().enumerate() {
        let model = zoo::load_light(name).unwrap_or_else(|e| panic!("{e}"));
        let prepared = Prepared::new(&model).expect("light model prepares");
        let dag = prepared.stages.dag();
        let (mut blocks_checked, mut largest) = (0usize, 0usize);
        for (search, options) in [("listed", listed), ("min-cut", min_cut)] {
            for seed in 0..PROFILES {
                let mut rng = SplitMix64::new(1000 * m as u64 + seed);
                let (device, server) = synth::random_profiles(dag, &mut rng, &[1, 2, 4, 8]);
                let planner = Planner::new(dag.clone(), &device, &server, options)
                    .expect("synthetic profiles fit the DAG");
                for case in 0..ESTIMATES {
                    let e = synth::random_estimate(&mut rng);
                    let checks = verify::brute_force_blocks(&planner, &e, MAX_DOWNSETS);
                    let ctx = format!("{name} ({search}, profile seed {seed}, case {case}): {e:?}");
                    let mut best = f64::INFINITY;
                    for c in &checks {
                        let downsets = c.downsets.unwrap_or_else(|| {
                            panic!("{ctx}: block {} has over {MAX_DOWNSETS} downsets", c.block)
                        });
                        assert!(
                            c.agrees(),
                            "{ctx}: block {} solver {} us, brute force {} us over {downsets} cuts",
                            c.block,
                            c.solver_us,
                            c.brute_force_us
                        );
                        largest = largest.max(downsets);
                        best = best.min(c.brute_force_us);
                    }
                    blocks_checked += checks.len();
                    // Every cut lies in some block, so the blocks' optimum is the model's.
                    let decided = planner.decide(&e).predicted.total();
                    assert!(
                        (decided - best).abs() <= 1e-9 * best.max(1.0),
                        "{ctx}: decision {decided} us, brute-force optimum {best} us"
                    );
                }
            }
        }
        eprintln!(
            "{name}: {} stages, {blocks_checked} block checks agree (largest block: {largest} cuts)",
            dag.node_count()
        );
    }
}
