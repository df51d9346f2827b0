//! Staircase merging, the planning half: which batches of one model to merge, and how.
//!
//! Requests that entered a model at an earlier cut can be run forward through the segment to a
//! later cut and concatenated in front of that cut's batch, so that the rest of the model runs
//! once at a larger batch size (spec section 4, SNB mode). With groups G_0..G_m sorted by entry
//! cut, stage g runs the segment from G_g's cut to G_{g+1}'s cut at batch `|G_0| + ... + |G_g|`,
//! and the last stage runs the tail of G_m's cut. This is valid only where heads nest: every
//! later cut's head contains every earlier one's, which the caller decides through `nests`.
//! Executing the plan (segments, concatenation, splitting the outputs) belongs to the executor.

use loadpart_cuts::CutId;

/// One batch of requests that entered a model at the same cut.
#[derive(Debug, Clone, PartialEq)]
pub struct StairGroup {
    /// The entry cut.
    pub cut: CutId,
    /// The cut's place in model order: any number that grows strictly with the head, such as the
    /// number of nodes in the head or its topological rank. Only used to sort; merging is decided
    /// by `nests`.
    pub position: f64,
    /// Rows (samples along dim 0) in the group; positive.
    pub rows: usize,
}

/// One stage of a [`Staircase`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Index, into the groups given to [`plan_staircases`], of the group whose rows join here
    /// (appended after the rows carried from earlier stages).
    pub group: usize,
    /// The cut this stage starts from (the joining group's entry cut).
    pub from: CutId,
    /// The cut this stage runs to, the next stage's `from`; `None` for the last stage, which runs
    /// the tail to the model outputs.
    pub to: Option<CutId>,
    /// Batch size this stage runs at: rows of this and all earlier groups, at most `max_rows`.
    pub rows: usize,
}

/// A merged execution plan: stages in model order, the first entering earliest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staircase {
    /// At least one stage; a single stage is a plain batch run through its cut's tail.
    pub stages: Vec<Stage>,
}

impl Staircase {
    /// Rows of the final stage (all of the staircase's requests).
    pub fn rows(&self) -> usize {
        self.stages.last().map_or(0, |s| s.rows)
    }
}

/// Merges `groups` of one model into staircases.
///
/// `nests(a, b)` must be true only when the head of cut `b` strictly contains the head of cut
/// `a`, so that the segment from `a` to `b` exists. Groups are taken in order of `position`
/// (ties by cut id, then index), and each joins the first staircase whose last cut nests into
/// its own and whose rows stay within `max_rows`; otherwise it starts a new one. Groups that
/// nest with nothing come back as single-stage staircases, and two groups at the same cut are
/// never merged (they differ in something else, e.g. input shape). Every group appears in exactly
/// one stage. Staircases come back in order of the smallest group index they hold, so a caller
/// that lists groups oldest first runs the oldest request's staircase first.
pub fn plan_staircases(
    groups: &[StairGroup],
    max_rows: usize,
    nests: impl Fn(&CutId, &CutId) -> bool,
) -> Vec<Staircase> {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&groups[i], &groups[j]);
        a.position
            .total_cmp(&b.position)
            .then_with(|| a.cut.cmp(&b.cut))
            .then(i.cmp(&j))
    });

    // Each chain: group indices in stage order, and its rows so far.
    let mut chains: Vec<(Vec<usize>, usize)> = Vec::new();
    for i in order {
        let g = &groups[i];
        let joins = chains.iter_mut().find(|(chain, rows)| {
            let last = &groups[*chain.last().expect("chains are never empty")].cut;
            *last != g.cut && rows + g.rows <= max_rows && nests(last, &g.cut)
        });
        match joins {
            Some((chain, rows)) => {
                chain.push(i);
                *rows += g.rows;
            }
            None => chains.push((vec![i], g.rows)),
        }
    }

    chains.sort_by_key(|(chain, _)| chain.iter().min().copied());
    chains
        .into_iter()
        .map(|(chain, _)| {
            let mut rows = 0;
            let stages = chain
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    rows += groups[i].rows;
                    Stage {
                        group: i,
                        from: groups[i].cut.clone(),
                        to: chain.get(k + 1).map(|&next| groups[next].cut.clone()),
                        rows,
                    }
                })
                .collect();
            Staircase { stages }
        })
        .collect()
}

#[cfg(test)]
mod tests;
