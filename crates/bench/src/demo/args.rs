//! `loadpart demo`'s arguments.

use loadpart_engine::EngineKind;

/// Watch load-aware partitioning at work: starts an edge server and several emulated devices on
/// this machine (loopback only, nothing to set up) and runs a short story in four phases: fast
/// links and an idle server; the server busy with other devices' requests (synthetic load from
/// the load generator); links 8x slower; back to normal. Each device is several times slower than
/// the server, as phones are (each run lasts its profiled time times --device-slowdown: the real
/// run, then a sleep, so that devices sharing one core do not slow each other), and reaches it through its own rate-limited link (a pacing relay on
/// loopback). Request by request, each device cycles through four policies under the same
/// conditions: loadpart (load- and bandwidth-aware), neurosurgeon (bandwidth-aware, ignores
/// load), local (everything on the device) and server (everything offloaded). The live view
/// shows the cut loadpart picks on each device and its predicted breakdown; the end shows a
/// summary per phase and writes an SVG timeline.
///
/// Profiles of the model (device and server) are measured on first use and cached in
/// .loadpart/profiles.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model: a path to an .onnx file, zoo:NAME, or a light model name.
    #[arg(long, default_value = "zoo:mobilenet")]
    pub(super) model: String,
    /// Emulated devices.
    #[arg(long, default_value_t = 3)]
    pub(super) devices: usize,
    /// Length of the story, seconds.
    #[arg(long, default_value_t = 40.0)]
    pub(super) seconds: f64,
    /// Each device's run time is this many times the server's (emulated by sleeping). Phones
    /// run DNNs several to tens of times slower than an edge server; at 8x the generated
    /// MobileNet's cut moves with load and bandwidth on this kind of machine.
    #[arg(long, default_value_t = 8.0)]
    pub(super) device_slowdown: f64,
    /// Base link rate of each device, Mbit/s, comma separated (reused in turn when there are
    /// more devices).
    #[arg(long, value_delimiter = ',', default_value = "100,40,15")]
    pub(super) link_mbit: Vec<f64>,
    /// Synthetic load in the busy phase, as a fraction of the server's measured capacity.
    #[arg(long, default_value_t = 1.5)]
    pub(super) load: f64,
    /// Turn on the server's per-device fair share (off in the demo). By design fair share hands
    /// out half the server's capacity among the devices, so the synthetic devices' 1.5x
    /// capacity and the phones, which send request after request under four policies, are all
    /// over their shares: with it on, the busy phase showed fair share refusing (the server
    /// completed about 68 requests/s of 321 offered, with capacity for 214), not a busy server.
    /// `loadpart bench flood` shows fair share at work.
    #[arg(long)]
    pub(super) fair_share: bool,
    /// ort (ONNX Runtime; falls back to tract if its library is missing) or tract.
    #[arg(long, default_value = "ort", env = "LOADPART_ENGINE")]
    pub(super) engine: EngineKind,
    /// Threads of the server's executor (and of its profile).
    #[arg(long, default_value_t = 1)]
    pub(super) server_threads: usize,
    /// Where to write the SVG timeline.
    #[arg(long, default_value = "loadpart-demo.svg")]
    pub(super) plot: std::path::PathBuf,
    /// Also write every request as a JSON line here.
    #[arg(long)]
    pub(super) records: Option<std::path::PathBuf>,
    /// TLS on the demo's server: its certificate chain (PEM; with --tls-key and --tls-ca). The
    /// certificate must name `localhost` (or --tls-domain).
    #[arg(long, requires_all = ["tls_key", "tls_ca"])]
    pub(super) tls_cert: Option<std::path::PathBuf>,
    /// TLS: the server's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub(super) tls_key: Option<std::path::PathBuf>,
    /// Device tokens file of the demo's server (`NAME TOKEN` lines); the phones and the load
    /// generator send --token.
    #[arg(long, requires = "token")]
    pub(super) tokens: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(super) access: crate::remote_model::AccessArgs,
}
