//! The measured device's link: the netns + `tc htb` test bed (`scripts/testbed.sh`) where root
//! and `tc` are available, else a `linkem` pacing relay on loopback.
//!
//! On the test bed the whole harness runs inside the namespace: the outer process creates it,
//! runs itself again inside with `ip netns exec`, and removes it afterwards. Inside, the server
//! listens on the shaped port; the measured client reaches it on 127.0.0.1 (shaped both ways)
//! and the load generator on 127.0.0.2 (unshaped), and each cell sets the rate with
//! `testbed.sh rate`. With linkem the client reaches the server through a relay that paces
//! both directions, and the load generator goes straight to the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use loadpart_linkem::{LinkShape, Relay};

/// Set inside the namespace: its name.
const NS_ENV: &str = "LOADPART_BENCH_NETNS";
/// Set inside the namespace: the shaped server port.
const PORT_ENV: &str = "LOADPART_BENCH_PORT";

/// Which link emulation a sweep uses.
#[derive(Debug, Clone)]
pub enum LinkKind {
    /// The netns test bed: namespace, shaped port, the script that shapes it.
    Testbed {
        ns: String,
        port: u16,
        script: PathBuf,
    },
    /// linkem relays (no root needed), with this one-way propagation delay.
    Linkem { delay: std::time::Duration },
}

impl LinkKind {
    /// One line for the output and the results file.
    pub fn describe(&self) -> String {
        match self {
            LinkKind::Testbed { ns, port, .. } => format!(
                "netns test bed (namespace {ns}, tc htb on port {port}, kernel TCP; load generator unshaped)"
            ),
            LinkKind::Linkem { delay } => format!(
                "linkem pacing relay on loopback (user space, no netns test bed; {} ms one-way \
                 delay, 16 KiB chunks, 4 chunks queued)",
                delay.as_secs_f64() * 1e3
            ),
        }
    }
}

/// `scripts/testbed.sh`: `$LOADPART_TESTBED_SCRIPT`, else found above the current directory or
/// the binary.
fn script() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LOADPART_TESTBED_SCRIPT") {
        return Some(PathBuf::from(p));
    }
    let mut roots = vec![std::env::current_dir().ok()?];
    if let Ok(exe) = std::env::current_exe() {
        roots.push(exe);
    }
    roots.iter().find_map(|r| {
        r.ancestors()
            .map(|d| d.join("scripts/testbed.sh"))
            .find(|p| p.is_file())
    })
}

/// Why the netns + `tc` test bed cannot be used here, if it cannot: not root, `ip` or `tc`
/// missing, or no `scripts/testbed.sh`.
pub fn testbed_unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root".into());
    }
    for tool in ["ip", "tc"] {
        let ok = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!("`{tool}` is missing"));
        }
    }
    if script().is_none() {
        return Some("scripts/testbed.sh not found".into());
    }
    None
}

/// The link to use for `wanted` (`auto`, `testbed`, `linkem`; linkem with a one-way `delay`),
/// and a note when `auto` could not have the test bed.
pub fn choose(
    wanted: &str,
    port: u16,
    delay: std::time::Duration,
) -> Result<(LinkKind, Option<String>)> {
    if let (Ok(ns), Ok(port)) = (std::env::var(NS_ENV), std::env::var(PORT_ENV)) {
        let script = script().context("scripts/testbed.sh not found")?;
        return Ok((
            LinkKind::Testbed {
                ns,
                port: port.parse().context("bad port")?,
                script,
            },
            None,
        ));
    }
    let why = match wanted {
        "linkem" => return Ok((LinkKind::Linkem { delay }, None)),
        _ => testbed_unavailable(),
    };
    match (wanted, why) {
        (_, None) => Ok((
            LinkKind::Testbed {
                ns: format!("lp-bench-{}", std::process::id()),
                port,
                script: script().expect("checked"),
            },
            None,
        )),
        ("testbed", Some(why)) => bail!("the netns test bed is not available: {why}"),
        (_, Some(why)) => Ok((
            LinkKind::Linkem { delay },
            Some(format!(
                "no netns test bed ({why}): using linkem pacing relays"
            )),
        )),
    }
}

/// Whether this process already runs inside the test bed's namespace.
pub fn inside_testbed() -> bool {
    std::env::var_os(NS_ENV).is_some()
}

/// Creates the namespace, runs this same command inside it, and removes the namespace (also
/// when the command fails or is stopped: Ctrl-C or SIGTERM stops the run inside, whose results
/// file keeps every completed cell repetition, and the namespace goes with it). `Ok(None)` when
/// the namespace could not be made (a container without the capability, say): the caller may
/// fall back to linkem.
pub fn run_inside(kind: &LinkKind, first_mbit: f64) -> Result<Option<ExitCode>> {
    let LinkKind::Testbed { ns, port, script } = kind else {
        bail!("not a test bed");
    };
    let _ = Command::new(script).args(["down", ns]).status();
    let st = Command::new(script)
        .args(["up", ns, &port.to_string(), &rate_arg(first_mbit)])
        .status()
        .context("running testbed.sh up")?;
    if !st.success() {
        let _ = Command::new(script).args(["down", ns]).status();
        eprintln!("note: testbed.sh up failed ({st})");
        return Ok(None);
    }
    let exe = std::env::current_exe()?;
    let status = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .env(NS_ENV, ns)
        .env(PORT_ENV, port.to_string())
        .env("LOADPART_TESTBED_SCRIPT", script)
        .spawn()
        .and_then(wait_passing_stops);
    let _ = Command::new(script).args(["down", ns]).status();
    let status = status.context("running the harness inside the namespace")?;
    Ok(Some(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c.clamp(1, 255) as u8),
        None => ExitCode::from(1),
    }))
}

/// Waits for the run inside the namespace. Ctrl-C and SIGTERM do not stop this process, which
/// must remove the namespace afterwards; they are passed on as SIGTERM (a run started in the
/// background ignores SIGINT, and a terminal's Ctrl-C reaches the run inside by itself).
fn wait_passing_stops(mut child: std::process::Child) -> std::io::Result<std::process::ExitStatus> {
    use tokio::signal::unix::{SignalKind, signal};
    let pid = child.id().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut wait = tokio::task::spawn_blocking(move || child.wait());
        loop {
            tokio::select! {
                done = &mut wait => return done.map_err(std::io::Error::other)?,
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!("stopping: the results file keeps every completed cell repetition");
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
        }
    })
}

/// A rate as `tc` takes it.
fn rate_arg(mbit: f64) -> String {
    format!("{}kbit", (mbit * 1000.0).round().max(1.0) as u64)
}

/// `mbit` both ways and `delay` each way.
fn shape(mbit: f64, delay: std::time::Duration) -> LinkShape {
    LinkShape {
        one_way_delay: delay,
        ..LinkShape::symmetric_bits(mbit * 1e6)
    }
}

/// The link of one server's run.
pub enum Link {
    Testbed {
        ns: String,
        script: PathBuf,
        port: u16,
    },
    Linkem(Relay, std::time::Duration),
}

impl Link {
    /// Where the server should listen.
    pub fn listen(kind: &LinkKind) -> SocketAddr {
        match kind {
            LinkKind::Testbed { port, .. } => SocketAddr::from(([0, 0, 0, 0], *port)),
            LinkKind::Linkem { .. } => SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// The link in front of a server listening at `server`.
    pub async fn start(kind: &LinkKind, server: SocketAddr, mbit: f64) -> Result<Self> {
        Ok(match kind {
            LinkKind::Testbed { ns, port, script } => Link::Testbed {
                ns: ns.clone(),
                script: script.clone(),
                port: *port,
            },
            LinkKind::Linkem { delay } => Link::Linkem(
                Relay::start("127.0.0.1:0".parse()?, server, shape(mbit, *delay)).await?,
                *delay,
            ),
        })
    }

    /// The URL the measured device uses (shaped).
    pub fn device_url(&self) -> String {
        match self {
            Link::Testbed { port, .. } => format!("http://127.0.0.1:{port}"),
            Link::Linkem(r, _) => format!("http://{}", r.addr()),
        }
    }

    /// The URL the load generator and the load polls use (unshaped).
    pub fn direct_url(&self, server: SocketAddr) -> String {
        match self {
            Link::Testbed { port, .. } => format!("http://127.0.0.2:{port}"),
            Link::Linkem(..) => format!("http://{server}"),
        }
    }

    /// Sets the rate both ways.
    pub async fn set_rate(&self, mbit: f64) -> Result<()> {
        match self {
            Link::Testbed { ns, script, .. } => {
                let out = tokio::task::spawn_blocking({
                    let (script, ns, rate) = (script.clone(), ns.clone(), rate_arg(mbit));
                    move || Command::new(script).args(["rate", &ns, &rate]).output()
                })
                .await??;
                anyhow::ensure!(
                    out.status.success(),
                    "testbed.sh rate failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Link::Linkem(r, delay) => r.set_shape(shape(mbit, *delay)),
        }
        Ok(())
    }
}
