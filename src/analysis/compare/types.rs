//! The comparison document (`compare.json`, schema version 1; fields may be added, never
//! renamed) and the judgement of each compared item. Types only.

use serde::{Deserialize, Serialize};

use crate::runlog::TargetInfo;

/// The schema version of `compare.json`.
pub const COMPARE_SCHEMA_VERSION: u32 = 1;

/// How one compared item (or the whole comparison) came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// A significant change in the good direction beyond the item's limit.
    Improved,
    /// No significant change beyond the limit either way.
    Unchanged,
    /// A side lacks the data (the reason says which); never makes the comparison regress.
    NotCompared,
    /// A significant change in the bad direction beyond the limit (or the candidate fails
    /// its own growth thresholds while the baseline did not).
    Regressed,
}

impl Judgement {
    pub fn as_str(self) -> &'static str {
        match self {
            Judgement::Improved => "improved",
            Judgement::Unchanged => "unchanged",
            Judgement::NotCompared => "not_compared",
            Judgement::Regressed => "regressed",
        }
    }
}

/// The comparison's overall outcome: regressed when any item regressed, else improved
/// when any item improved, else unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareVerdict {
    Regressed,
    Unchanged,
    Improved,
}

impl CompareVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareVerdict::Regressed => "regressed",
            CompareVerdict::Unchanged => "unchanged",
            CompareVerdict::Improved => "improved",
        }
    }
}

/// Which run one side of a comparison is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    /// The run directory as given (canonical when it could be resolved).
    pub dir: String,
    pub target: TargetInfo,
    /// Wall-clock start, RFC 3339 UTC, from the run's header.
    pub started_at: String,
    /// Seconds from the first sample to the last.
    pub duration_s: f64,
}

/// One compared metric. Values are in `unit`; `difference` is candidate − baseline and
/// `ratio` candidate / baseline (null when the baseline is 0 or a side is missing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedItem {
    /// Stable across runs: `memory.growth`, `memory.steady`, `memory.peak`,
    /// `threads.growth`, `fds.growth`, `cpu.mean`, `cpu.p95`, `cpu.seconds_per_request`,
    /// `load.p50`, `load.p95`, `load.p99`, `load.error_rate`, `load.throughput`.
    pub id: String,
    /// What a reader calls it: "RSS growth", "steady RSS", "p95 latency".
    pub label: String,
    /// `bytes/min`, `bytes`, `threads/min`, `fds/min`, `cores`, `cpu_s/request`, `ms`,
    /// `fraction`, `rps`.
    pub unit: String,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    pub difference: Option<f64>,
    pub ratio: Option<f64>,
    /// 95% confidence interval of the change, in the same terms as `limit`: of the
    /// difference when the limit is absolute (growth rates, error rate in fraction), of the
    /// relative difference (a fraction, 0.1 = +10%) when the limit is relative. For the
    /// peak, CPU p95, latency and throughput it is of what the reason names (block maxima,
    /// block percentiles, per-interval medians), the estimate being the whole-run figure's.
    pub ci: Option<[f64; 2]>,
    /// The change beyond which a significant change counts (absolute, or relative as a
    /// fraction; see `limit_kind`).
    pub limit: Option<f64>,
    /// `absolute` (in `unit`) or `relative` (a fraction of the baseline).
    #[serde(default)]
    pub limit_kind: Option<LimitKind>,
    pub judgement: Judgement,
    /// One sentence a release manager reads, with the figures.
    pub reason: String,
}

/// Whether an item's limit and CI are in its unit or a fraction of the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Absolute,
    Relative,
}

/// The limits a comparison judges against (`compare` options).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareLimits {
    /// `--max-growth-increase`, bytes per minute of judged memory.
    pub max_growth_increase_bytes_per_min: f64,
    /// `--max-memory-increase`, a fraction (0.10 for 10%), for steady and peak memory.
    pub max_memory_increase: f64,
    /// `--max-p95-increase`, a fraction, for the latency percentiles.
    pub max_p95_increase: f64,
    /// `--max-error-rate-increase`, a fraction (0.005 for 0.5 percentage points).
    pub max_error_rate_increase: f64,
    /// A fall in throughput beyond this fraction of the baseline's regresses.
    #[serde(default = "default_max_throughput_decrease")]
    pub max_throughput_decrease: f64,
    /// An increase in mean or p95 CPU (and CPU per request) beyond this fraction regresses.
    #[serde(default = "default_max_cpu_increase")]
    pub max_cpu_increase: f64,
    /// Latency changes smaller than this (ms) do not count, whatever their share: on a
    /// busy host the scheduler alone moves a p99 by a few ms between two runs of the same
    /// build (measured: 1.9 to 6.2 ms across four identical runs of the fixture server).
    #[serde(default = "default_min_latency_change_ms")]
    pub min_latency_change_ms: f64,
    /// CPU changes smaller than this (cores) do not count, whatever their share.
    #[serde(default = "default_min_cpu_change_cores")]
    pub min_cpu_change_cores: f64,
}

fn default_max_throughput_decrease() -> f64 {
    0.10
}

fn default_max_cpu_increase() -> f64 {
    0.20
}

fn default_min_latency_change_ms() -> f64 {
    5.0
}

fn default_min_cpu_change_cores() -> f64 {
    0.05
}

impl Default for CompareLimits {
    fn default() -> Self {
        CompareLimits {
            max_growth_increase_bytes_per_min: 2e6,
            max_memory_increase: 0.10,
            max_p95_increase: 0.10,
            max_error_rate_increase: 0.005,
            max_throughput_decrease: default_max_throughput_decrease(),
            max_cpu_increase: default_max_cpu_increase(),
            min_latency_change_ms: default_min_latency_change_ms(),
            min_cpu_change_cores: default_min_cpu_change_cores(),
        }
    }
}

/// The comparison of a candidate run with a baseline (`compare.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub verdict: CompareVerdict,
    /// What makes the runs less comparable (interval, duration, load), one line each.
    pub notes: Vec<String>,
    /// True when the notes found the runs not comparable (`--strict` refuses such a pair).
    #[serde(default)]
    pub comparable: bool,
    pub baseline: RunRef,
    pub candidate: RunRef,
    pub limits: CompareLimits,
    pub items: Vec<ComparedItem>,
}

impl Comparison {
    /// The items that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &ComparedItem> {
        self.items
            .iter()
            .filter(|i| i.judgement == Judgement::Regressed)
    }
}
