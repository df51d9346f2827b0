//! The load generator: many devices' offloads replayed open-loop against a server, so that
//! experiments, tests and the demo can load the server to a known level.
//!
//! Payloads are prepared once ([`payloads`]: the head of each cut run on one input, its tensors
//! encoded as a device would); sending then costs no device compute, so one process on one core
//! can stand in for many devices. Arrivals are open-loop: Poisson at a rate that can change while
//! the generator runs (0 pauses it), or the offsets of a trace. Each request goes out as one of
//! `devices` identities (`loadpart-device` metadata), or of the [`Identity`]s given (a name and
//! a token each, for a server that checks tokens), with a deadline; the server's fair share
//! then divides among them instead of capping the generator at one device's share. Every request is accounted
//! for: answered, refused for load, past its deadline, failed, or not sent because the
//! generator's own in-flight cap was reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_client::wire::{self, RequestMeta};
use loadpart_client::{ClientError, Remote, Token};
use loadpart_codec::{EncodeOptions, Encoder};
use loadpart_cuts::CutId;
use loadpart_proto::inference::ModelInferRequest;
use loadpart_runtime::{ModelRuntime, NamedTensors, views};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::{Mutex, watch};
use tonic::Code;

/// One prepared request: a cut, how often it is drawn, and the encoded ModelInfer.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The cut the request enters at.
    pub cut: CutId,
    /// Relative frequency in the mix.
    pub weight: f64,
    /// The request, sent as is (a timeout parameter is added per send).
    pub request: ModelInferRequest,
}

/// Prepares one payload per `(cut, weight)`: the head of the cut on `inputs`, encoded with
/// `codec`, for `model` (the server's name for `runtime`'s model).
pub fn payloads(
    runtime: &ModelRuntime,
    model: &str,
    mix: &[(CutId, f64)],
    inputs: &NamedTensors,
    codec: EncodeOptions,
) -> Result<Vec<Payload>, ClientError> {
    let dag = runtime.prepared().stages.dag();
    let outputs = runtime.prepared().model.outputs();
    let mut enc = Encoder::new(codec)?;
    mix.iter()
        .map(|(cut, weight)| {
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(ClientError::Config {
                    name: "mix",
                    reason: format!("weight {weight} of cut {cut} must be positive"),
                });
            }
            let valid = dag.cut_by_id(cut).map_err(|e| ClientError::BadCut {
                cut: cut.to_string(),
                reason: e.to_string(),
            })?;
            let canonical = valid.id(dag);
            let sent_names: Vec<String> = valid
                .sent_tensors(dag)
                .map(|t| dag.tensor(t).name.clone())
                .collect();
            let head_out = if valid.is_full_offload() {
                inputs.clone()
            } else {
                runtime.head(&canonical)?.run(&views(inputs))?.outputs
            };
            let sent: NamedTensors = head_out
                .into_iter()
                .filter(|(n, _)| sent_names.contains(n))
                .collect();
            let wanted: Vec<String> = outputs
                .iter()
                .filter(|o| !canonical.names().contains(o))
                .cloned()
                .collect();
            let encoded = wire::encode_tensors(&mut enc, &sent)?;
            let request = wire::request(
                &RequestMeta {
                    model,
                    identity: Some(runtime.identity()),
                    cut: Some(&canonical),
                    outputs: &wanted,
                    timeout: None,
                },
                encoded,
            );
            Ok(Payload {
                cut: canonical,
                weight: *weight,
                request,
            })
        })
        .collect()
}

/// When requests are sent.
#[derive(Debug, Clone)]
pub enum Arrivals {
    /// Poisson arrivals at the rate on the channel (requests per second; 0 pauses), which the
    /// caller may change while the generator runs.
    Poisson(watch::Receiver<f64>),
    /// Send at these offsets from the start, seconds, increasing.
    Trace(Vec<f64>),
}

/// How the generator runs.
#[derive(Debug, Clone)]
pub struct LoadGenConfig {
    /// How long to run (a trace also ends at its last offset).
    pub duration: Duration,
    /// Device identities the requests are spread over.
    pub devices: usize,
    /// Deadline of each request (sent as gRPC timeout and the `timeout` parameter).
    pub timeout: Duration,
    /// Most requests in flight; an arrival beyond it is counted as `shed`, not sent.
    pub max_in_flight: usize,
    /// Seed of arrivals and of the cut drawn for each request.
    pub seed: u64,
    /// Identities to send as, in turn; empty: `devices` names `loadgen-I` without tokens of
    /// their own (with tokens on the server, the [`Remote`]'s token then makes them one device).
    pub identities: Vec<Identity>,
}

/// A device the generator sends as: its name (`loadpart-device`) and, for a server with device
/// tokens, its token (`authorization: Bearer`, which replaces the [`Remote`]'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub token: Option<Token>,
}

/// Reads identities from a file of `NAME TOKEN` lines (the server's `--tokens` format; `#`
/// comments and blank lines skipped).
pub fn read_identities(path: &std::path::Path) -> Result<Vec<Identity>, ClientError> {
    let bad = |reason: String| ClientError::Config {
        name: "tokens file",
        reason: format!("{}: {reason}", path.display()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(token), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad(format!("line {}: expected `NAME TOKEN`", i + 1)));
        };
        out.push(Identity {
            name: name.to_string(),
            token: Some(Token::new(token)?),
        });
    }
    if out.is_empty() {
        return Err(bad("no identity".into()));
    }
    Ok(out)
}

/// The metadata one identity's requests carry, made once.
struct Headers {
    device: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    bearer: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

fn headers(config: &LoadGenConfig) -> Result<Vec<Headers>, ClientError> {
    if config.identities.is_empty() {
        return Ok((0..config.devices.max(1))
            .map(|i| Headers {
                device: format!("loadgen-{i}").parse().ok(),
                bearer: None,
            })
            .collect());
    }
    config
        .identities
        .iter()
        .map(|id| {
            let bearer = match &id.token {
                None => None,
                Some(t) => {
                    let mut v: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
                        format!("Bearer {}", t.expose()).parse().map_err(|_| {
                            ClientError::BadAccess("a token does not fit a header".into())
                        })?;
                    v.set_sensitive(true);
                    Some(v)
                }
            };
            Ok(Headers {
                device: id.name.parse().ok(),
                bearer,
            })
        })
        .collect()
}

impl Default for LoadGenConfig {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            devices: 16,
            timeout: Duration::from_secs(2),
            max_in_flight: 512,
            seed: 1,
            identities: Vec::new(),
        }
    }
}

/// What happened to the generated requests.
#[derive(Debug, Clone, Default)]
pub struct LoadGenReport {
    /// Arrivals in all.
    pub arrivals: u64,
    /// Answered with outputs.
    pub ok: u64,
    /// Refused for load (RESOURCE_EXHAUSTED).
    pub rejected: u64,
    /// Past their deadline (DEADLINE_EXCEEDED, from the server or the transport).
    pub deadline: u64,
    /// Any other error.
    pub errors: u64,
    /// Not sent: the generator's in-flight cap was reached.
    pub shed: u64,
    /// Latency of each answered request, µs, in completion order.
    pub ok_latency_us: Vec<f64>,
    /// Latency of each refusal, µs (how early the server said no).
    pub reject_latency_us: Vec<f64>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Answers by error code name, for errors.
    pub error_codes: Vec<(String, u64)>,
}

impl LoadGenReport {
    /// Answered requests per second.
    pub fn goodput_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.ok as f64 / s } else { 0.0 }
    }

    /// Arrivals per second.
    pub fn offered_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.arrivals as f64 / s
        } else {
            0.0
        }
    }

    /// Whether every arrival is accounted for.
    pub fn accounted(&self) -> bool {
        self.ok + self.rejected + self.deadline + self.errors + self.shed == self.arrivals
    }
}

/// The `q` quantile (0..=1) of `values` (nearest rank); 0 when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// Runs the generator against `remote` until `config.duration` has passed (or the trace ends),
/// then waits for the requests in flight (each bounded by its deadline).
pub async fn run(
    remote: &Remote,
    payloads: Arc<Vec<Payload>>,
    arrivals: Arrivals,
    config: &LoadGenConfig,
) -> Result<LoadGenReport, ClientError> {
    if payloads.is_empty() {
        return Err(ClientError::Config {
            name: "mix",
            reason: "no payloads".into(),
        });
    }
    let total_weight: f64 = payloads.iter().map(|p| p.weight).sum();
    let identities = headers(config)?;
    let report = Arc::new(Mutex::new(LoadGenReport::default()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1)));
    let mut rng = StdRng::seed_from_u64(config.seed);
    let start = Instant::now();
    let end = start + config.duration;
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = start;
    let mut trace_i = 0usize;
    let mut n = 0u64;
    loop {
        // The next arrival time.
        match &arrivals {
            Arrivals::Poisson(rate) => {
                let r = *rate.borrow();
                if !(r.is_finite() && r > 0.0) {
                    // Paused: look again shortly.
                    next = Instant::now() + Duration::from_millis(20);
                    if next >= end {
                        break;
                    }
                    tokio::time::sleep_until(next.into()).await;
                    continue;
                }
                let u: f64 = rng.random_range(f64::EPSILON..1.0);
                next = next.max(Instant::now() - Duration::from_millis(50))
                    + Duration::from_secs_f64(-u.ln() / r);
            }
            Arrivals::Trace(offsets) => {
                let Some(&o) = offsets.get(trace_i) else {
                    break;
                };
                trace_i += 1;
                next = start + Duration::from_secs_f64(o.max(0.0));
            }
        }
        if next >= end {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        // Draw a cut.
        let payload = draw(&payloads, total_weight, &mut rng);
        let id = &identities[(n % identities.len() as u64) as usize];
        n += 1;
        report.lock().await.arrivals += 1;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            report.lock().await.shed += 1;
            continue;
        };
        let call = send(remote, payload, id, config, report.clone());
        tasks.spawn(async move {
            call.await;
            drop(permit);
        });
        // Reap finished tasks so the set does not grow with the run.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut r = report.lock().await.clone();
    r.elapsed = start.elapsed();
    Ok(r)
}

/// One request of `payload` as identity `id`, with the configured deadline; its outcome is
/// counted in `report` (the caller counts the arrival).
fn send(
    remote: &Remote,
    payload: &Payload,
    id: &Headers,
    config: &LoadGenConfig,
    report: Arc<Mutex<LoadGenReport>>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut req = payload.request.clone();
    req.parameters.insert(
        loadpart_proto::names::TIMEOUT.to_string(),
        loadpart_proto::inference::InferParameter {
            parameter_choice: Some(
                loadpart_proto::inference::infer_parameter::ParameterChoice::Int64Param(
                    config.timeout.as_micros().min(i64::MAX as u128) as i64,
                ),
            ),
        },
    );
    let mut request = tonic::Request::new(req);
    request.set_timeout(config.timeout);
    if let Some(v) = &id.device {
        request
            .metadata_mut()
            .insert(loadpart_proto::names::DEVICE_HEADER, v.clone());
    }
    if let Some(v) = &id.bearer {
        request.metadata_mut().insert("authorization", v.clone());
    }
    let mut stub = remote.infer.clone();
    async move {
        let t0 = Instant::now();
        let r = stub.model_infer(request).await;
        let lat = t0.elapsed().as_secs_f64() * 1e6;
        let mut rep = report.lock().await;
        match r {
            Ok(_) => {
                rep.ok += 1;
                rep.ok_latency_us.push(lat);
            }
            Err(s) if s.code() == Code::ResourceExhausted => {
                rep.rejected += 1;
                rep.reject_latency_us.push(lat);
            }
            Err(s) if s.code() == Code::DeadlineExceeded => rep.deadline += 1,
            Err(s) => {
                rep.errors += 1;
                let code = format!("{:?}", s.code());
                match rep.error_codes.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, k)) => *k += 1,
                    None => rep.error_codes.push((code, 1)),
                }
            }
        }
    }
}

/// A weighted draw from `payloads` (weights summing to `total_weight`).
fn draw<'a>(payloads: &'a [Payload], total_weight: f64, rng: &mut StdRng) -> &'a Payload {
    let mut x = rng.random_range(0.0..total_weight);
    payloads
        .iter()
        .find(|p| {
            x -= p.weight;
            x < 0.0
        })
        .unwrap_or(&payloads[payloads.len() - 1])
}

/// Background tenants in closed loop: `count` of them each send a request, wait for its answer
/// (or its deadline), think for an exponential time of mean `think_ms`, and send again. Their
/// load follows the server's speed, as real tenants' does; it is sized by the utilization it
/// causes, not by an offered rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tenants {
    pub count: usize,
    pub think_ms: f64,
}

/// Runs closed-loop tenants (the settings on `tenants` may change while it runs; a count of 0
/// pauses them) until `config.duration` has passed, then waits for the requests in flight.
/// `config.devices` caps the tenants (one identity each).
pub async fn run_closed(
    remote: &Remote,
    payloads: Arc<Vec<Payload>>,
    tenants: watch::Receiver<Tenants>,
    config: &LoadGenConfig,
) -> Result<LoadGenReport, ClientError> {
    if payloads.is_empty() {
        return Err(ClientError::Config {
            name: "mix",
            reason: "no payloads".into(),
        });
    }
    let identities = Arc::new(headers(config)?);
    let report = Arc::new(Mutex::new(LoadGenReport::default()));
    let start = Instant::now();
    let end = start + config.duration;
    let mut loops = tokio::task::JoinSet::new();
    for i in 0..identities.len() {
        let (remote, payloads, identities, report, config, tenants) = (
            remote.clone(),
            payloads.clone(),
            identities.clone(),
            report.clone(),
            config.clone(),
            tenants.clone(),
        );
        loops.spawn(async move {
            let total_weight: f64 = payloads.iter().map(|p| p.weight).sum();
            let mut rng = StdRng::seed_from_u64(config.seed ^ (i as u64).wrapping_mul(0x9E37));
            // Bounded by time and by count.
            for _ in 0..10_000_000u64 {
                if Instant::now() >= end {
                    break;
                }
                let t = *tenants.borrow();
                if i >= t.count {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let payload = draw(&payloads, total_weight, &mut rng);
                report.lock().await.arrivals += 1;
                send(&remote, payload, &identities[i], &config, report.clone()).await;
                if t.think_ms.is_finite() && t.think_ms > 0.0 {
                    let u: f64 = rng.random_range(f64::EPSILON..1.0);
                    let think = Duration::from_secs_f64((-u.ln() * t.think_ms * 1e-3).min(60.0));
                    tokio::time::sleep(think.min(end.saturating_duration_since(Instant::now())))
                        .await;
                }
            }
        });
    }
    while loops.join_next().await.is_some() {}
    let mut r = report.lock().await.clone();
    r.elapsed = start.elapsed();
    Ok(r)
}

/// The server's capacity for `payload`: completions per second with `concurrency` requests kept
/// in flight (closed loop) for `duration`. Rates for experiments are given as fractions of this.
pub async fn measure_capacity(
    remote: &Remote,
    payload: &Payload,
    concurrency: usize,
    duration: Duration,
) -> Result<f64, ClientError> {
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let mut stub = remote.infer.clone();
        let req = payload.request.clone();
        tasks.spawn(async move {
            let mut done = 0u64;
            let mut failed = 0u64;
            while Instant::now() < end {
                let mut r = tonic::Request::new(req.clone());
                r.set_timeout(Duration::from_secs(10));
                match stub.model_infer(r).await {
                    Ok(_) => done += 1,
                    Err(_) => {
                        failed += 1;
                        if failed > 100 {
                            break;
                        }
                    }
                }
            }
            done
        });
    }
    let mut done = 0u64;
    while let Some(r) = tasks.join_next().await {
        done += r.unwrap_or(0);
    }
    if done == 0 {
        return Err(ClientError::Config {
            name: "capacity",
            reason: "no request completed while measuring capacity".into(),
        });
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_come_from_a_tokens_file_and_name_each_request() {
        let dir = std::env::temp_dir().join(format!("loadgen-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens");
        std::fs::write(
            &path,
            "# fleet\nd-1 token-one-0123456789\n\nd-2 token-two-0123456789\n",
        )
        .unwrap();
        let ids = read_identities(&path).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[1].name, "d-2");
        assert_eq!(
            ids[1].token.as_ref().unwrap().expose(),
            "token-two-0123456789"
        );
        let config = LoadGenConfig {
            identities: ids,
            ..LoadGenConfig::default()
        };
        let h = headers(&config).unwrap();
        assert_eq!(h.len(), 2, "the identities replace `devices`");
        assert_eq!(h[0].device.as_ref().unwrap(), "d-1");
        let bearer = h[0].bearer.as_ref().unwrap();
        assert!(bearer.is_sensitive());
        assert_eq!(bearer, "Bearer token-one-0123456789");
        // Without identities: `devices` names, no tokens of their own.
        let plain = headers(&LoadGenConfig::default()).unwrap();
        assert_eq!(plain.len(), 16);
        assert_eq!(plain[15].device.as_ref().unwrap(), "loadgen-15");
        assert!(plain[0].bearer.is_none());
        std::fs::write(&path, "d-1\n").unwrap();
        assert!(read_identities(&path).is_err());
        std::fs::write(&path, "# none\n").unwrap();
        assert!(read_identities(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
