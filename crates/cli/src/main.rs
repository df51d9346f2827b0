//! `loadpart`: load-aware DNN partitioning. Inspect a model's cut space, split it into standalone
//! head and tail models, check that split execution matches the whole model, and profile it.
#![forbid(unsafe_code)]

mod bandwidth;
mod cmd;
mod model_args;
mod plot;
mod source;
mod tensor_io;

use clap::{Parser, Subcommand};

/// Load-aware, dynamic DNN partitioning and offloading.
///
/// MODEL arguments accept a path to an .onnx file, `zoo:NAME` for a generated model
/// (chain, residual, inception, dense, two-io), or the name of a model-zoo light model
/// installed by scripts/setup.sh (alexnet, densenet121, inception_v1, inception_v2, resnet50,
/// shufflenet, squeezenet, vgg19, zfnet512).
#[derive(Debug, Parser)]
#[command(name = "loadpart", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Inspect(cmd::inspect::Args),
    CheckSplit(cmd::check_split::Args),
    CheckCodec(cmd::check_codec::Args),
    Split(cmd::split::Args),
    Profile(cmd::profile::Args),
    GenModel(cmd::gen_model::Args),
    Plan(cmd::plan::Args),
    Serve(Box<cmd::serve::Args>),
    Demo(loadpart_bench::demo::Args),
    Infer(cmd::infer::Args),
    Bench(cmd::bench::Args),
}

fn main() -> std::process::ExitCode {
    // Before any thread is pinned: the list of cores is the calling thread's.
    loadpart_bench::pinning::init();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOADPART_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::CheckSplit(a) => cmd::check_split::run(a),
        Command::CheckCodec(a) => cmd::check_codec::run(a),
        Command::Split(a) => cmd::split::run(a),
        Command::Profile(a) => cmd::profile::run(a),
        Command::GenModel(a) => cmd::gen_model::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Serve(a) => cmd::serve::run(*a),
        Command::Demo(a) => loadpart_bench::demo::run(a),
        Command::Infer(a) => cmd::infer::run(a),
        Command::Bench(a) => cmd::bench::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
