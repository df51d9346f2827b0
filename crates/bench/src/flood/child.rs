//! The server under test: a real `loadpart serve` process (this binary), on loopback, pinned
//! with `taskset` when asked, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A running `loadpart serve`; dropping it kills the process.
pub struct ServeChild {
    child: Child,
    /// The gRPC address.
    pub addr: SocketAddr,
    /// The metrics address.
    pub metrics: SocketAddr,
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeChild {
    /// Starts `loadpart serve --model MODEL` on loopback ports picked by the OS, with `extra`
    /// arguments, under `taskset -c CPUS` when `cpus` is given; waits (at most `startup`) for
    /// its "serving" and "metrics" lines.
    pub fn start(
        model: &str,
        cpus: Option<&str>,
        extra: &[String],
        startup: Duration,
    ) -> Result<Self> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut cmd = match cpus {
            Some(c) => {
                let mut t = Command::new("taskset");
                t.arg("-c").arg(c).arg(&exe);
                t
            }
            None => Command::new(&exe),
        };
        cmd.args(["serve", "--model", model, "--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0", "--warm-cuts", "none"])
            // Whole-model requests only: nothing to plan, so no profile to measure.
            .arg("--auto-profile=false")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting loadpart serve")?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let (tx, rx) = mpsc::channel::<String>();
        // Reads every line, to the end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    // Nobody listens any more: keep draining.
                    continue;
                }
            }
        });
        let deadline = std::time::Instant::now() + startup;
        let (mut addr, mut metrics) = (None, None);
        let mut seen = Vec::new();
        while addr.is_none() || metrics.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "loadpart serve did not start within {startup:?}; its output:\n{}",
                        seen.join("\n")
                    );
                }
            };
            if let Some(a) = serving_addr(&line) {
                addr = Some(a);
            }
            if let Some(a) = metrics_addr(&line) {
                metrics = Some(a);
            }
            seen.push(line);
        }
        Ok(Self {
            child,
            addr: addr.context("no serving line")?,
            metrics: metrics.context("no metrics line")?,
        })
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The address in "loadpart serving M on ADDR (...)".
fn serving_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix("loadpart serving ")?;
    let (_, after) = rest.rsplit_once(" on ")?;
    after.split_whitespace().next()?.parse().ok()
}

/// The address in "metrics at http://ADDR/metrics".
fn metrics_addr(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("metrics at http://")?
        .strip_suffix("/metrics")?
        .parse()
        .ok()
}

/// The server's Prometheus text (plain HTTP/1.0 GET on loopback).
pub fn scrape(metrics: SocketAddr) -> Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&metrics, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text)
}

/// The sum of a counter's samples whose labels contain every one of `labels` (`k="v"`).
pub fn counter(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            (rest.is_empty() || rest.starts_with('{')).then_some(())?;
            labels
                .iter()
                .all(|want| rest.contains(want))
                .then(|| v.parse::<f64>().ok())?
        })
        // An empty sum is -0.0; adding 0.0 prints it as 0.
        .sum::<f64>()
        + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_servers_lines_and_counters() {
        assert_eq!(
            serving_addr("loadpart serving mobilenet on 127.0.0.1:4242 (plaintext, no TLS)"),
            Some("127.0.0.1:4242".parse().unwrap())
        );
        assert_eq!(serving_addr("loadpart serving"), None);
        assert_eq!(
            metrics_addr("metrics at http://127.0.0.1:9/metrics"),
            Some("127.0.0.1:9".parse().unwrap())
        );
        let text = "# HELP x y\nx_total{device=\"flood\",reason=\"rate\"} 7\n\
                    x_total{device=\"flood\",reason=\"queued\"} 2\n\
                    x_total{device=\"good-0\",reason=\"rate\"} 1\nx_totalz 5\n";
        assert_eq!(counter(text, "x_total", &["device=\"flood\""]), 9.0);
        assert_eq!(counter(text, "x_total", &[]), 10.0);
    }
}
