//! One cell repetition: set the link and the load, let the estimates settle, then round after
//! round send one request per variant through the same client, so that every policy sees the
//! same conditions.

use std::time::{Duration, Instant};

use anyhow::Result;
use loadpart_client::{Client, Remote, wire};
use loadpart_proto::loadpart::LoadRequest;
use loadpart_runtime::NamedTensors;

use super::config::{Cell, Sweep};
use super::policies::{Variant, variants};
use super::record::{LoadNow, Record};
use crate::progress::Progress;

/// What a cell needs from the model's run.
pub struct CellEnv<'a> {
    pub client: &'a Client,
    /// The server on the unshaped path, for load polls.
    pub direct: &'a Remote,
    /// The model's name on the server.
    pub model_name: &'a str,
    /// Inputs, used in turn.
    pub inputs: &'a [NamedTensors],
    /// Top-1 class of local, unquantized execution of each input.
    pub local_top1: &'a [usize],
}

/// Index of the largest value of the first output (ties: the first).
pub fn top1(outputs: &NamedTensors) -> Option<usize> {
    let x = outputs.first()?.1.as_f32()?;
    x.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

/// The server's load now, from the unshaped path; the default when the poll fails.
pub async fn load_now(direct: &Remote, model: &str) -> LoadNow {
    let mut req = tonic::Request::new(LoadRequest {
        model_name: model.to_string(),
    });
    req.set_timeout(Duration::from_millis(500));
    match direct.loadpart.clone().get_load(req).await {
        Ok(r) => LoadNow::from(&wire::load_sample(&r.into_inner())),
        Err(_) => LoadNow::default(),
    }
}

/// Runs `cell` (link and load already set and settled): one unrecorded round that builds every
/// variant's parts, then `sweep.requests` recorded rounds.
pub async fn run_cell(
    env: &CellEnv<'_>,
    cell: &Cell,
    sweep: &Sweep,
    bar: &Progress,
    progress: (usize, usize),
) -> Result<Vec<Record>> {
    let fixed = sweep.fixed_cuts.get(&cell.model).map(Vec::as_slice);
    let vs: Vec<Variant> = variants(env.client, &sweep.policies, fixed, sweep.top_cuts)?;
    for v in &vs {
        let load = load_now(env.direct, env.model_name).await;
        let opts = v.options(&env.client.estimate(), cell.mbit, &load);
        env.client.infer(env.inputs[0].clone(), &opts).await?;
    }
    let start = Instant::now();
    let mut records = Vec::with_capacity(vs.len() * sweep.requests);
    let (done_before, total) = progress;
    for round in 0..sweep.requests {
        let i = round % env.inputs.len();
        // A fresh order each round: a variant's latency depends on the one before it.
        for k in crate::round_order::round_order(vs.len(), round, cell_seed(cell)) {
            let v = &vs[k];
            let load = load_now(env.direct, env.model_name).await;
            let opts = v.options(&env.client.estimate(), cell.mbit, &load);
            let o = env.client.infer(env.inputs[i].clone(), &opts).await?;
            let same = top1(&o.outputs) == env.local_top1.get(i).copied();
            records.push(Record::new(
                cell,
                round,
                start.elapsed().as_secs_f64(),
                &v.label(),
                &o,
                load,
                same,
            ));
        }
        bar.update(
            &short(cell),
            done_before * sweep.requests + round + 1,
            total * sweep.requests,
        );
    }
    Ok(records)
}

/// Seeds a cell's round orders: the same cell repetition gets the same orders in every run.
fn cell_seed(c: &Cell) -> u64 {
    let mut h = crc32fast::Hasher::new();
    h.update(short(c).as_bytes());
    u64::from(h.finalize())
}

/// The cell in a few characters, for the progress bar.
fn short(c: &Cell) -> String {
    let m = c.model.rsplit(['/', ':']).next().unwrap_or(&c.model);
    format!("{m} {}M L{} r{}", c.mbit, c.load, c.rep)
}
