//! `loadpart bench fixed-cuts`: the fixed cuts a sweep should force in every round, worked out
//! before its runs from idle-server profiles, to be written into its file (`[fixed_cuts]`) and
//! committed with it, so that the best fixed cut is chosen among candidates nobody picked after
//! seeing the results.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use loadpart_engine::Engine;
use loadpart_exec::{ProfileEffort, ProfileKey};
use loadpart_graph::{Prepared, load_model, randomize_for_checks};
use loadpart_plan::{Estimate, Planner, PlannerOptions, ProfileRole};

use super::config::Sweep;
use crate::profiles::{cached_profile, device_profile};

/// Prints the `[fixed_cuts]` table for a sweep file: per model, the planner's best inner cut (not
/// all local, not full offload) with an idle server at each of the sweep's link rates and device
/// slowdowns (the link's propagation delay included), from this machine's device and server
/// profiles (measured now when not cached, as the sweep's server measures them).
#[derive(Debug, clap::Args)]
pub struct FixedCutsArgs {
    /// The sweep file.
    #[arg(long)]
    config: PathBuf,
    /// Best distinct inner cuts taken per link rate and slowdown.
    #[arg(long, default_value_t = 1)]
    per_condition: usize,
}

pub fn run(args: FixedCutsArgs) -> Result<ExitCode> {
    let sweep = Sweep::from_file(&args.config)?;
    let engine: Arc<dyn Engine> =
        Arc::from(loadpart_engine::engine_or_tract(sweep.engine.parse()?)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("[fixed_cuts]");
    for model in &sweep.models {
        let loaded = load_model(model)?;
        let loaded = match sweep.randomize_seed {
            Some(s) => randomize_for_checks(&loaded, s)?,
            None => loaded,
        };
        let prepared = Arc::new(Prepared::new(&loaded)?);
        let device = rt.block_on(device_profile(engine.clone(), prepared.clone()))?;
        let (server, _, _) = cached_profile(
            engine.as_ref(),
            &prepared,
            &ProfileKey {
                role: ProfileRole::Server,
                batch_sizes: loadpart_exec::server_batch_sizes(sweep.max_batch),
                threads: sweep.server_threads,
                spinning: loadpart_engine::Spinning::Off,
                effort: ProfileEffort::Quick,
                ..ProfileKey::device()
            },
        )?;
        let dag = prepared.stages.dag().clone();
        let planner = Planner::new(dag, &device, &server, PlannerOptions::default())?;
        let dag = planner.dag();
        let (local, offload) = (planner.full_local().id(dag), planner.full_offload().id(dag));
        let mut cuts: Vec<String> = Vec::new();
        for &mbit in &sweep.bandwidths_mbit {
            for &slowdown in &sweep.device_slowdowns {
                let e = Estimate {
                    rtt_us: 2.0 * sweep.link_delay_ms * 1e3,
                    device_slowdown: slowdown,
                    ..Estimate::idle(mbit * 1e6 / 8.0)
                };
                let best = planner
                    .ranked_candidates(&e)
                    .into_iter()
                    .map(|c| c.candidate.cut.id(dag))
                    .filter(|id| *id != local && *id != offload)
                    .take(args.per_condition);
                for id in best {
                    let id = id.to_string();
                    if !cuts.contains(&id) {
                        cuts.push(id);
                    }
                }
            }
        }
        let quoted: Vec<String> = cuts.iter().map(|c| format!("{c:?}")).collect();
        println!("{model:?} = [{}]", quoted.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
