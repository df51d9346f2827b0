//! `loadpart serve --config FILE`: the TOML file format, and how it and the flags become one
//! [`ServerConfig`]: the flags are written as a file's settings and laid over the file's
//! ([`FileConfig::overlay`]: a flag always wins), and the result is applied once over the
//! built-in defaults ([`apply`]).
//!
//! Relative paths in the file (model files, profiles) are taken from the file's directory, so
//! a config and its models can move together.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use loadpart_server::{ModelSpec, ProfileSource, ServerConfig, WarmCuts};
use serde::{Deserialize, Serialize};

/// Where metrics go when neither the file nor a flag says: loopback only.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9464";

/// The file, as written. Every field is optional; unknown keys are refused (a typo must not be
/// silently ignored).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// gRPC address.
    pub listen: Option<SocketAddr>,
    /// Metrics address, or "off".
    pub metrics_listen: Option<String>,
    /// "ort" or "tract".
    pub engine: Option<String>,
    /// Measure a profile for models without one before serving (cached on disk).
    pub auto_profile: Option<bool>,
    /// Device tokens file (`NAME TOKEN` lines); relative to the file's directory.
    pub tokens: Option<PathBuf>,
    /// Allow plaintext on a non-loopback address.
    pub insecure_listen: Option<bool>,
    /// TLS on the gRPC listener.
    pub tls: Option<Tls>,
    #[serde(default)]
    pub batching: Batching,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub threads: Threads,
    #[serde(default)]
    pub fair_share: FairShare,
    /// The served models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<FileModel>,
}

/// `[tls]`: the server's certificate chain and key, PEM files (relative to the file's
/// directory).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batching {
    pub max_batch: Option<usize>,
    pub max_delay_us: Option<u64>,
    pub staircase: Option<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_queue: Option<usize>,
    pub default_timeout_ms: Option<u64>,
    pub load_window_ms: Option<u64>,
    pub max_message_mib: Option<usize>,
    pub part_cache_mib: Option<usize>,
    pub part_builds: Option<usize>,
    /// Server-wide ProbeDownload budget, MiB/s.
    pub probe_mib_per_s: Option<u64>,
    /// Refuse at once requests predicted to miss their deadline.
    pub admission: Option<bool>,
}

/// `[fair_share]`: per-device limits (see `loadpart serve --help`, the --fair-* flags).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairShare {
    pub enabled: Option<bool>,
    pub active_window_ms: Option<u64>,
    pub queued_floor: Option<usize>,
    pub queued_ceiling: Option<usize>,
    pub rate_factor: Option<f64>,
    pub burst_ms: Option<u64>,
    pub burst_min: Option<f64>,
    pub max_devices: Option<usize>,
    pub overuse_factor: Option<f64>,
}

impl FairShare {
    /// Applies the set values over `c`.
    pub fn apply(&self, c: &mut loadpart_server::FairShareConfig) {
        if let Some(on) = self.enabled {
            c.enabled = on;
        }
        if let Some(ms) = self.active_window_ms {
            c.active_window = Duration::from_millis(ms);
        }
        if let Some(n) = self.queued_floor {
            c.queued_floor = n;
        }
        if let Some(n) = self.queued_ceiling {
            c.queued_ceiling = n;
        }
        if let Some(f) = self.rate_factor {
            c.rate_factor = f;
        }
        if let Some(ms) = self.burst_ms {
            c.burst_s = ms as f64 / 1e3;
        }
        if let Some(n) = self.burst_min {
            c.burst_min = n;
        }
        if let Some(n) = self.max_devices {
            c.max_devices = n;
        }
        if let Some(f) = self.overuse_factor {
            c.overuse_factor = f;
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threads {
    pub executors: Option<usize>,
    pub intra: Option<usize>,
    /// "on" or "off": whether ONNX Runtime's idle workers spin.
    pub spinning: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileModel {
    /// Path, zoo:NAME, or light model name.
    pub source: String,
    pub name: Option<String>,
    pub randomize_seed: Option<u64>,
    pub profile: Option<PathBuf>,
    /// "auto", "auto:N", "none", or a list of cut ids.
    pub warm_cuts: Option<WarmSpec>,
}

/// `warm_cuts` in the file: a word or a list of cut ids.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WarmSpec {
    Word(String),
    List(Vec<String>),
}

/// Reads `auto`, `auto:N`, `none`, or cut ids separated by `;` (a cut id itself holds `,`).
pub fn parse_warm(s: &str) -> Result<WarmCuts> {
    Ok(s.parse::<WarmCuts>()?)
}

impl WarmSpec {
    fn resolve(&self) -> Result<WarmCuts> {
        match self {
            WarmSpec::Word(w) => parse_warm(w),
            WarmSpec::List(ids) => Ok(WarmCuts::List(ids.clone())),
        }
    }
}

/// Reads and parses `path`.
pub fn read(path: &Path) -> Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// "off" (or "none") for no metrics, else an address.
pub fn parse_metrics(s: &str) -> Result<Option<SocketAddr>> {
    match s.trim() {
        "off" | "none" => Ok(None),
        a => Ok(Some(a.parse().with_context(|| {
            format!("metrics address {a:?}: give host:port or \"off\"")
        })?)),
    }
}

impl FileConfig {
    /// The file's relative paths taken from its directory `dir`: the TLS files, the tokens,
    /// model profiles, and a model source that names a file there (a `zoo:NAME` or a light
    /// model name is kept as written). So a config and its models can move together.
    pub fn beside(mut self, dir: &Path) -> Self {
        let local = |p: &Path| {
            if p.is_relative() {
                dir.join(p)
            } else {
                p.to_path_buf()
            }
        };
        if let Some(t) = &mut self.tls {
            t.cert = local(&t.cert);
            t.key = local(&t.key);
        }
        self.tokens = self.tokens.as_deref().map(local);
        for m in &mut self.models {
            let next_to = dir.join(&m.source);
            if !m.source.starts_with("zoo:") && next_to.is_file() {
                m.source = next_to.to_string_lossy().into_owned();
            }
            m.profile = m.profile.as_deref().map(local);
        }
        self
    }

    /// These settings with every one that `top` sets taken from `top`: tables merge key by
    /// key, a list (the models) is replaced whole.
    pub fn overlay(self, top: FileConfig) -> Result<FileConfig> {
        let mut merged = toml::Value::try_from(&self).context("the file's settings")?;
        merge(
            &mut merged,
            toml::Value::try_from(&top).context("the flags")?,
        );
        merged.try_into().context("the merged settings")
    }
}

/// `top` laid over `base`.
fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(b), toml::Value::Table(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(old) if old.is_table() && v.is_table() => merge(old, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

/// Applies the (merged) settings over the built-in defaults in `c`.
pub fn apply(c: &mut ServerConfig, f: &FileConfig) -> Result<()> {
    let set = |dst: &mut usize, v: Option<usize>| {
        if let Some(v) = v {
            *dst = v;
        }
    };
    if let Some(a) = f.listen {
        c.listen = a;
    }
    if let Some(t) = &f.tls {
        c.tls = Some(loadpart_server::TlsFiles {
            cert: t.cert.clone(),
            key: t.key.clone(),
        });
    }
    if let Some(t) = &f.tokens {
        c.tokens = Some(t.clone());
    }
    if let Some(on) = f.insecure_listen {
        c.insecure_listen = on;
    }
    if let Some(m) = &f.metrics_listen {
        c.metrics_listen = parse_metrics(m)?;
    }
    if let Some(e) = &f.engine {
        c.engine = e.parse().map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    }
    set(&mut c.max_batch_rows, f.batching.max_batch);
    if let Some(us) = f.batching.max_delay_us {
        c.max_queue_delay = Duration::from_micros(us);
    }
    if let Some(on) = f.batching.staircase {
        c.staircase = on;
    }
    set(&mut c.max_queue_len, f.limits.max_queue);
    if let Some(on) = f.limits.admission {
        c.admission = on;
    }
    if let Some(ms) = f.limits.default_timeout_ms {
        c.default_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = f.limits.load_window_ms {
        c.load_window = Duration::from_millis(ms);
    }
    if let Some(mib) = f.limits.max_message_mib {
        c.max_message_bytes = mib << 20;
    }
    if let Some(mib) = f.limits.part_cache_mib {
        c.part_cache_bytes = mib << 20;
    }
    set(&mut c.part_builds, f.limits.part_builds);
    if let Some(mib) = f.limits.probe_mib_per_s {
        c.probe_bytes_per_s = mib << 20;
    }
    f.fair_share.apply(&mut c.fair_share);
    set(&mut c.executors, f.threads.executors);
    set(&mut c.intra_threads, f.threads.intra);
    if let Some(s) = &f.threads.spinning {
        c.spinning = s.parse().map_err(|e| anyhow::anyhow!("spinning: {e}"))?;
    }
    c.models = f
        .models
        .iter()
        .map(|m| {
            Ok(ModelSpec {
                name: m.name.clone(),
                source: m.source.clone(),
                randomize_seed: m.randomize_seed,
                profile: m.profile.clone().map(ProfileSource::File),
                warm_cuts: match &m.warm_cuts {
                    Some(w) => w.resolve()?,
                    None => WarmCuts::None,
                },
            })
        })
        .collect::<Result<_>>()?;
    Ok(())
}

/// Checks what only the merged result can tell.
pub fn check(c: &ServerConfig) -> Result<()> {
    if c.models.is_empty() {
        bail!("no model to serve: give --model or [[models]] in --config");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_applies() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/server.toml");
        let f = read(&path).unwrap();
        let mut c = ServerConfig::default();
        apply(&mut c, &f.beside(path.parent().unwrap())).unwrap();
        assert!(!c.models.is_empty());
        assert_eq!(c.max_batch_rows, 8);
        assert!(c.metrics_listen.is_some());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<FileConfig>("[batching]\nmax_btach = 4\n").unwrap_err();
        assert!(e.to_string().contains("max_btach"), "{e}");
    }

    #[test]
    fn file_values_and_relative_paths() {
        let f: FileConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            metrics_listen = "off"
            tokens = "tokens.txt"
            [tls]
            cert = "tls/server.pem"
            key = "/keys/server.key"
            [batching]
            max_batch = 4
            max_delay_us = 500
            [limits]
            default_timeout_ms = 250
            load_window_ms = 1500
            [threads]
            executors = 2
            [fair_share]
            enabled = true
            active_window_ms = 2000
            queued_floor = 1
            queued_ceiling = 4
            rate_factor = 0.8
            burst_ms = 100
            burst_min = 3
            max_devices = 64
            overuse_factor = 0.5
            [[models]]
            source = "zoo:chain"
            profile = "p/chain.json"
            warm_cuts = "auto:3"
            [[models]]
            source = "squeezenet"
            warm_cuts = ["a,b", "c"]
            "#,
        )
        .unwrap();
        let mut c = ServerConfig::default();
        apply(&mut c, &f.beside(Path::new("/etc/lp"))).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
        let tls = c.tls.as_ref().unwrap();
        assert_eq!(tls.cert, Path::new("/etc/lp/tls/server.pem"));
        assert_eq!(tls.key, Path::new("/keys/server.key"));
        assert_eq!(c.tokens.as_deref(), Some(Path::new("/etc/lp/tokens.txt")));
        assert!(!c.insecure_listen);
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.max_batch_rows, 4);
        let fair = &c.fair_share;
        assert!(fair.enabled);
        assert_eq!(fair.active_window, Duration::from_millis(2000));
        assert_eq!((fair.queued_floor, fair.queued_ceiling), (1, 4));
        assert_eq!(
            (fair.rate_factor, fair.burst_s, fair.max_devices),
            (0.8, 0.1, 64)
        );
        assert_eq!((fair.overuse_factor, fair.burst_min), (0.5, 3.0));
        assert_eq!(c.max_queue_delay, Duration::from_micros(500));
        assert_eq!(c.default_timeout, Duration::from_millis(250));
        assert_eq!(c.load_window, Duration::from_millis(1500));
        assert_eq!(c.executors, 2);
        assert_eq!(c.models[0].source, "zoo:chain");
        assert_eq!(
            c.models[0].profile,
            Some(ProfileSource::File("/etc/lp/p/chain.json".into()))
        );
        assert_eq!(c.models[0].warm_cuts, WarmCuts::Auto(3));
        assert_eq!(
            c.models[1].warm_cuts,
            WarmCuts::List(vec!["a,b".into(), "c".into()])
        );
    }

    #[test]
    fn warm_cut_words() {
        assert_eq!(parse_warm("none").unwrap(), WarmCuts::None);
        assert_eq!(
            parse_warm("auto").unwrap(),
            WarmCuts::Auto(loadpart_server::AUTO_WARM_CUTS)
        );
        assert_eq!(parse_warm("auto:2").unwrap(), WarmCuts::Auto(2));
        assert!(parse_warm("auto:x").is_err());
        assert_eq!(
            parse_warm("a,b; c").unwrap(),
            WarmCuts::List(vec!["a,b".into(), "c".into()])
        );
    }
}
