//! The run directory and its logs.
//!
//! `samples.jsonl` holds a header line, then one line per sample and event lines, each
//! tagged by `"type"`. It is written through a buffered writer: the header and events are
//! flushed at once, samples within 200 ms (at once at intervals of 200 ms or more), so a
//! `kill -9` of the profiler loses at most that much; the reader skips a torn or malformed
//! line and counts it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::sample::HostInfo;
use crate::sample::{Backend, ProcId, Sample};

mod dir;
pub mod load;
mod reader;
mod writer;

pub use dir::{LOCK_FILE, RunDir};
pub use load::{LOAD_CMD_LOG_FILE, LOAD_FILE, LoadRun};
pub use reader::{RunData, read_records, read_run, read_samples};
pub(crate) use reader::{for_each_record, open_log};
pub(crate) use writer::JsonLinesWriter;
pub use writer::{RunLogWriter, local_timestamp};

pub const SCHEMA_VERSION: u32 = 1;
pub const SAMPLES_FILE: &str = "samples.jsonl";
pub const TARGET_LOG_FILE: &str = "target.log";
/// `--find-capacity`: the levels the search held (see `load::capsearch`).
pub const CAPACITY_SEARCH_FILE: &str = "capacity_search.jsonl";
/// Where the earlier part of a capped output log goes ([`crate::output_log`]).
pub const TARGET_LOG_ROTATED_FILE: &str = "target.log.1";
pub const LOAD_CMD_LOG_ROTATED_FILE: &str = "load.log.1";

#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    #[error("cannot write the run directory {path}: {source} (choose another --out)")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} already holds a run; give a new --out, or --force to replace it")]
    HoldsRun { path: PathBuf },
    #[error(
        "{path} is in use by a running soakprof record{}; give another --out",
        pid.map_or(String::new(), |p| format!(" (pid {p})"))
    )]
    InUse { path: PathBuf, pid: Option<u32> },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The log was removed, moved or truncated under a live run: what it recorded is gone.
    #[error("{path} {what}")]
    Lost { path: PathBuf, what: String },
    #[error("cannot read {path}: {source} (is it a soakprof run directory?)")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a regular file (a FIFO, a device, a directory); soakprof reads run logs only from regular files"
    )]
    NotRegular { path: PathBuf },
    #[error("{path} has no valid header line; it is not a soakprof run log")]
    NoHeader { path: PathBuf },
    #[error("{path} has schema version {found}; this soakprof reads version {SCHEMA_VERSION}")]
    Version { path: PathBuf, found: u32 },
}

impl RunLogError {
    /// Errors that come from what the user gave (a path), as opposed to a failing disk.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RunLogError::Create { .. }
            | RunLogError::HoldsRun { .. }
            | RunLogError::InUse { .. }
            | RunLogError::Open { .. }
            | RunLogError::NotRegular { .. }
            | RunLogError::NoHeader { .. }
            | RunLogError::Version { .. } => true,
            RunLogError::Write { .. } | RunLogError::Lost { .. } => false,
        }
    }
}

/// How the target was named, and what it resolved to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `pid`, `name`, `match` or `spawn`.
    pub mode: String,
    /// What the user gave: the PID, name, regex or command.
    pub spec: String,
    pub roots: Vec<ProcId>,
    /// Process name and command line of the (first) root.
    pub name: String,
    pub cmdline: Vec<String>,
    pub children: bool,
    /// `--follow`: restarts were followed (a target exit is then the end of one life).
    #[serde(default)]
    pub follow: bool,
    /// The cgroup whose counters were read: the target itself (`cgroup`/`container` mode)
    /// or the one the target process lives in. `None` when none was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<CgroupTarget>,
}

/// The cgroup a run read, as the header records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CgroupTarget {
    /// The path as `/proc/PID/cgroup` shows it (`/docker/3f2a…`, `/system.slice/x.service`).
    pub path: String,
    /// "v1" or "v2".
    pub version: String,
    /// Where the memory (or, v2, the unified) directory was found on this host.
    pub dir: String,
    /// The container ID, when the target was named by `--container` or the path shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// True when the cgroup is the target (`--cgroup`/`--container`): its processes are
    /// summed, re-read every sample, and its anon memory is what is judged.
    pub is_target: bool,
}

/// Limits in force for the run, and where each came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub mem_limit_bytes: Option<u64>,
    /// `option`, `cgroup v1` or `cgroup v2`.
    pub mem_limit_source: Option<String>,
    pub cpu_limit_cores: Option<f64>,
    pub cpu_limit_source: Option<String>,
}

/// Thresholds the run was recorded with; `analyze` uses them unless told otherwise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub warn_growth_bytes_per_min: f64,
    pub max_growth_bytes_per_min: f64,
    pub max_thread_growth_per_min: f64,
    pub max_fd_growth_per_min: f64,
    /// `--warmup DURATION` in seconds; `None` for automatic detection.
    #[serde(default)]
    pub warmup_s: Option<f64>,
    /// Load gates (`--max-p95`, `--max-p99`, `--max-error-rate`, `--min-rps`); each fails
    /// the run when a load driver ran and missed it.
    #[serde(default)]
    pub max_p95_ms: Option<f64>,
    #[serde(default)]
    pub max_p99_ms: Option<f64>,
    /// A fraction: 0.01 for 1 %.
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    #[serde(default)]
    pub min_rps: Option<f64>,
    /// `--max-throttled`: share of the cgroup's CFS periods throttled over the run above
    /// which the verdict warns (or fails, with `throttled_gate` fail), percent.
    #[serde(default = "default_max_throttled_pct")]
    pub max_throttled_pct: f64,
    /// `--throttled-gate`: what throttling above `max_throttled_pct` makes of the verdict.
    #[serde(default)]
    pub throttled_gate: GateLevel,
}

/// The default `--max-throttled`: 20% of periods.
pub const DEFAULT_MAX_THROTTLED_PCT: f64 = 20.0;

fn default_max_throttled_pct() -> f64 {
    DEFAULT_MAX_THROTTLED_PCT
}

/// What a gate that is not a hard limit does when it is missed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateLevel {
    #[default]
    Warn,
    Fail,
}

impl Default for Thresholds {
    fn default() -> Self {
        // Our users' own memory targets: < 5 MB/min fine, > 10 MB/min poor; 10 threads or
        // FDs per hour.
        Thresholds {
            warn_growth_bytes_per_min: 5e6,
            max_growth_bytes_per_min: 10e6,
            max_thread_growth_per_min: 10.0 / 60.0,
            max_fd_growth_per_min: 10.0 / 60.0,
            warmup_s: None,
            max_p95_ms: None,
            max_p99_ms: None,
            max_error_rate: None,
            min_rps: None,
            max_throttled_pct: DEFAULT_MAX_THROTTLED_PCT,
            throttled_gate: GateLevel::Warn,
        }
    }
}

/// First line of `samples.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub schema_version: u32,
    pub tool_version: String,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    pub started_unix_s: f64,
    pub host: HostInfo,
    /// soakprof's own command line.
    pub command_line: Vec<String>,
    pub target: TargetInfo,
    pub interval_s: f64,
    pub duration_s: Option<f64>,
    pub backend: Backend,
    /// smaps_rollup (PSS/USS) is read on every n-th sample; it costs time in proportion
    /// to the target's mapped memory. Changes during the run are `smaps_every` events.
    pub smaps_every: u32,
    /// What one smaps_rollup read cost when probed at the start, milliseconds.
    pub smaps_read_ms: Option<f64>,
    /// The detail fields (swap, context switches, I/O bytes, host memory) are read on every
    /// n-th sample (once a second at short intervals); other samples have them `null`.
    #[serde(default = "one")]
    pub detail_every: u32,
    pub limits: Limits,
    pub thresholds: Thresholds,
}

/// What `record` knows of a run as it starts, for its header.
#[derive(Clone, Debug)]
pub struct RunStart {
    pub host: HostInfo,
    pub target: TargetInfo,
    pub interval_s: f64,
    pub duration_s: Option<f64>,
    pub backend: Backend,
    pub limits: Limits,
    pub thresholds: Thresholds,
}

impl Header {
    /// The header of a run starting now, with this program's version and command line.
    /// The read schedules start at every sample; the recording loop fills in what the
    /// first reads cost before the header is written.
    pub fn new(start: RunStart) -> Header {
        let now = std::time::SystemTime::now();
        Header {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: humantime::format_rfc3339_millis(now).to_string(),
            started_unix_s: now
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            host: start.host,
            // Credentials in a URL (`--load-url http://user:pass@host/`) are never written.
            command_line: std::env::args()
                .map(|arg| crate::load::scenario::redact_userinfo(&arg))
                .collect(),
            target: start.target,
            interval_s: start.interval_s,
            duration_s: start.duration_s,
            backend: start.backend,
            smaps_every: 1,
            smaps_read_ms: None,
            detail_every: 1,
            limits: start.limits,
            thresholds: start.thresholds,
        }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C (or SIGTERM) to the profiler.
    Interrupted,
    /// Every target process exited (or its PID was reused).
    TargetExited,
    /// `--fail-fast` found a fail verdict certain.
    FailFast,
    /// `--find-capacity` had its answer before `--duration` ended.
    SearchDone,
}

impl StopReason {
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Duration => "the duration elapsed",
            StopReason::Interrupted => "interrupted (Ctrl-C)",
            StopReason::TargetExited => "the target exited",
            StopReason::FailFast => "--fail-fast found a certain fail",
            StopReason::SearchDone => "the capacity search finished",
        }
    }
}

/// Something that happened during the run, at time `t` (seconds since start).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub t: f64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A target root process exited. `code` is its exit status, `signal` the signal that
    /// killed it; both `None` when soakprof could not see them (not its child, already
    /// reaped). `by_profiler` is true when soakprof itself stopped a target it started.
    TargetExit {
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
        by_profiler: bool,
    },
    /// The PID we followed now belongs to another program.
    PidReused { pid: u32 },
    /// `--follow`: the target, gone (its `target_exit` was logged when it went), was found
    /// again by the same rule. `old_pid` ended with `code` or `signal`, both `None` when
    /// soakprof could not see how (not its child); `new_pid` is followed from `t` on, after
    /// `down_s` seconds without a target.
    Restart {
        old_pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
        new_pid: u32,
        down_s: f64,
    },
    /// A tick was late by `late_s`; `missed_ticks` whole ticks were skipped.
    Gap { late_s: f64, missed_ticks: u64 },
    /// smaps_rollup is now read every `every` samples (it took `read_ms`).
    SmapsEvery { every: u32, read_ms: f64 },
    /// `--fail-fast` stopped the run: a fail verdict is certain, for `reason`.
    FailFast { reason: String },
    /// What sampling has cost soakprof itself so far (its sampling thread's CPU): written
    /// when a window first passes the warning level and at the end; the last one counts.
    ProfilerCpu(crate::analysis::profiler::ProfilerCpu),
    /// The cgroup's OOM-kill count rose by `kills` since the previous sample (to `total`).
    /// `victims` are the processes that were in the cgroup at the previous sample and are
    /// gone now (the kernel does not say whom it killed; empty when none was seen to go).
    OomKill {
        kills: u64,
        total: u64,
        victims: Vec<OomVictim>,
    },
    /// The target cgroup's directory is gone (the container was stopped or removed).
    CgroupGone { path: String },
    /// The run ended; always the last line of a run that was not killed.
    Stop { reason: StopReason },
}

pub use crate::sample::OomVictim;

/// One line of `samples.jsonl`.
// One value at a time, per line read or written; boxing would allocate for every sample.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Sample(Sample),
    Event(Event),
}

fn one() -> u32 {
    1
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// The test kit's header (see `crate::synthetic`).
    pub(crate) fn header() -> super::Header {
        crate::synthetic::header()
    }
}
