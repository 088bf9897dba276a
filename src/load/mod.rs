//! The load driver beside the sampler: a built-in HTTP driver (closed and open models,
//! stages, weighted requests) or an external command, each writing `load.jsonl`.
//!
//! The driver runs on its own thread; the sampler never waits for it. What the two share
//! is the run's start instant (one timeline) and a few counters for the live status.

pub mod capsearch;
pub mod driver;
pub mod external;
pub mod scenario;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use scenario::Scenario;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    #[error("cannot start the load driver: {0}")]
    Start(String),
    #[error(
        "the load driver did not stop within {grace_s} s; load.jsonl may lack its last interval"
    )]
    StopTimeout { grace_s: u64 },
    #[error("cannot start the load command `{command}`: {source}")]
    Command {
        command: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Log(#[from] crate::runlog::RunLogError),
}

impl LoadError {
    /// Errors that come from what the user gave.
    pub fn is_bad_input(&self) -> bool {
        match self {
            LoadError::Scenario(e) => e.is_bad_input(),
            LoadError::Log(e) => e.is_bad_input(),
            LoadError::Command { .. } => true,
            LoadError::Start(_) | LoadError::StopTimeout { .. } => false,
        }
    }
}

/// What load to drive during a run.
#[derive(Clone, Debug)]
pub enum LoadPlan {
    /// The built-in HTTP driver.
    Builtin(Box<Scenario>),
    /// `--load-cmd`: a shell command started with the run and stopped at its end.
    External { command: String },
}

/// Counters the driver updates and the live status reads; plain atomics, no locks.
#[derive(Debug, Default)]
pub struct LoadLive {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Of the last interval, as f64 bits.
    last_rps_bits: AtomicU64,
    /// p95 of the last interval in µs; `u64::MAX` when it had no responses.
    last_p95_us: AtomicU64,
    /// Set once the status has shown the error warning.
    warned: AtomicBool,
    /// External driver: true while the command runs.
    pub external_running: AtomicBool,
    /// External driver: exit status text once it ended.
    pub external_exited: AtomicBool,
    /// Failed requests by kind, in the order of [`ERROR_KINDS`] (the live exposition).
    errors_by_kind: [AtomicU64; ERROR_KINDS.len()],
    /// Responses by latency bucket (not cumulative): `[i]` counts latencies up to
    /// [`LATENCY_BUCKETS_US`]`[i]`, the last one those above every bound.
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    latency_sum_us: AtomicU64,
}

/// The kinds of failed request, as the live exposition labels them (`runlog::load::ErrorCounts`).
pub const ERROR_KINDS: [&str; 7] = [
    "status",
    "timeout",
    "connect",
    "check",
    "dropped",
    "other",
    "body_too_large",
];

/// Upper bounds of the live latency histogram's buckets, µs (1 ms to 10 s).
pub const LATENCY_BUCKETS_US: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// The live latency histogram read at once: per-bucket counts and the sum, µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyCounts {
    pub buckets: [u64; LATENCY_BUCKETS_US.len() + 1],
    pub sum_us: u64,
}

/// Error share above which the live status warns, when no `--max-error-rate` is set.
pub const DEFAULT_ERROR_WARNING_RATE: f64 = 0.05;
/// Errors needed before the warning can show (a few failures at start-up are not news).
const ERROR_WARNING_MIN_ERRORS: u64 = 10;

impl LoadLive {
    pub fn set_interval(&self, rps: f64, p95_us: Option<u64>) {
        self.last_rps_bits.store(rps.to_bits(), Ordering::Relaxed);
        self.last_p95_us
            .store(p95_us.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Count a failed request of kind `ERROR_KINDS[kind]` (`n` of them: dropped ones
    /// come in batches).
    pub fn count_error(&self, kind: usize, n: u64) {
        if let Some(counter) = self.errors_by_kind.get(kind) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Count a response's latency in the live histogram.
    pub fn count_latency(&self, latency_us: u64) {
        let bucket = LATENCY_BUCKETS_US.partition_point(|&bound| bound < latency_us);
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(latency_us, Ordering::Relaxed);
    }

    /// Failed requests by kind, in the order of [`ERROR_KINDS`].
    pub fn errors_by_kind(&self) -> [u64; ERROR_KINDS.len()] {
        std::array::from_fn(|i| self.errors_by_kind[i].load(Ordering::Relaxed))
    }

    pub fn latency_counts(&self) -> LatencyCounts {
        LatencyCounts {
            buckets: std::array::from_fn(|i| self.latency_buckets[i].load(Ordering::Relaxed)),
            sum_us: self.latency_sum_us.load(Ordering::Relaxed),
        }
    }

    /// Short text for the live status line.
    pub fn status_text(&self) -> String {
        let requests = self.requests.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        if self.external_running.load(Ordering::Relaxed) {
            return "load command running".to_string();
        }
        if self.external_exited.load(Ordering::Relaxed) {
            return "load command ended".to_string();
        }
        if requests == 0 {
            return "load starting".to_string();
        }
        let rps = f64::from_bits(self.last_rps_bits.load(Ordering::Relaxed));
        let p95 = match self.last_p95_us.load(Ordering::Relaxed) {
            u64::MAX => "n/a".to_string(),
            us => format!("{:.1} ms", us as f64 / 1000.0),
        };
        format!("load {rps:.0} req/s, p95 {p95}, {requests} req, {errors} err")
    }

    /// A warning line the first time errors pass `bound` (a fraction of requests).
    pub fn error_warning(&self, bound: f64) -> Option<String> {
        let requests = self.requests.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        if errors < ERROR_WARNING_MIN_ERRORS || (errors as f64) <= bound * requests as f64 {
            return None;
        }
        if self.warned.swap(true, Ordering::Relaxed) {
            return None;
        }
        Some(format!(
            "warning: {errors} of {requests} load requests failed ({:.1}%, above {:.1}%); sampling continues, see load.jsonl",
            100.0 * errors as f64 / requests.max(1) as f64,
            100.0 * bound
        ))
    }
}

/// Seconds between `load.jsonl` interval lines: 1 s, longer for runs over an hour so a
/// 24 h run writes about 3,600 lines (24 s each).
pub fn load_interval(run_duration: Option<Duration>) -> Duration {
    let hour = Duration::from_secs(3600);
    match run_duration {
        Some(d) if d > hour => Duration::from_secs(d.as_secs().div_ceil(3600).max(1)),
        _ => Duration::from_secs(1),
    }
}

/// A running driver of either kind, as `record` sees it.
pub struct LoadDriver {
    plan: LoadPlan,
    run_duration: Option<Duration>,
    live: Arc<LoadLive>,
    running: Option<Running>,
    /// `--find-capacity`: the search sets the built-in driver's level.
    control: Option<Arc<capsearch::SearchControl>>,
}

enum Running {
    Builtin(driver::BuiltinHandle),
    External(external::ExternalHandle),
}

impl LoadDriver {
    pub fn new(plan: LoadPlan, run_duration: Option<Duration>) -> LoadDriver {
        LoadDriver {
            plan,
            run_duration,
            live: Arc::default(),
            running: None,
            control: None,
        }
    }

    /// The built-in driver's level set by a capacity search instead of its stages.
    pub fn with_control(mut self, control: Arc<capsearch::SearchControl>) -> LoadDriver {
        self.control = Some(control);
        self
    }

    pub fn live(&self) -> Arc<LoadLive> {
        Arc::clone(&self.live)
    }

    /// Start driving; `t0` is the instant the run's clock counts from.
    pub fn start(
        &mut self,
        run_dir: &std::path::Path,
        t0: std::time::Instant,
    ) -> Result<(), LoadError> {
        let interval = load_interval(self.run_duration);
        self.running = Some(match &self.plan {
            LoadPlan::Builtin(scenario) => Running::Builtin(driver::start(
                scenario.as_ref().clone(),
                run_dir,
                t0,
                interval,
                Arc::clone(&self.live),
                self.control.clone(),
            )?),
            LoadPlan::External { command } => Running::External(external::start(
                command,
                run_dir,
                t0,
                self.run_duration,
                Arc::clone(&self.live),
            )?),
        });
        Ok(())
    }

    /// Stop and wait for the driver to write its last lines. Errors are reported, not
    /// returned: the run's samples matter more than the load log's tail.
    pub fn stop(&mut self) {
        let result = match self.running.take() {
            Some(Running::Builtin(handle)) => handle.stop(),
            Some(Running::External(handle)) => handle.stop(),
            None => Ok(()),
        };
        if let Err(e) = result {
            crate::output::diag!("soakprof: load driver: {e}");
        }
    }
}
