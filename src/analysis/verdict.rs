//! The verdict document (`verdict.json`, schema version 1) and the findings it is made
//! of. Types only: the judges that fill them live beside this file.

use serde::{Deserialize, Serialize};

use super::load::LoadSummary;
use super::trend::{JudgedMemory, MetricKind};
use crate::runlog::{StopReason, TargetInfo, Thresholds};
use crate::units::format_limit;
use crate::units::short_duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// Trend of one metric. Rates are in the metric's own unit per minute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricTrend {
    /// `bytes` or `count`.
    pub unit: String,
    /// False for metrics that are reported but not judged (VMS, PSS); their verdict is pass.
    pub judged: bool,
    pub slope_per_min: f64,
    /// 95% confidence interval of the slope, corrected for autocorrelation.
    pub slope_ci: [f64; 2],
    /// Theil–Sen slope of the same prepared series (robust to outliers and steps).
    pub robust_slope_per_min: Option<f64>,
    /// Two-sided p-value of the Mann–Kendall test with the Hamed–Rao correction for
    /// autocorrelation, on the prepared series.
    pub trend_p_value: f64,
    pub r_squared: f64,
    /// Effective sample size after the autocorrelation correction.
    pub n_effective: f64,
    /// Seconds excluded at the start as warm-up (0 when none was found).
    pub warmup_s: f64,
    /// When growth began mid-run: seconds from the start to its onset; only the part after
    /// it is judged.
    pub onset_s: Option<f64>,
    /// Period of a GC-like sawtooth, when one was seen; the trend is then fitted on its
    /// lower envelope (the post-collection floor).
    pub cycle_period_s: Option<f64>,
    /// Points the trend was fitted on (envelope or block medians of the samples).
    pub analysed_points: usize,
    /// Fitted value at the first and last analysed sample, for drawing the line.
    pub fit_start: [f64; 2],
    pub fit_end: [f64; 2],
    pub samples: usize,
    pub first: f64,
    pub last: f64,
    pub min: f64,
    pub max: f64,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuSummary {
    pub mean_cores: f64,
    pub p95_cores: f64,
    pub max_cores: f64,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub rss: Option<MetricTrend>,
    pub vms: Option<MetricTrend>,
    pub pss: Option<MetricTrend>,
    pub uss: Option<MetricTrend>,
    pub threads: Option<MetricTrend>,
    pub fds: Option<MetricTrend>,
    pub cpu: Option<CpuSummary>,
    /// The cgroup's memory (a cgroup target, or the cgroup a process lives in): in use,
    /// anon, page cache, working set. Anon is judged for a cgroup target; the others are
    /// reported. Null when no cgroup was read (and absent in older verdicts).
    #[serde(default)]
    pub cgroup_memory: Option<MetricTrend>,
    #[serde(default)]
    pub cgroup_anon: Option<MetricTrend>,
    #[serde(default)]
    pub cgroup_file: Option<MetricTrend>,
    #[serde(default)]
    pub cgroup_working_set: Option<MetricTrend>,
}

impl Metrics {
    /// The trend of the judged memory (RSS, PSS or the cgroup's anon), when one was fitted.
    pub fn judged_memory(&self, memory: JudgedMemory) -> Option<&MetricTrend> {
        self.of(memory.kind())
    }

    /// The trend of one metric, when one was fitted.
    pub fn of(&self, kind: MetricKind) -> Option<&MetricTrend> {
        self.slot(kind).as_ref()
    }

    fn slot(&self, kind: MetricKind) -> &Option<MetricTrend> {
        match kind {
            MetricKind::Rss => &self.rss,
            MetricKind::Vms => &self.vms,
            MetricKind::Pss => &self.pss,
            MetricKind::Uss => &self.uss,
            MetricKind::Threads => &self.threads,
            MetricKind::Fds => &self.fds,
            MetricKind::CgroupMemory => &self.cgroup_memory,
            MetricKind::CgroupAnon => &self.cgroup_anon,
            MetricKind::CgroupFile => &self.cgroup_file,
            MetricKind::CgroupWorkingSet => &self.cgroup_working_set,
        }
    }

    /// Where one metric's trend goes.
    pub fn slot_mut(&mut self, kind: MetricKind) -> &mut Option<MetricTrend> {
        match kind {
            MetricKind::Rss => &mut self.rss,
            MetricKind::Vms => &mut self.vms,
            MetricKind::Pss => &mut self.pss,
            MetricKind::Uss => &mut self.uss,
            MetricKind::Threads => &mut self.threads,
            MetricKind::Fds => &mut self.fds,
            MetricKind::CgroupMemory => &mut self.cgroup_memory,
            MetricKind::CgroupAnon => &mut self.cgroup_anon,
            MetricKind::CgroupFile => &mut self.cgroup_file,
            MetricKind::CgroupWorkingSet => &mut self.cgroup_working_set,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub mem_limit_bytes: Option<u64>,
    pub mem_limit_source: Option<String>,
    pub peak_rss_bytes: Option<u64>,
    /// (limit − peak) / limit, percent.
    pub headroom_pct: Option<f64>,
    /// Median RSS after the RSS warm-up (samples at t ≥ first + `metrics.rss.warmup_s`;
    /// all samples when no trend was fitted): what the target settles at.
    pub steady_rss_bytes: Option<u64>,
    /// (limit − steady) / limit, percent.
    pub steady_headroom_pct: Option<f64>,
    /// The memory the capacity figures (peak, steady, headroom, time to limit, the 90% span)
    /// are of: `rss` for one process, `pss` for several (summed RSS counts shared pages once
    /// per process); see `analysis::memory`.
    #[serde(default)]
    pub judged_memory: JudgedMemory,
    /// Why it is that one, in a sentence.
    #[serde(default)]
    pub judged_memory_reason: String,
    /// Peak of the judged memory, bytes.
    #[serde(default)]
    pub peak_bytes: Option<u64>,
    /// Median of the judged memory after its warm-up, bytes.
    #[serde(default)]
    pub steady_bytes: Option<u64>,
    /// Time from the end of the run until the fitted line of the judged memory reaches the
    /// limit.
    pub time_to_limit_s: Option<f64>,
    /// Longest continuous span with RSS above 90% of the memory limit, seconds (0 when it
    /// never was; null without a limit). See `MEM_ALERT_FRACTION`.
    pub mem_over_90pct_longest_s: Option<f64>,
    /// Where that span began, seconds since the start of the run.
    pub mem_over_90pct_from_s: Option<f64>,
    pub cpu_limit_cores: Option<f64>,
    pub cpu_limit_source: Option<String>,
    /// Share of samples whose CPU use exceeded the limit, percent (the share of time:
    /// ticks are evenly spaced).
    pub over_quota_pct: Option<f64>,
    /// Longest continuous span with CPU above 95% of the CPU limit, seconds (0 when it
    /// never was; null without a limit). See `CPU_ALERT_FRACTION`.
    pub cpu_over_95pct_longest_s: Option<f64>,
    /// Where that span began, seconds since the start of the run.
    pub cpu_over_95pct_from_s: Option<f64>,
    /// The cgroup's figures (a cgroup target, or the cgroup a process lives in): working
    /// set against the limit, throttling, OOM kills, pressure; null when none was read.
    #[serde(default)]
    pub cgroup: Option<super::cgroup::CgroupCapacity>,
}

/// How the run went, as far as the log tells.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub interval_s: f64,
    /// `duration`, `interrupted`, `target_exited`, or `null` when the log has no end
    /// (the profiler was killed).
    pub stop_reason: Option<StopReason>,
    pub skipped_lines: usize,
    pub gaps: usize,
    pub max_procs: Option<u32>,
    /// Samples left out for an impossible time (not finite, negative, beyond ten years,
    /// or before the sample ahead of them).
    #[serde(default)]
    pub rejected_samples: usize,
    /// Values read as missing because no metric can take them (an RSS of 2^64 − 1 B).
    #[serde(default)]
    pub impossible_values: usize,
    /// What sampling cost soakprof itself; null when the log does not say (a log of an
    /// older soakprof, or of one killed before its first figures).
    #[serde(default)]
    pub profiler_cpu: Option<super::profiler::ProfilerCpu>,
}

/// The verdict document (`verdict.json`, schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunVerdict {
    pub schema_version: u32,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub target: TargetInfo,
    pub started_at: String,
    pub duration_s: f64,
    pub samples: usize,
    pub metrics: Metrics,
    pub capacity: Capacity,
    pub thresholds: Thresholds,
    pub run: RunSummary,
    /// What the load driver did and the load gates; null when no load driver ran.
    #[serde(default)]
    pub load: Option<LoadSummary>,
    /// `--follow`: the target's restarts (`null` when it never restarted).
    #[serde(default)]
    pub restarts: Option<super::lives::Restarts>,
    /// `--baseline`: the comparison with the baseline run (`null` without one); a
    /// regression fails the run.
    #[serde(default)]
    pub baseline: Option<super::compare::Comparison>,
    /// `--find-capacity`: the levels tried and the highest that met the gates (`null`
    /// without a search; issue 16).
    #[serde(default)]
    pub capacity_search: Option<super::capsearch::CapacitySearch>,
}

/// What a finding is about; `analyse` uses it to attach notes and to order nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Growth of a judged metric's trend.
    Growth(super::MetricKind),
    /// CPU against its limit.
    Cpu,
    /// Memory against its limit.
    Memory,
    /// The cgroup's own counters: OOM kills, throttling, pressure.
    Cgroup,
    /// How the target or the load command ended.
    Exit,
    /// `--fail-fast` stopped the run.
    FailFast,
    /// The followed PID was taken by another program.
    PidReused,
    /// A load gate or the load driver's errors.
    Load,
    /// Too few samples to judge.
    Samples,
    /// The log itself: no end record, unreadable lines.
    Log,
    /// Why a passing run passed.
    Summary,
}

/// Structured facts a finding carries beyond its text; each also reads as a clause.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// At the fitted rate, the memory limit is reached this long after the end of the run.
    TimeToLimit { limit_bytes: u64, after_s: f64 },
}

impl Note {
    pub fn text(&self) -> String {
        match self {
            Note::TimeToLimit {
                limit_bytes,
                after_s,
            } => format!(
                "at this rate the {} limit is reached in {}",
                format_limit(*limit_bytes),
                short_duration(*after_s)
            ),
        }
    }
}

/// One thing a judge found: its weight in the verdict, what it is about, and the sentence
/// a release manager reads (with its notes, in `reason`).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub verdict: Verdict,
    pub subject: Subject,
    pub text: String,
    pub notes: Vec<Note>,
}

impl Finding {
    pub fn new(verdict: Verdict, subject: Subject, text: impl Into<String>) -> Finding {
        Finding {
            verdict,
            subject,
            text: text.into(),
            notes: Vec::new(),
        }
    }

    /// The line in `reasons`: the text, then each note after a semicolon.
    pub fn reason(&self) -> String {
        let mut line = self.text.clone();
        for note in &self.notes {
            line.push_str("; ");
            line.push_str(&note.text());
        }
        line
    }
}
