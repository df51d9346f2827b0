//! `loadpart bench`: the evaluation harness's front door (the harness is `loadpart-bench`).

use std::process::ExitCode;

use anyhow::Result;
use loadpart_bench::{
    client_overhead, compare, flood, load, population, serving, summary, sweep, users,
};

/// Benchmarks and the evaluation: load against a server, forced-cut comparisons, the flood
/// test, sweeps of every policy and their reports, populations of devices.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    Load(load::LoadArgs),
    ClientOverhead(client_overhead::ClientOverheadArgs),
    Compare(compare::CompareArgs),
    Flood(flood::FloodArgs),
    Run(sweep::RunArgs),
    Report(sweep::ReportArgs),
    Users(users::UsersArgs),
    Population(population::PopulationArgs),
    Serving(serving::ServingArgs),
    Summary(summary::SummaryArgs),
    FixedCuts(sweep::fixed_cuts::FixedCutsArgs),
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        BenchCommand::Load(a) => load::run(a),
        BenchCommand::ClientOverhead(a) => client_overhead::run(a),
        BenchCommand::Compare(a) => compare::run(a),
        BenchCommand::Flood(a) => flood::run(a),
        BenchCommand::Run(a) => sweep::run(a),
        BenchCommand::Report(a) => sweep::report::run(a),
        BenchCommand::Users(a) => users::run(a),
        BenchCommand::Population(a) => population::run(a),
        BenchCommand::Serving(a) => serving::run(a),
        BenchCommand::Summary(a) => summary::run(a),
        BenchCommand::FixedCuts(a) => sweep::fixed_cuts::run(a),
    }
}
