//! Fixed cases: shrunk property-test failures stay here as plain tests, plus edge shapes.

use crate::problem::{PlanProblem, Style};

fn case(dag_seed: u64, max_nodes: usize, style: Style, cost_seed: u64, cap: usize) {
    for prune in [false, true] {
        let p = PlanProblem {
            dag_seed,
            max_nodes,
            style,
            cost_seed,
            max_cuts_per_block: cap,
            prune,
        };
        assert_eq!(p.check(), Ok(()), "{p:?}");
    }
}

#[test]
fn single_stage_model() {
    case(1, 1, Style::Random, 1, 256);
    case(1, 1, Style::Random, 2, 0);
}

#[test]
fn two_input_dense_models_on_both_paths() {
    for seed in [3, 17, 42] {
        case(seed, 40, Style::Structured, seed + 1, 256);
        case(seed, 40, Style::Structured, seed + 1, 0);
    }
}

#[test]
fn wide_random_dags_on_both_paths() {
    for seed in [5, 6, 7] {
        case(seed, 40, Style::Random, seed, 256);
        case(seed, 40, Style::Random, seed, 1);
    }
}
