//! The built-in HTTP driver: one thread running a single-threaded tokio runtime, so
//! statistics are plain `RefCell`s with no locking and the driver costs one core at most.
//!
//! Closed model: N user loops, each sending its next request after the previous one
//! finished plus think time; latency from the actual send. Open model: requests start on
//! a schedule integrated from the target rate, whatever earlier ones are doing; latency is
//! measured from the *intended* start, so a stalled server shows as latency rather than
//! as a lower request rate (no coordinated omission).
//!
//! Memory is bounded: per request nothing is kept beyond a histogram count; statistics
//! are one fixed-size histogram per request name, reset at every interval.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Notify;

use super::scenario::{self, Body, Model, Scenario, Stage, ThinkTime};
use super::{LoadError, LoadLive};
use crate::rng::SplitMix64;
use crate::runlog::RunLogError;
use crate::runlog::load::{
    ErrorCounts, LatencyMs, LoadInterval, LoadLogWriter, LoadRecord, LoadStart, NameInterval,
    RequestInfo, StageEvent, StageInfo, encode_histogram, new_latency_histogram,
};

/// Open model: requests allowed in flight before new ones are dropped (counted as
/// `dropped` errors) rather than queued without bound behind a stalled server.
const MAX_IN_FLIGHT: u64 = 1000;
/// A user whose connection was refused waits this long before its next try, so an
/// unreachable target does not turn the driver into a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(100);
/// How often users are added or removed and stage changes noticed.
const CONTROL_TICK: Duration = Duration::from_millis(100);
/// The open-model scheduler never sleeps longer than this, so a ramp from a low rate is
/// followed promptly.
const MAX_SCHEDULER_SLEEP: Duration = Duration::from_millis(100);
/// Time allowed to set the driver up before `start` gives up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running built-in driver.
pub struct BuiltinHandle {
    stop: Arc<Notify>,
    thread: std::thread::JoinHandle<Result<(), LoadError>>,
}

impl BuiltinHandle {
    /// Stop the driver; it writes its last (partial) interval and an `end` line first.
    pub fn stop(self) -> Result<(), LoadError> {
        self.stop.notify_one();
        self.thread
            .join()
            .map_err(|_| LoadError::Start("the load driver thread panicked".into()))?
    }
}

/// Start the driver on its own thread. Setup errors (the HTTP client, the log) are
/// returned here; errors talking to the target are counted, never returned.
pub fn start(
    scenario: Scenario,
    run_dir: &Path,
    t0: Instant,
    interval: Duration,
    live: Arc<LoadLive>,
) -> Result<BuiltinHandle, LoadError> {
    let log = LoadLogWriter::create(run_dir)?;
    let max_in_flight = raise_fd_limit().map_or(MAX_IN_FLIGHT, |fds| (fds / 2).min(MAX_IN_FLIGHT));
    let stop = Arc::new(Notify::new());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread_stop = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("soakprof-load".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(LoadError::Start(e.to_string())));
                    return Ok(());
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let shared = match Shared::new(scenario, log, t0, interval, live, max_in_flight) {
                    Ok(shared) => Rc::new(shared),
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(());
                    }
                };
                let _ = ready_tx.send(Ok(()));
                drive(shared, thread_stop).await
            })
        })
        .map_err(|e| LoadError::Start(e.to_string()))?;
    match ready_rx.recv_timeout(SETUP_TIMEOUT) {
        Ok(Ok(())) => Ok(BuiltinHandle { stop, thread }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(LoadError::Start(
            "the load driver did not start in time".into(),
        )),
    }
}

/// Raise the soft open-file limit to the hard one (each connection is an FD) and return it.
fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        Some(limit.rlim_cur)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The HTTP client: hyper's pooled client directly (the cost per request is the driver's
/// whole overhead; reqwest's layers re-parse the URL of every response). TLS through
/// rustls with the `ring` provider and the system's root certificates; redirects are not
/// followed (a 3xx is a response of its own, a success unless `expect_status` says
/// otherwise, as load tools count it).
fn http_client(connect_timeout: Duration, max_idle: usize) -> Result<HttpClient, LoadError> {
    let mut roots = rustls::RootCertStore::empty();
    // A machine without a certificate store can still drive plain HTTP; HTTPS requests
    // then fail their handshake and count as connect errors.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| LoadError::Start(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(max_idle)
        .pool_timer(TokioTimer::new())
        .build(connector))
}

/// One request kind, ready to send: headers parsed and bodies encoded once.
struct Prepared {
    name: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bodies: Vec<Bytes>,
    expect_status: Vec<u16>,
    expect_json_keys: Vec<String>,
}

fn prepare(spec: &scenario::RequestSpec) -> Result<Prepared, LoadError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("soakprof/", env!("CARGO_PKG_VERSION"))),
    );
    let bad = |what: &str| LoadError::Start(format!("request `{}`: {what}", spec.name));
    for (name, value) in &spec.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("bad header name"))?;
        let value = HeaderValue::from_str(value).map_err(|_| bad("bad header value"))?;
        headers.insert(name, value);
    }
    let mut bodies = Vec::with_capacity(spec.bodies.len());
    for body in &spec.bodies {
        bodies.push(match body {
            Body::Text(text) => Bytes::from(text.clone()),
            Body::Json(value) => {
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                Bytes::from(serde_json::to_vec(value).map_err(|e| bad(&e.to_string()))?)
            }
        });
    }
    Ok(Prepared {
        name: spec.name.clone(),
        method: spec.method.clone(),
        uri: spec
            .url
            .as_str()
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?,
        headers,
        bodies,
        expect_status: spec.expect_status.clone(),
        expect_json_keys: spec.expect_json_keys.clone(),
    })
}

/// Smooth weighted round-robin: over any stretch the mix follows the weights as closely
/// as whole requests allow (a 3:2:1 mix is exact every 6 requests), unlike random picks.
struct Picker {
    weights: Vec<f64>,
    current: Vec<f64>,
    total: f64,
}

impl Picker {
    fn new(weights: Vec<f64>) -> Picker {
        let total = weights.iter().sum();
        Picker {
            current: vec![0.0; weights.len()],
            weights,
            total,
        }
    }

    fn next(&mut self) -> usize {
        let mut best = 0;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= self.total;
        best
    }
}

/// What became of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Status,
    Check,
    Timeout,
    Connect,
    Dropped,
    Other,
}

impl Outcome {
    /// Outcomes with a response, whose latency is recorded.
    fn has_response(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Status | Outcome::Check)
    }
}

/// Counts and latencies for one request name (or all) over the current interval.
struct IntervalStats {
    requests: u64,
    errors: ErrorCounts,
    latency_us: Histogram<u64>,
}

impl IntervalStats {
    fn new() -> Result<IntervalStats, LoadError> {
        Ok(IntervalStats {
            requests: 0,
            errors: ErrorCounts::default(),
            latency_us: new_latency_histogram().map_err(|e| LoadError::Start(e.to_string()))?,
        })
    }

    fn record(&mut self, outcome: Outcome, latency: Duration) {
        self.requests += 1;
        match outcome {
            Outcome::Ok => {}
            Outcome::Status => self.errors.status += 1,
            Outcome::Check => self.errors.check += 1,
            Outcome::Timeout => self.errors.timeout += 1,
            Outcome::Connect => self.errors.connect += 1,
            Outcome::Dropped => self.errors.dropped += 1,
            Outcome::Other => self.errors.other += 1,
        }
        if outcome.has_response() {
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            self.latency_us.saturating_record(us.max(1));
        }
    }

    fn reset(&mut self) {
        self.requests = 0;
        self.errors = ErrorCounts::default();
        self.latency_us.reset();
    }
}

struct Stats {
    overall: IntervalStats,
    by_name: Vec<IntervalStats>,
    /// Buffers reused by every interval's histogram encoding.
    serializer: V2DeflateSerializer,
    scratch: Vec<u8>,
}

/// Plain HTTP, or HTTPS through rustls, on one pool of keep-alive connections.
type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Everything the driver's tasks share (one thread, so `Cell`/`RefCell`).
struct Shared {
    client: HttpClient,
    /// Whole request, response body included.
    timeout: Duration,
    requests: Vec<Prepared>,
    model: Model,
    stages: Vec<Stage>,
    think: Option<ThinkTime>,
    t0: Instant,
    interval: Duration,
    max_in_flight: u64,
    picker: RefCell<Picker>,
    rng: RefCell<SplitMix64>,
    stats: RefCell<Stats>,
    log: RefCell<LoadLogWriter>,
    /// The first error writing the log; the driver keeps going, `stop` reports it.
    log_error: RefCell<Option<RunLogError>>,
    live: Arc<LoadLive>,
    in_flight: Cell<u64>,
    /// Closed model: the number of users wanted now, and which user slots run.
    target_users: Cell<usize>,
    users_running: RefCell<Vec<bool>>,
    last_flush: Cell<Instant>,
}

impl Shared {
    fn new(
        scenario: Scenario,
        log: LoadLogWriter,
        t0: Instant,
        interval: Duration,
        live: Arc<LoadLive>,
        max_in_flight: u64,
    ) -> Result<Shared, LoadError> {
        let client = http_client(
            scenario.timeout.min(Duration::from_secs(10)),
            max_idle_connections(&scenario),
        )?;
        let requests = scenario
            .requests
            .iter()
            .map(prepare)
            .collect::<Result<Vec<_>, _>>()?;
        let by_name = requests
            .iter()
            .map(|_| IntervalStats::new())
            .collect::<Result<Vec<_>, _>>()?;
        let seed = t0.elapsed().as_nanos() as u64 ^ u64::from(std::process::id());
        let shared = Shared {
            client,
            timeout: scenario.timeout,
            picker: RefCell::new(Picker::new(
                scenario.requests.iter().map(|r| r.weight).collect(),
            )),
            requests,
            model: scenario.model,
            stages: scenario.stages.clone(),
            think: scenario.think,
            t0,
            interval,
            max_in_flight,
            rng: RefCell::new(SplitMix64(seed)),
            stats: RefCell::new(Stats {
                overall: IntervalStats::new()?,
                by_name,
                serializer: V2DeflateSerializer::new(),
                scratch: Vec::with_capacity(4096),
            }),
            log: RefCell::new(log),
            log_error: RefCell::new(None),
            live,
            in_flight: Cell::new(0),
            target_users: Cell::new(0),
            users_running: RefCell::new(Vec::new()),
            last_flush: Cell::new(Instant::now()),
        };
        shared.write(&LoadRecord::Start(LoadStart {
            t: shared.now_s(),
            driver: "builtin".into(),
            model: Some(
                match scenario.model {
                    Model::Closed => "closed",
                    Model::Open => "open",
                }
                .into(),
            ),
            source: scenario.source.clone(),
            interval_s: interval.as_secs_f64(),
            requests: scenario
                .requests
                .iter()
                .map(|r| RequestInfo {
                    name: r.name.clone(),
                    method: r.method.to_string(),
                    url: r.url.to_string(),
                    weight: r.weight,
                })
                .collect(),
            stages: scenario
                .stages
                .iter()
                .map(|s| StageInfo {
                    name: s.name.clone(),
                    duration_s: s.duration.as_secs_f64(),
                    target: s.target,
                })
                .collect(),
            max_in_flight: (scenario.model == Model::Open).then_some(max_in_flight),
        }));
        Ok(shared)
    }

    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    fn level_now(&self) -> f64 {
        scenario::level_at(&self.stages, self.t0.elapsed())
    }

    fn write(&self, record: &LoadRecord) {
        if let Err(e) = self.log.borrow_mut().write(record) {
            self.log_error.borrow_mut().get_or_insert(e);
        }
    }

    fn record(&self, index: usize, outcome: Outcome, latency: Duration) {
        let mut stats = self.stats.borrow_mut();
        stats.overall.record(outcome, latency);
        if let Some(named) = stats.by_name.get_mut(index) {
            named.record(outcome, latency);
        }
        self.live.requests.fetch_add(1, Ordering::Relaxed);
        if outcome != Outcome::Ok {
            self.live.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn pick(&self) -> (usize, Option<Bytes>) {
        let index = self.picker.borrow_mut().next();
        let bodies = &self.requests[index].bodies;
        let body = match bodies.len() {
            0 => None,
            1 => Some(bodies[0].clone()),
            n => Some(bodies[self.rng.borrow_mut().below(n as u64) as usize].clone()),
        };
        (index, body)
    }

    fn think_time(&self) -> Option<Duration> {
        let think = self.think?;
        let span = think.max.saturating_sub(think.min);
        Some(think.min + span.mul_f64(self.rng.borrow_mut().unit_f64()))
    }

    /// Users running (closed) or requests in flight (open).
    fn active(&self) -> u64 {
        match self.model {
            Model::Closed => self.users_running.borrow().iter().filter(|r| **r).count() as u64,
            Model::Open => self.in_flight.get(),
        }
    }

    /// Write the interval that ends now and start a new one.
    fn flush_interval(&self) {
        let now = Instant::now();
        let dt_s = now.duration_since(self.last_flush.get()).as_secs_f64();
        self.last_flush.set(now);
        let mut stats = self.stats.borrow_mut();
        let Stats {
            overall,
            by_name,
            serializer,
            scratch,
        } = &mut *stats;
        let mut names = BTreeMap::new();
        for (prepared, named) in self.requests.iter().zip(by_name.iter_mut()) {
            names.insert(
                prepared.name.clone(),
                NameInterval {
                    requests: named.requests,
                    errors: named.errors,
                    hist: (!named.latency_us.is_empty())
                        .then(|| encode_histogram(&named.latency_us, serializer, scratch))
                        .flatten(),
                },
            );
            named.reset();
        }
        let latency_ms = LatencyMs::of(&overall.latency_us);
        let rps = if dt_s > 0.0 {
            overall.requests as f64 / dt_s
        } else {
            0.0
        };
        let interval = LoadInterval {
            t: self.now_s(),
            dt_s,
            level: self.level_now(),
            active: self.active(),
            requests: overall.requests,
            errors: overall.errors,
            rps,
            latency_ms,
            hist: (!overall.latency_us.is_empty())
                .then(|| encode_histogram(&overall.latency_us, serializer, scratch))
                .flatten(),
            by_name: names,
        };
        overall.reset();
        drop(stats);
        self.live
            .set_interval(rps, latency_ms.p95.map(|ms| (ms * 1000.0) as u64));
        self.write(&LoadRecord::Interval(interval));
    }
}

/// Run until told to stop, then write the last interval and the end line.
async fn drive(shared: Rc<Shared>, stop: Arc<Notify>) -> Result<(), LoadError> {
    let work = async {
        let flusher = tokio::task::spawn_local(flush_loop(Rc::clone(&shared)));
        let controller = tokio::task::spawn_local(control_loop(Rc::clone(&shared)));
        if shared.model == Model::Open {
            open_scheduler(Rc::clone(&shared)).await;
        }
        // Closed model: the controller runs the users; both loops end only at stop.
        let _ = tokio::join!(flusher, controller);
    };
    tokio::select! {
        _ = stop.notified() => {}
        _ = work => {}
    }
    shared.flush_interval();
    shared.write(&LoadRecord::End {
        t: shared.now_s(),
        in_flight: shared.in_flight.get(),
    });
    match shared.log_error.borrow_mut().take() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

async fn flush_loop(shared: Rc<Shared>) {
    let start = tokio::time::Instant::now();
    let mut k: u32 = 1;
    let mut last_trim = Instant::now();
    loop {
        tokio::time::sleep_until(start + shared.interval * k).await;
        k = k.saturating_add(1);
        shared.flush_interval();
        if last_trim.elapsed() >= TRIM_EVERY {
            last_trim = Instant::now();
            return_freed_memory();
        }
    }
}

/// How often freed heap memory is handed back to the OS.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// After a burst (a stalled server, a paused driver: hundreds of requests in flight at
/// once, each with its connection's buffers) the memory is freed but glibc keeps it in
/// the heap, so the profiler's RSS would stay at its high-water mark for the rest of a
/// 24 h run. Trimming costs tens of microseconds when there is nothing to return.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and releases the allocator's own free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Idle keep-alive connections kept per host: what the peak level needs (one per user;
/// for the open model about 2 ms of requests, at least 16). A burst opens more; they are
/// closed when it passes rather than held.
fn max_idle_connections(scenario: &Scenario) -> usize {
    let peak = scenario.stages.iter().map(|s| s.target).fold(0.0, f64::max);
    let wanted = match scenario.model {
        Model::Closed => peak.ceil(),
        Model::Open => (peak / 500.0).ceil().max(16.0),
    };
    wanted.clamp(1.0, MAX_IN_FLIGHT as f64) as usize
}

/// Notices stage changes (both models) and adds or removes users (closed model).
async fn control_loop(shared: Rc<Shared>) {
    let mut stage = None;
    loop {
        let elapsed = shared.t0.elapsed();
        let now_stage = scenario::stage_at(&shared.stages, elapsed);
        if now_stage != stage {
            stage = now_stage;
            if let Some(index) = now_stage
                && shared.stages.len() > 1
            {
                let s = &shared.stages[index];
                shared.write(&LoadRecord::Stage(StageEvent {
                    t: shared.now_s(),
                    index,
                    name: s.name.clone(),
                    target: s.target,
                }));
            }
        }
        if shared.model == Model::Closed {
            let wanted = shared.level_now().round().max(0.0) as usize;
            shared.target_users.set(wanted);
            let mut running = shared.users_running.borrow_mut();
            if running.len() < wanted {
                running.resize(wanted, false);
            }
            for (index, slot) in running.iter_mut().enumerate().take(wanted) {
                if !*slot {
                    *slot = true;
                    tokio::task::spawn_local(user_loop(Rc::clone(&shared), index));
                }
            }
        }
        tokio::time::sleep(CONTROL_TICK).await;
    }
}

/// One closed-model user: request, think, repeat, while its slot is wanted.
async fn user_loop(shared: Rc<Shared>, index: usize) {
    while index < shared.target_users.get() {
        let (which, body) = shared.pick();
        let started = Instant::now();
        let outcome = send(&shared, which, body).await;
        shared.record(which, outcome, started.elapsed());
        if outcome == Outcome::Connect {
            tokio::time::sleep(CONNECT_BACKOFF).await;
        }
        if let Some(think) = shared.think_time() {
            tokio::time::sleep(think).await;
        }
    }
    if let Some(slot) = shared.users_running.borrow_mut().get_mut(index) {
        *slot = false;
    }
}

/// Open model: integrate the target rate over time and start a request each time the
/// integral passes a whole number, at the instant it did.
async fn open_scheduler(shared: Rc<Shared>) {
    let mut last = Instant::now();
    // Fraction of a request owed since the last start, in [0, 1).
    let mut owed = 0.0f64;
    loop {
        let now = Instant::now();
        let rate = shared.level_now().max(0.0);
        let total = owed + rate * now.duration_since(last).as_secs_f64();
        let due = total.floor();
        let mut k = 1.0;
        while k <= due {
            // The integral reached k at this instant (rate > 0 whenever due ≥ 1).
            issue_open(&shared, last + Duration::from_secs_f64((k - owed) / rate));
            k += 1.0;
        }
        owed = total - due;
        last = now;
        let wait = if rate > 0.0 {
            Duration::from_secs_f64((1.0 - owed) / rate).min(MAX_SCHEDULER_SLEEP)
        } else {
            MAX_SCHEDULER_SLEEP
        };
        tokio::time::sleep(wait).await;
    }
}

fn issue_open(shared: &Rc<Shared>, intended: Instant) {
    let (which, body) = shared.pick();
    if shared.in_flight.get() >= shared.max_in_flight {
        shared.record(which, Outcome::Dropped, Duration::ZERO);
        return;
    }
    shared.in_flight.set(shared.in_flight.get() + 1);
    let shared = Rc::clone(shared);
    tokio::task::spawn_local(async move {
        let outcome = send(&shared, which, body).await;
        shared
            .in_flight
            .set(shared.in_flight.get().saturating_sub(1));
        // From the intended start: time spent waiting to be sent counts.
        shared.record(which, outcome, intended.elapsed());
    });
}

/// Send one request and read its whole response, within the request timeout.
async fn send(shared: &Shared, which: usize, body: Option<Bytes>) -> Outcome {
    let request = &shared.requests[which];
    let mut http_request = Request::new(Full::new(body.unwrap_or_default()));
    *http_request.method_mut() = request.method.clone();
    *http_request.uri_mut() = request.uri.clone();
    *http_request.headers_mut() = request.headers.clone();
    match tokio::time::timeout(shared.timeout, exchange(shared, request, http_request)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Timeout,
    }
}

async fn exchange(
    shared: &Shared,
    request: &Prepared,
    http_request: Request<Full<Bytes>>,
) -> Outcome {
    let response = match shared.client.request(http_request).await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Outcome::Connect,
        Err(_) => return Outcome::Other,
    };
    let status = response.status().as_u16();
    let status_ok = if request.expect_status.is_empty() {
        (200..400).contains(&status)
    } else {
        request.expect_status.contains(&status)
    };
    let mut body = response.into_body();
    if request.expect_json_keys.is_empty() {
        // Read and drop the body frame by frame: the connection is reused only after it.
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                return Outcome::Other;
            }
        }
        return if status_ok {
            Outcome::Ok
        } else {
            Outcome::Status
        };
    }
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Outcome::Other,
    };
    if !status_ok {
        return Outcome::Status;
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map))
            if request.expect_json_keys.iter().all(|k| map.contains_key(k)) =>
        {
            Outcome::Ok
        }
        _ => Outcome::Check,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picker_follows_weights_exactly() {
        let mut picker = Picker::new(vec![3.0, 2.0, 1.0]);
        let mut counts = [0; 3];
        for _ in 0..600 {
            counts[picker.next()] += 1;
        }
        assert_eq!(counts, [300, 200, 100]);
        // Interleaved, not in runs: within any 6 consecutive picks the mix is exact.
        let window: Vec<usize> = (0..6).map(|_| picker.next()).collect();
        assert_eq!(window.iter().filter(|&&i| i == 0).count(), 3);
    }

    #[test]
    fn interval_stats_count_errors_by_kind_and_latency_only_for_responses() {
        let mut stats = IntervalStats::new().unwrap();
        stats.record(Outcome::Ok, Duration::from_millis(2));
        stats.record(Outcome::Status, Duration::from_millis(4));
        stats.record(Outcome::Connect, Duration::from_millis(1));
        stats.record(Outcome::Timeout, Duration::from_secs(30));
        stats.record(Outcome::Dropped, Duration::ZERO);
        assert_eq!(stats.requests, 5);
        assert_eq!(stats.errors.total(), 4);
        assert_eq!(stats.errors.connect, 1);
        assert_eq!(stats.latency_us.len(), 2);
        assert!(stats.latency_us.max() < 5_000);
        stats.reset();
        assert_eq!(stats.requests, 0);
        assert!(stats.latency_us.is_empty());
    }
}
