//! Live exposition while recording (`record --metrics-addr`): a snapshot the recorder
//! updates after each sample (a few numbers swapped under a short lock), rendered in the
//! Prometheus text format only when scraped, so memory is constant however long the run
//! and a scrape never delays a sample. The same snapshot, judged at the end, is what
//! `--push-url` sends to a Pushgateway.

pub mod metrics;
mod server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

pub use server::LiveServer;

use crate::analysis::{OnlineSlope, RunVerdict, Verdict};
use crate::load::{ERROR_KINDS, LATENCY_BUCKETS_US, LoadLive};
use crate::runlog::Thresholds;
use crate::sample::Sample;
use crate::status::StatusSink;
use metrics::Encoder;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("--metrics-addr {addr}: cannot listen there: {}", bind_reason(source))]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the metrics server: {0}")]
    Start(std::io::Error),
}

/// Why an address could not be bound, and what to do.
fn bind_reason(e: &std::io::Error) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => "; another program uses the port: give another one",
        std::io::ErrorKind::AddrNotAvailable => "; no interface of this machine has that address",
        std::io::ErrorKind::PermissionDenied => "; a port below 1024 needs privileges",
        _ => "",
    };
    format!("{e}{hint}")
}

impl LiveError {
    pub fn is_bad_input(&self) -> bool {
        match self {
            LiveError::Bind { .. } => true,
            LiveError::Start(_) => false,
        }
    }
}

/// `--metrics-addr`: `IP:PORT` (`[::1]:PORT` for IPv6) binds that address; `:PORT`, a
/// bare `PORT` or `localhost:PORT` bind loopback only (127.0.0.1), so the metrics are
/// never on the network unless an address says so.
pub fn parse_metrics_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("'{text}': '{p}' is not a port number (0 to 65535)"))
    };
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    if let Some(p) = text.strip_prefix(':') {
        return Ok(SocketAddr::new(loopback, port(p)?));
    }
    if let Some(p) = text.strip_prefix("localhost:") {
        return Ok(SocketAddr::new(loopback, port(p)?));
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return Ok(SocketAddr::new(loopback, port(text)?));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "'{text}' is not an address to listen on (examples: 127.0.0.1:9464, :9464, 0.0.0.0:9464, [::1]:9464)"
        )
    })
}

/// Which growth estimates there are, and the label each carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Growth {
    Rss,
    Vms,
    Pss,
    Uss,
    Threads,
    Fds,
}

const GROWTHS: [Growth; 6] = [
    Growth::Rss,
    Growth::Vms,
    Growth::Pss,
    Growth::Uss,
    Growth::Threads,
    Growth::Fds,
];

impl Growth {
    fn label(self) -> &'static str {
        match self {
            Growth::Rss => "rss",
            Growth::Vms => "vms",
            Growth::Pss => "pss",
            Growth::Uss => "uss",
            Growth::Threads => "threads",
            Growth::Fds => "fds",
        }
    }

    fn is_bytes(self) -> bool {
        !matches!(self, Growth::Threads | Growth::Fds)
    }

    fn of(self, s: &Sample) -> Option<u64> {
        match self {
            Growth::Rss => s.rss,
            Growth::Vms => s.vms,
            Growth::Pss => s.pss,
            Growth::Uss => s.uss,
            Growth::Threads => s.threads,
            Growth::Fds => s.fds,
        }
    }
}

/// What a scrape renders: the last reading of each metric (a metric never read is
/// `None`, and absent from the page), the growth estimates and the verdict.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    target: Option<Arc<str>>,
    start_time_s: Option<f64>,
    rss: Option<u64>,
    vms: Option<u64>,
    pss: Option<u64>,
    uss: Option<u64>,
    threads: Option<u64>,
    fds: Option<u64>,
    procs: Option<u32>,
    cpu_seconds: Option<f64>,
    samples: u64,
    elapsed_s: Option<f64>,
    /// Per second, in the order of [`GROWTHS`].
    growth: [Option<f64>; GROWTHS.len()],
    thresholds: Option<Thresholds>,
    verdict: Option<Verdict>,
    judged: bool,
}

/// The live state shared by the recorder (which writes it) and the metrics server and the
/// push (which render it).
#[derive(Debug, Default)]
pub struct LiveState {
    snapshot: Mutex<Snapshot>,
    /// The built-in load driver's counters, read at render time (atomics).
    load: Mutex<Option<Arc<LoadLive>>>,
}

impl LiveState {
    pub fn new() -> Arc<LiveState> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        // A panic elsewhere never stops the exposition: the snapshot is plain numbers.
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run has started on `target`: its label, the thresholds, and the built-in load
    /// driver's counters when one runs.
    pub fn attach(&self, target: &str, thresholds: &Thresholds, load: Option<Arc<LoadLive>>) {
        {
            let mut snap = self.lock();
            snap.target = Some(Arc::from(target));
            snap.thresholds = Some(thresholds.clone());
        }
        *self.load.lock().unwrap_or_else(|e| e.into_inner()) = load;
    }

    /// When the one process followed started (Unix seconds); `None` leaves
    /// `process_start_time_seconds` out (several roots, or `--follow`, where it would go
    /// stale at the first restart).
    pub fn set_start_time(&self, start_time_s: Option<f64>) {
        self.lock().start_time_s = start_time_s;
    }

    /// The run is judged: its verdict and judged trends replace the provisional ones.
    pub fn set_final(&self, verdict: &RunVerdict) {
        let m = &verdict.metrics;
        let trend = |g: Growth| {
            let t = match g {
                Growth::Rss => &m.rss,
                Growth::Vms => &m.vms,
                Growth::Pss => &m.pss,
                Growth::Uss => &m.uss,
                Growth::Threads => &m.threads,
                Growth::Fds => &m.fds,
            };
            t.as_ref().map(|t| t.slope_per_min / 60.0)
        };
        let mut snap = self.lock();
        snap.growth = GROWTHS.map(trend);
        snap.verdict = Some(verdict.verdict);
        snap.judged = true;
        snap.elapsed_s = Some(verdict.duration_s);
        if snap.target.is_none() {
            snap.target = Some(Arc::from(verdict.target.name.as_str()));
        }
    }

    /// The page: every family with a value, labelled with the target; `pushed_only`
    /// keeps the families a Pushgateway is sent.
    pub fn render(&self, pushed_only: bool) -> String {
        let snap = self.lock().clone();
        let load = self.load.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(target) = snap.target.clone() else {
            return String::new();
        };
        let common = [("target", &*target)];
        let mut enc = Encoder::new(&common, pushed_only);
        render_process(&mut enc, &snap);
        render_judgement(&mut enc, &snap);
        if let Some(load) = load {
            render_load(&mut enc, &load);
        }
        enc.finish()
    }
}

fn render_process(enc: &mut Encoder<'_>, snap: &Snapshot) {
    use metrics::*;
    enc.family(&RSS).maybe(snap.rss);
    enc.family(&VMS).maybe(snap.vms);
    enc.family(&FDS).maybe(snap.fds);
    enc.family(&CPU).maybe(snap.cpu_seconds);
    enc.family(&START_TIME).maybe(snap.start_time_s);
    enc.family(&PSS).maybe(snap.pss);
    enc.family(&USS).maybe(snap.uss);
    enc.family(&THREADS).maybe(snap.threads);
    enc.family(&PROCS).maybe(snap.procs.map(u64::from));
}

fn render_judgement(enc: &mut Encoder<'_>, snap: &Snapshot) {
    use metrics::*;
    for bytes in [true, false] {
        let mut family = enc.family(if bytes { &GROWTH_BYTES } else { &GROWTH_COUNT });
        for (g, value) in GROWTHS.iter().zip(snap.growth) {
            if let Some(v) = value.filter(|_| g.is_bytes() == bytes) {
                family.series("", &[("metric", g.label())], v);
            }
        }
    }
    if let Some(th) = &snap.thresholds {
        let mut family = enc.family(&THRESHOLD_BYTES);
        family.series(
            "",
            &[("metric", "memory"), ("level", "warn")],
            th.warn_growth_bytes_per_min / 60.0,
        );
        family.series(
            "",
            &[("metric", "memory"), ("level", "fail")],
            th.max_growth_bytes_per_min / 60.0,
        );
        let mut family = enc.family(&THRESHOLD_COUNT);
        for (metric, per_min) in [
            ("threads", th.max_thread_growth_per_min),
            ("fds", th.max_fd_growth_per_min),
        ] {
            family.series("", &[("metric", metric), ("level", "fail")], per_min / 60.0);
        }
    }
    if let Some(verdict) = snap.verdict {
        let mut family = enc.family(&VERDICT);
        for v in [Verdict::Pass, Verdict::Warn, Verdict::Fail] {
            family.series("", &[("verdict", v.as_str())], u64::from(v == verdict));
        }
    }
    enc.family(&VERDICT_FINAL)
        .maybe(Some(u64::from(snap.judged)));
    enc.family(&SAMPLES).maybe(Some(snap.samples));
    enc.family(&ELAPSED).maybe(snap.elapsed_s);
}

fn render_load(enc: &mut Encoder<'_>, load: &LoadLive) {
    use metrics::*;
    use std::sync::atomic::Ordering;
    enc.family(&LOAD_REQUESTS)
        .maybe(Some(load.requests.load(Ordering::Relaxed)));
    let mut family = enc.family(&LOAD_ERRORS);
    for (kind, n) in ERROR_KINDS.iter().zip(load.errors_by_kind()) {
        family.series("", &[("kind", kind)], n);
    }
    let counts = load.latency_counts();
    let mut family = enc.family(&LOAD_LATENCY);
    let mut cumulative = 0u64;
    for (i, n) in counts.buckets.iter().enumerate() {
        cumulative += n;
        let le = LATENCY_BUCKETS_US
            .get(i)
            .map_or_else(|| "+Inf".to_string(), |us| (*us as f64 / 1e6).to_string());
        family.series("_bucket", &[("le", &le)], cumulative);
    }
    family.series("_sum", &[], counts.sum_us as f64 / 1e6);
    family.series("_count", &[], cumulative);
}

/// The provisional verdict of running slopes (per second) against the thresholds: the
/// judged memory is RSS and USS for one process, PSS for several (as in the analysis).
fn provisional_verdict(
    growth: &[Option<f64>; GROWTHS.len()],
    th: &Thresholds,
    several: bool,
) -> Option<Verdict> {
    let per_min = |g: Growth| growth[GROWTHS.iter().position(|x| *x == g)?].map(|s| s * 60.0);
    let memory: Vec<f64> = if several {
        per_min(Growth::Pss).into_iter().collect()
    } else {
        [Growth::Rss, Growth::Uss]
            .into_iter()
            .filter_map(per_min)
            .collect()
    };
    let counts: Vec<(f64, f64)> = [
        (Growth::Threads, th.max_thread_growth_per_min),
        (Growth::Fds, th.max_fd_growth_per_min),
    ]
    .into_iter()
    .filter_map(|(g, max)| per_min(g).map(|s| (s, max)))
    .collect();
    if memory.is_empty() && counts.is_empty() {
        return None;
    }
    let worst_memory = memory.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if worst_memory > th.max_growth_bytes_per_min || counts.iter().any(|(s, max)| s > max) {
        Some(Verdict::Fail)
    } else if worst_memory > th.warn_growth_bytes_per_min {
        Some(Verdict::Warn)
    } else {
        Some(Verdict::Pass)
    }
}

/// The status sink that also keeps the live snapshot: the recorder calls it after each
/// sample, and it passes everything on to the status it wraps.
pub struct LiveStatus {
    inner: Box<dyn StatusSink>,
    state: Arc<LiveState>,
    slopes: [OnlineSlope; GROWTHS.len()],
    thresholds: Thresholds,
}

impl LiveStatus {
    pub fn wrap(
        inner: Box<dyn StatusSink>,
        state: Arc<LiveState>,
        thresholds: &Thresholds,
    ) -> LiveStatus {
        LiveStatus {
            inner,
            state,
            slopes: Default::default(),
            thresholds: thresholds.clone(),
        }
    }

    fn observe(&mut self, s: &Sample) {
        for (g, slope) in GROWTHS.iter().zip(&mut self.slopes) {
            if let Some(v) = g.of(s) {
                slope.push(s.t, v as f64);
            }
        }
        let growth = std::array::from_fn(|i| self.slopes[i].slope_per_s());
        let several = s.procs.is_some_and(|p| p > 1);
        let verdict = provisional_verdict(&growth, &self.thresholds, several);
        let cpu_seconds = match (s.cpu_user_s, s.cpu_sys_s) {
            (Some(u), Some(k)) => Some(u + k),
            _ => None,
        };
        let mut snap = self.state.lock();
        // Fields read on a schedule of their own (PSS, USS) keep their last reading.
        let keep = |new: Option<u64>, old: Option<u64>| new.or(old);
        snap.rss = s.rss;
        snap.vms = s.vms;
        snap.pss = keep(s.pss, snap.pss);
        snap.uss = keep(s.uss, snap.uss);
        snap.threads = s.threads;
        snap.fds = s.fds;
        snap.procs = s.procs;
        snap.cpu_seconds = cpu_seconds;
        snap.samples += 1;
        snap.elapsed_s = Some(s.t);
        snap.growth = growth;
        snap.verdict = verdict;
    }
}

impl StatusSink for LiveStatus {
    fn update(&mut self, sample: &Sample, slope: Option<f64>, remaining_s: Option<f64>) {
        self.observe(sample);
        self.inner.update(sample, slope, remaining_s);
    }
    fn note(&mut self, message: &str) {
        self.inner.note(message);
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
}

#[cfg(test)]
mod tests;
