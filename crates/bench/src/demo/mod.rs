//! `loadpart demo`: an edge server and several emulated devices on this machine, with load and
//! bandwidth that change while they run.
//!
//! The run is in named phases, one file each: [`setup`] (the server, the devices behind their
//! links, and the synthetic devices that load the server), [`story`] (the devices' requests
//! while the scenario's phases change links and load, with the live view) and [`summary`] (the
//! tables, the timeline, the records). Beside them: `scenario` (the phases: link rates and
//! synthetic load), `record` (what every request did, and the summary table), `live` (the
//! terminal view), `timeline` (the SVG).

mod args;
pub mod live;
pub mod record;
pub mod scenario;
mod setup;
mod story;
mod summary;
pub mod timeline;

use std::process::ExitCode;

use anyhow::Result;

pub use args::Args;

use crate::pinning;

pub fn run(args: Args) -> Result<ExitCode> {
    // Devices (this thread and every thread it creates) on core 1, the server on core 0.
    let pinned = pinning::cores() >= 2 && pinning::pin_current(1);
    if !pinned {
        eprintln!("note: devices and server are not pinned to separate cores; timings are noisier");
    }
    anyhow::ensure!(args.devices >= 1, "--devices must be at least 1");
    anyhow::ensure!(
        args.seconds >= 4.0 && args.seconds.is_finite(),
        "--seconds must be at least 4"
    );
    anyhow::ensure!(
        !args.link_mbit.is_empty() && args.link_mbit.iter().all(|r| *r > 0.0),
        "--link-mbit needs positive rates"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(demo(args, pinned))
}

/// The demo, phase by phase.
async fn demo(args: Args, pinned: bool) -> Result<ExitCode> {
    let model = setup::Model::load(&args)?;
    let server = setup::start_server(&args, &model, pinned).await?;
    let devices = setup::Devices::start(&args, &model, &server).await?;
    let load = setup::SyntheticLoad::start(&args, &model, &server, &devices).await?;
    let told = story::tell(&args, &model, &devices, &load).await?;
    let synthetic = load.finish().await?;
    let model_name = server.model.clone();
    drop(devices);
    server.stop().await?;
    summary::write(&args, &model_name, &told, &synthetic)?;
    Ok(ExitCode::SUCCESS)
}
