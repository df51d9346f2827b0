use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

fn cut(name: &str) -> CutId {
    CutId::from_names([name])
}

fn group(name: &str, position: f64, rows: usize) -> StairGroup {
    StairGroup {
        cut: cut(name),
        position,
        rows,
    }
}

/// Cuts named by a bitmask of their head's nodes, as `h<mask>`.
fn mask(c: &CutId) -> u32 {
    c.as_str()[1..].parse().unwrap()
}

/// Heads nest when one mask is a strict subset of the other.
fn subset(a: &CutId, b: &CutId) -> bool {
    let (a, b) = (mask(a), mask(b));
    a != b && a & b == a
}

fn chain_all(_: &CutId, _: &CutId) -> bool {
    true
}

#[test]
fn no_groups_no_staircases() {
    assert!(plan_staircases(&[], 8, chain_all).is_empty());
}

#[test]
fn a_single_group_runs_its_tail() {
    let plans = plan_staircases(&[group("x", 0.3, 4)], 8, chain_all);
    let want = Stage {
        group: 0,
        from: cut("x"),
        to: None,
        rows: 4,
    };
    assert_eq!(plans, vec![Staircase { stages: vec![want] }]);
    assert_eq!(plans[0].rows(), 4);
}

#[test]
fn nested_groups_form_one_staircase_in_model_order() {
    let groups = [
        group("late", 0.8, 1),
        group("early", 0.2, 2),
        group("mid", 0.5, 3),
    ];
    let plans = plan_staircases(&groups, 8, chain_all);
    let want = vec![
        Stage {
            group: 1,
            from: cut("early"),
            to: Some(cut("mid")),
            rows: 2,
        },
        Stage {
            group: 2,
            from: cut("mid"),
            to: Some(cut("late")),
            rows: 5,
        },
        Stage {
            group: 0,
            from: cut("late"),
            to: None,
            rows: 6,
        },
    ];
    assert_eq!(plans, vec![Staircase { stages: want }]);
}

#[test]
fn groups_whose_heads_do_not_nest_stay_apart() {
    // Heads {0}, {1} on parallel branches, and {0, 1, 2} after the join.
    let groups = [
        group("h1", 1.0, 1),
        group("h2", 1.0, 1),
        group("h7", 3.0, 1),
    ];
    let plans = plan_staircases(&groups, 8, subset);
    let stages: Vec<Vec<(usize, usize)>> = plans
        .iter()
        .map(|p| p.stages.iter().map(|s| (s.group, s.rows)).collect())
        .collect();
    assert_eq!(stages, vec![vec![(0, 1), (2, 2)], vec![(1, 1)]]);
    let none = plan_staircases(&groups, 8, |_, _| false);
    assert_eq!(none.len(), 3);
    assert!(
        none.iter()
            .all(|p| p.stages.len() == 1 && p.stages[0].to.is_none())
    );
}

#[test]
fn merging_never_exceeds_max_rows() {
    let groups = [group("a", 0.1, 3), group("b", 0.2, 2), group("c", 0.3, 2)];
    let plans = plan_staircases(&groups, 5, chain_all);
    let rows: Vec<Vec<usize>> = plans
        .iter()
        .map(|p| p.stages.iter().map(|s| s.rows).collect())
        .collect();
    assert_eq!(rows, vec![vec![3, 5], vec![2]]);
}

#[test]
fn the_same_cut_is_never_merged_with_itself() {
    let groups = [group("a", 0.1, 1), group("a", 0.1, 1)];
    let plans = plan_staircases(&groups, 8, chain_all);
    assert_eq!(plans.len(), 2);
}

#[test]
fn staircases_come_back_oldest_group_first() {
    let groups = [
        group("h2", 1.0, 1),
        group("h1", 1.0, 1),
        group("h3", 2.0, 1),
    ];
    let plans = plan_staircases(&groups, 8, subset);
    // h1 sorts first and takes h3; h2 stays alone but holds the oldest group, 0.
    assert_eq!(
        plans[0].stages.iter().map(|s| s.group).collect::<Vec<_>>(),
        vec![0]
    );
    assert_eq!(
        plans[1].stages.iter().map(|s| s.group).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

proptest! {
    /// Random heads over six nodes, nesting by strict subset: each group lands in exactly
    /// one stage, consecutive stages nest, rows accumulate and stay within the limit.
    #[test]
    fn plans_are_well_formed(
        raw in proptest::collection::vec((1u32..64, 1usize..4), 0..12),
        max_rows in 1usize..10,
    ) {
        let groups: Vec<StairGroup> = raw
            .iter()
            .map(|&(m, rows)| group(&format!("h{m}"), m.count_ones() as f64, rows))
            .collect();
        let plans = plan_staircases(&groups, max_rows, subset);
        let mut seen = BTreeSet::new();
        for p in &plans {
            prop_assert!(!p.stages.is_empty());
            let mut rows = 0;
            for (k, s) in p.stages.iter().enumerate() {
                prop_assert!(seen.insert(s.group), "group {} twice", s.group);
                rows += groups[s.group].rows;
                prop_assert_eq!(s.rows, rows);
                prop_assert_eq!(&s.from, &groups[s.group].cut);
                match p.stages.get(k + 1) {
                    Some(next) => {
                        prop_assert_eq!(s.to.as_ref(), Some(&next.from));
                        prop_assert!(subset(&s.from, &next.from));
                    }
                    None => prop_assert!(s.to.is_none()),
                }
            }
            prop_assert!(p.stages.len() == 1 || p.rows() <= max_rows);
        }
        prop_assert_eq!(seen.len(), groups.len());
    }
}
