//! `loadpart serve` in a child process, on a free loopback port, its log in a file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

/// How long the server may take to turn ready: a first start measures the model's profile.
const READY_WITHIN: Duration = Duration::from_secs(900);

/// A running `loadpart serve`; stopped (SIGTERM, then killed) when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `bin serve --model model` with `extra` arguments (under `taskset -c cpus` when
    /// given) and waits until it is ready.
    pub fn start(bin: &Path, model: &Path, extra: &[String], cpus: Option<&str>) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = model.with_file_name("serve.log");
        let log_file = File::create(&log)?;
        let mut cmd = match cpus {
            Some(c) => {
                let mut t = Command::new("taskset");
                t.args(["-c", c]).arg(bin);
                t
            }
            None => Command::new(bin),
        };
        cmd.arg("serve")
            .arg("--model")
            .arg(model)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-listen", "off"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        tracing::info!(?cmd, "starting the server");
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = ServerProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        if let Err(e) = rt.block_on(super::driver::wait_ready(&mut server, READY_WITHIN)) {
            return Err(e.context(server.log_tail()));
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// The end of the server's log, for an error message.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("server log ({}):\n{tail}", self.log.display())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
