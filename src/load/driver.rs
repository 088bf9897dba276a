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

mod body;
mod json_keys;
mod request;
mod schedule;
mod stats;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Notify;

use super::capsearch::SearchControl;
use super::scenario::{Model, Scenario, Stage, ThinkTime, redact_url};
use super::{LoadError, LoadLive};
use crate::rng::SplitMix64;
use crate::runlog::RunLogError;
use crate::runlog::load::{
    LatencyMs, LoadInterval, LoadLogWriter, LoadRecord, LoadStart, NameInterval, RequestInfo,
    StageInfo, encode_histogram,
};
use request::{Prepared, prepare};
use schedule::{Picker, control_loop, open_scheduler};
use stats::{InFlight, Outcome, Stats};

/// Open model: requests allowed in flight before new ones are dropped (counted as
/// `dropped` errors) rather than queued without bound behind a stalled server.
const MAX_IN_FLIGHT: u64 = 1000;
/// Time allowed to set the driver up before `start` gives up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Time the driver has to write its last interval and end line once told to stop; after
/// it the run goes on without them (the report reads what is there).
const STOP_GRACE: Duration = Duration::from_secs(3);
/// The most of one connection's response hyper buffers (headers included): a body is
/// handed over and dropped in pieces of at most this, however fast the server sends.
const MAX_READ_BUFFER: usize = 16 * 1024;

/// A running built-in driver.
pub struct BuiltinHandle {
    stop: Arc<Notify>,
    thread: std::thread::JoinHandle<Result<(), LoadError>>,
}

impl BuiltinHandle {
    /// Stop the driver; it writes its last (partial) interval and an `end` line first.
    /// Waits at most [`STOP_GRACE`]: a driver that does not stop by then is left to the end
    /// of the process, and the run goes on to its report.
    pub fn stop(self) -> Result<(), LoadError> {
        self.stop.notify_one();
        let deadline = Instant::now() + STOP_GRACE;
        while !self.thread.is_finished() {
            if Instant::now() >= deadline {
                return Err(LoadError::StopTimeout {
                    grace_s: STOP_GRACE.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
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
    control: Option<Arc<SearchControl>>,
) -> Result<BuiltinHandle, LoadError> {
    let log = LoadLogWriter::create(run_dir)?;
    let max_in_flight = raise_fd_limit().map_or(MAX_IN_FLIGHT, |fds| (fds / 2).min(MAX_IN_FLIGHT));
    // `--max-in-flight` lowers the cap (never raises it past what the FDs allow).
    let max_in_flight = control
        .as_ref()
        .and_then(|c| c.max_in_flight)
        .map_or(max_in_flight, |cap| cap.clamp(1, max_in_flight));
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
            if let Some(control) = &control {
                control.driver_thread_started();
            }
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let shared = match Shared::new(scenario, log, t0, interval, live, max_in_flight) {
                    Ok(mut shared) => {
                        shared.control = control;
                        Rc::new(shared)
                    }
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
        .http1_max_buf_size(MAX_READ_BUFFER)
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(max_idle)
        .pool_timer(TokioTimer::new())
        .build(connector))
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
    in_flight: RefCell<InFlight>,
    /// Closed model: the number of users wanted now, and which user slots run.
    target_users: Cell<usize>,
    users_running: RefCell<Vec<bool>>,
    last_flush: Cell<Instant>,
    /// `--find-capacity`: the level comes from the search, and each request is counted
    /// for it too.
    control: Option<Arc<SearchControl>>,
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
            .map(|spec| prepare(spec, &scenario.base_url))
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
            stats: RefCell::new(Stats::new(scenario.requests.len())?),
            log: RefCell::new(log),
            log_error: RefCell::new(None),
            live,
            in_flight: RefCell::new(InFlight::default()),
            target_users: Cell::new(0),
            users_running: RefCell::new(Vec::new()),
            last_flush: Cell::new(Instant::now()),
            control: None,
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
                    url: redact_url(&r.url),
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
        match &self.control {
            Some(control) => control.level(),
            None => super::scenario::level_at(&self.stages, self.t0.elapsed()),
        }
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
        if let Some(kind) = outcome.error_kind() {
            self.live.errors.fetch_add(1, Ordering::Relaxed);
            self.live.count_error(kind, 1);
        }
        if outcome.has_response() {
            self.live
                .count_latency(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        }
    }

    /// A request is about to be sent: the search counts what is in flight, and returns the
    /// level it is sent at.
    fn started(&self) -> u64 {
        self.control.as_ref().map_or(0, |c| c.request_started())
    }

    /// A request sent at `level_id` (see [`Shared::started`]) ended, for the search.
    fn ended(&self, level_id: u64, outcome: Outcome, latency: Duration) {
        if let Some(control) = &self.control {
            control.request_ended(
                level_id,
                outcome.error_kind().is_some(),
                outcome.has_response().then_some(latency),
            );
        }
    }

    /// `n` requests that were due and not sent, attributed to names by weight.
    fn record_dropped(&self, n: u64) {
        if n == 0 {
            return;
        }
        if let Some(control) = &self.control {
            control.requests_dropped(n);
        }
        let split = self.picker.borrow_mut().split(n);
        let mut stats = self.stats.borrow_mut();
        stats.overall.record_dropped(n);
        for (named, count) in stats.by_name.iter_mut().zip(split) {
            if count > 0 {
                named.record_dropped(count);
            }
        }
        self.live.requests.fetch_add(n, Ordering::Relaxed);
        self.live.errors.fetch_add(n, Ordering::Relaxed);
        if let Some(kind) = crate::load::ERROR_KINDS
            .iter()
            .position(|k| *k == "dropped")
        {
            self.live.count_error(kind, n);
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
            Model::Open => self.in_flight.borrow().len(),
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
        // Only the names with requests in this interval: the line stays small however many
        // names the scenario has.
        let mut names = BTreeMap::new();
        for (prepared, named) in self.requests.iter().zip(by_name.iter_mut()) {
            if named.requests == 0 {
                continue;
            }
            names.insert(
                prepared.name.clone(),
                NameInterval {
                    requests: named.requests,
                    errors: named.errors,
                    hist: named
                        .histogram()
                        .and_then(|h| encode_histogram(h, serializer, scratch)),
                },
            );
            named.reset();
        }
        let latency_ms = overall.histogram().map(LatencyMs::of).unwrap_or_default();
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
            hist: overall
                .histogram()
                .and_then(|h| encode_histogram(h, serializer, scratch)),
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
    let ages = shared.in_flight.borrow().ages_us(Instant::now());
    let in_flight_age_hist = ages.and_then(|ages| {
        let mut stats = shared.stats.borrow_mut();
        let Stats {
            serializer,
            scratch,
            ..
        } = &mut *stats;
        encode_histogram(&ages, serializer, scratch)
    });
    if let Some(hist) = in_flight_age_hist {
        shared.write(&LoadRecord::InFlightAges {
            t: shared.now_s(),
            hist,
        });
    }
    shared.write(&LoadRecord::End {
        t: shared.now_s(),
        in_flight: shared.in_flight.borrow().len(),
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
