//! Pure analysis of a run: trends per metric, CPU, capacity and the overall verdict.
//! No I/O here: input is a `RunData` already read, output a `RunVerdict` (verdict.json).

pub mod load;
pub mod prepare;
pub mod regression;
pub mod robust;
pub mod sequential;

use serde::{Deserialize, Serialize};

use crate::runlog::{EventKind, Limits, RunData, StopReason, TargetInfo, Thresholds};
use crate::sample::Sample;
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, format_limit,
    short_duration, three_figures,
};
pub use load::LoadSummary;
pub use regression::{LinearFit, OnlineSlope, fit_linear};

/// Fewer samples than this and a trend is not judged at all.
pub const MIN_SAMPLES_FOR_TREND: usize = 10;

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

/// What analysis is asked to judge against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnalysisConfig {
    pub thresholds: Thresholds,
    pub limits: Limits,
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
    /// Time from the end of the run until the fitted RSS line reaches the limit.
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
}

/// Which field of a sample a memory or count metric reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Rss,
    Vms,
    Pss,
    Uss,
    Threads,
    Fds,
}

impl MetricKind {
    pub fn label(self) -> &'static str {
        match self {
            MetricKind::Rss => "RSS",
            MetricKind::Vms => "VMS",
            MetricKind::Pss => "PSS",
            MetricKind::Uss => "USS",
            MetricKind::Threads => "Threads",
            MetricKind::Fds => "FDs",
        }
    }

    pub fn value(self, s: &Sample) -> Option<f64> {
        let v = match self {
            MetricKind::Rss => s.rss,
            MetricKind::Vms => s.vms,
            MetricKind::Pss => s.pss,
            MetricKind::Uss => s.uss,
            MetricKind::Threads => s.threads,
            MetricKind::Fds => s.fds,
        };
        v.map(|x| x as f64)
    }

    fn is_bytes(self) -> bool {
        !matches!(self, MetricKind::Threads | MetricKind::Fds)
    }

    fn format_rate(self, per_min: f64) -> String {
        if self.is_bytes() {
            format_byte_rate(per_min)
        } else {
            format_count_rate(per_min)
        }
    }

    /// (warn, fail) thresholds per minute, for the metrics that are judged. VMS is
    /// reported but not judged: address-space reservations (arenas, thread stacks) grow
    /// without costing memory. Nor is PSS: it moves when *other* processes map or unmap
    /// pages the target shares with them; USS (private memory) is the leak signal.
    fn thresholds(self, th: &Thresholds) -> Option<(f64, f64)> {
        match self {
            MetricKind::Rss | MetricKind::Uss => {
                Some((th.warn_growth_bytes_per_min, th.max_growth_bytes_per_min))
            }
            MetricKind::Threads => {
                Some((th.max_thread_growth_per_min, th.max_thread_growth_per_min))
            }
            MetricKind::Fds => Some((th.max_fd_growth_per_min, th.max_fd_growth_per_min)),
            MetricKind::Vms | MetricKind::Pss => None,
        }
    }

    /// Growth over the whole analysed span below which a trend is measurement noise, not a
    /// finding: 1 MB of memory (about 250 pages), or 2 threads / FDs. Without it a
    /// one-second run turns a few pages of jitter into "MB per minute".
    fn min_total_growth(self) -> f64 {
        if self.is_bytes() { 1e6 } else { 2.0 }
    }
}

/// (t, value) pairs of one metric, skipping samples where it is missing.
pub fn series(samples: &[Sample], kind: MetricKind) -> (Vec<f64>, Vec<f64>) {
    samples
        .iter()
        .filter_map(|s| kind.value(s).map(|v| (s.t, v)))
        .unzip()
}

/// A metric's series made ready for trend tests: the GC sawtooth reduced to its lower
/// envelope (or a long series to block medians), the warm-up cut off, and, when growth
/// began later in the run, only the part after its onset kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    pub t: Vec<f64>,
    pub y: Vec<f64>,
    pub cycle_period_s: Option<f64>,
    /// Whole GC cycles seen (0 without a sawtooth).
    pub cycles: usize,
    /// Seconds from the first sample to the end of the warm-up (0 when none).
    pub warmup_s: f64,
    /// Seconds from the first sample to the onset of growth that began mid-run.
    pub onset_s: Option<f64>,
}

/// How the warm-up is found.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Warmup {
    /// Where growth settles (a change point in the slope, within the first half).
    #[default]
    Auto,
    /// A fixed span from the start, in seconds.
    Fixed(f64),
}

/// Points the trend tests see at most; longer series are reduced to block medians.
pub const MAX_TREND_POINTS: usize = 2000;

/// Growth that began mid-run: the mirror image of a warm-up (flat, then rising), found
/// with the same change-point rule on the series reversed in time and negated.
fn detect_onset(t: &[f64], y: &[f64]) -> Option<f64> {
    let (first, last) = (*t.first()?, *t.last()?);
    let t_rev: Vec<f64> = t.iter().rev().map(|x| last - x).collect();
    let y_rev: Vec<f64> = y.iter().rev().map(|v| -v).collect();
    // Onsets in the first 10% of the run are indistinguishable from a leak from the start.
    let end_rev = prepare::detect_warmup(&t_rev, &y_rev, 0.9)?;
    let onset = last - end_rev;
    (onset > first + 0.1 * (last - first)).then_some(onset)
}

/// Prepare a series for the trend tests (see `Prepared`).
pub fn prepare_series(t: &[f64], y: &[f64], warmup: Warmup) -> Prepared {
    let cycle_period_s = prepare::cycle_period(t, y);
    let env = prepare::lower_envelope(t, y, cycle_period_s, MAX_TREND_POINTS);
    let first_t = t.first().copied().unwrap_or(0.0);
    let warmup_end = match warmup {
        Warmup::Fixed(s) => first_t + s,
        Warmup::Auto => prepare::detect_warmup(&env.t, &env.y, 0.5).unwrap_or(first_t),
    };
    let keep = |from: f64| -> (Vec<f64>, Vec<f64>) {
        env.t
            .iter()
            .zip(&env.y)
            .filter(|(t, _)| **t >= from)
            .map(|(t, y)| (*t, *y))
            .unzip()
    };
    let (mut pt, mut py) = keep(warmup_end);
    let mut onset_s = None;
    if let Some(onset) = detect_onset(&pt, &py) {
        let (ot, oy) = keep(onset);
        // Judge the part after the onset only when it is enough to fit.
        if ot.len() >= MIN_ENVELOPE_POINTS {
            onset_s = Some(onset - first_t);
            (pt, py) = (ot, oy);
        }
    }
    Prepared {
        t: pt,
        y: py,
        cycle_period_s,
        cycles: env.cycles,
        warmup_s: warmup_end - first_t,
        onset_s,
    }
}

/// Fewest prepared points a trend is fitted on.
pub const MIN_ENVELOPE_POINTS: usize = 6;
/// Effective independent points (after the autocorrelation correction) and GC cycles a run
/// needs before a point estimate above the fail threshold is enough to fail it.
pub const SURE_N_EFFECTIVE: f64 = 10.0;
pub const SURE_CYCLES: usize = 4;
/// Significance level of the Mann–Kendall trend test.
pub const TREND_ALPHA: f64 = 0.05;

/// Rank-test level for the gross-growth rule (see `quarter_growth_per_s`).
pub const GROSS_GROWTH_ALPHA: f64 = 0.01;
/// Points needed before quarters are compared (five or more per quarter).
const QUARTER_MIN_POINTS: usize = 20;

/// Gross growth: every value of the last quarter of the span lies above every value of
/// the first, and the rise is not slowing down (the last half rises at least half as much
/// as the first half did, which a warm-up still settling at the end of a short run does
/// not). Returns the recent rate, between the medians of the last two quarters, per
/// second. `None` when the quarters overlap (noise, a sawtooth, a plateau), the rise
/// decelerates, or there are too few points.
fn quarter_growth_per_s(t: &[f64], y: &[f64]) -> Option<f64> {
    if t.len() < QUARTER_MIN_POINTS {
        return None;
    }
    let (start, end) = (t[0], t[t.len() - 1]);
    let width = (end - start) / 4.0;
    let quarter = |k: f64| -> Vec<usize> {
        let (lo, hi) = (start + k * width, start + (k + 1.0) * width);
        (0..t.len()).filter(|&i| t[i] >= lo && t[i] <= hi).collect()
    };
    let quarters = [quarter(0.0), quarter(1.0), quarter(2.0), quarter(3.0)];
    if quarters.iter().any(|q| q.len() < 3) {
        return None;
    }
    let max_first = quarters[0]
        .iter()
        .map(|&i| y[i])
        .fold(f64::NEG_INFINITY, f64::max);
    let min_last = quarters[3]
        .iter()
        .map(|&i| y[i])
        .fold(f64::INFINITY, f64::min);
    if min_last <= max_first {
        return None;
    }
    let median = |idx: &[usize], v: &[f64]| {
        let mut values: Vec<f64> = idx.iter().map(|&i| v[i]).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let [m1, m2, m3, m4] = [0, 1, 2, 3].map(|k| median(&quarters[k], y));
    let (early_rise, late_rise) = (m2 - m1, m4 - m3);
    if late_rise <= 0.0 || late_rise < 0.5 * early_rise {
        return None;
    }
    let dt = median(&quarters[3], t) - median(&quarters[2], t);
    (dt > 0.0).then(|| late_rise / dt)
}

/// Fit and judge one metric with automatic warm-up detection.
pub fn analyse_metric(
    samples: &[Sample],
    kind: MetricKind,
    thresholds: &Thresholds,
    reasons: &mut Vec<String>,
) -> Option<MetricTrend> {
    analyse_metric_with(samples, kind, thresholds, Warmup::Auto, reasons)
}

/// Fit and judge one metric. `None` when it has too few readable samples.
pub fn analyse_metric_with(
    samples: &[Sample],
    kind: MetricKind,
    thresholds: &Thresholds,
    warmup: Warmup,
    reasons: &mut Vec<String>,
) -> Option<MetricTrend> {
    let (t, y) = series(samples, kind);
    if t.len() < MIN_SAMPLES_FOR_TREND {
        return None;
    }
    let prepared = prepare_series(&t, &y, warmup);
    let (pt, py) = if prepared.t.len() >= MIN_ENVELOPE_POINTS {
        (&prepared.t[..], &prepared.y[..])
    } else {
        // Too little left after the warm-up (or too few cycles): fit what there is.
        (&t[..], &y[..])
    };
    let fit = fit_linear(pt, py)?;
    let robust = robust::theil_sen(pt, py);
    let trend = robust::mann_kendall(py);
    let per_min = |x: f64| x * 60.0;
    let slope = per_min(fit.slope_per_s);
    let ci = [
        per_min(fit.slope_ci_per_s[0]),
        per_min(fit.slope_ci_per_s[1]),
    ];
    let robust_slope = robust.as_ref().map(|r| per_min(r.slope));
    let p_value = trend.as_ref().map_or(1.0, |m| m.p_value);
    let span_s = pt[pt.len() - 1] - pt[0];
    let total_growth = fit.slope_per_s * span_s;
    // Growth is established when the rank test (autocorrelation-corrected) and the
    // regression interval agree that there is an upward trend at all.
    // A leak whose rate follows the load (stages, bursts) is a curve, not a line: its
    // residuals are so autocorrelated that the interval spans zero on a few effective
    // points. The last quarter lying wholly above the first is then evidence enough.
    let separated = if prepared.cycle_period_s.is_none() {
        quarter_growth_per_s(pt, py).map(per_min)
    } else {
        None
    };
    let significant = p_value < TREND_ALPHA && (ci[0] > 0.0 || separated.is_some());
    let sure = fit.n_eff >= SURE_N_EFFECTIVE
        && (prepared.cycle_period_s.is_none() || prepared.cycles >= SURE_CYCLES);
    let robust_above = |limit: f64| robust_slope.is_none_or(|r| r > limit);
    let verdict = match kind.thresholds(thresholds) {
        None => Verdict::Pass,
        Some(_) if total_growth < kind.min_total_growth() || !significant => Verdict::Pass,
        // Proof: even the low end of the interval is above the fail threshold.
        Some((_, fail)) if ci[0] > fail => Verdict::Fail,
        // Enough independent data, and both estimates above the threshold.
        Some((_, fail)) if sure && slope > fail && robust_above(fail) => Verdict::Fail,
        // Gross growth: quarter to quarter without overlap, a strong rank trend, and all
        // three rates above the threshold.
        Some((_, fail))
            if separated.is_some_and(|r| r > fail)
                && p_value < GROSS_GROWTH_ALPHA
                && slope > fail
                && robust_above(fail) =>
        {
            Verdict::Fail
        }
        Some((warn, _)) if slope > warn && robust_above(warn) => Verdict::Warn,
        Some(_) => Verdict::Pass,
    };
    if verdict != Verdict::Pass {
        reasons.push(growth_reason(
            kind, thresholds, verdict, slope, ci, span_s, &prepared, sure,
        ));
    }
    let (first_t, last_t) = (pt[0], pt[pt.len() - 1]);
    let min = y.iter().copied().fold(f64::INFINITY, f64::min);
    let max = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(MetricTrend {
        unit: if kind.is_bytes() { "bytes" } else { "count" }.to_string(),
        judged: kind.thresholds(thresholds).is_some(),
        slope_per_min: slope,
        slope_ci: ci,
        robust_slope_per_min: robust_slope,
        trend_p_value: p_value,
        r_squared: fit.r_squared,
        n_effective: fit.n_eff,
        warmup_s: prepared.warmup_s,
        onset_s: prepared.onset_s,
        cycle_period_s: prepared.cycle_period_s,
        analysed_points: pt.len(),
        fit_start: [first_t, fit.value_at(first_t)],
        fit_end: [last_t, fit.value_at(last_t)],
        samples: t.len(),
        first: y[0],
        last: y[y.len() - 1],
        min,
        max,
        verdict,
    })
}

/// "RSS grows 12.4 MB/min (95% CI 11.8 to 13.0 MB/min) over 40 m after a 4 m warm-up; fail
/// threshold 10.0 MB/min".
#[allow(clippy::too_many_arguments)]
fn growth_reason(
    kind: MetricKind,
    thresholds: &Thresholds,
    verdict: Verdict,
    slope: f64,
    ci: [f64; 2],
    span_s: f64,
    prepared: &Prepared,
    sure: bool,
) -> String {
    let (warn_at, fail_at) = kind.thresholds(thresholds).unwrap_or_default();
    let mut context = String::new();
    if let Some(period) = prepared.cycle_period_s {
        context.push_str(&format!(
            ", fitted on the floor of a {} GC cycle",
            format_duration_s(period)
        ));
    }
    if let Some(onset) = prepared.onset_s {
        context.push_str(&format!(
            ", growth starting at {}",
            format_duration_s(onset)
        ));
    } else if prepared.warmup_s > 0.0 {
        context.push_str(&format!(
            " after a {} warm-up",
            format_duration_s(prepared.warmup_s)
        ));
    }
    let threshold = if verdict == Verdict::Fail {
        format!("fail threshold {}", kind.format_rate(fail_at))
    } else if slope > fail_at && !sure {
        format!(
            "above the fail threshold {} but too little data to be sure",
            kind.format_rate(fail_at)
        )
    } else {
        format!(
            "warn threshold {}, fail threshold {}",
            kind.format_rate(warn_at),
            kind.format_rate(fail_at)
        )
    };
    format!(
        "{} grows {} (95% CI {} to {}) over {}{context}; {threshold}",
        kind.label(),
        kind.format_rate(slope),
        kind.format_rate(ci[0]),
        kind.format_rate(ci[1]),
        format_duration_s(span_s),
    )
}

/// The `q`-quantile (0..=1) of values, by nearest rank on a sorted copy.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Our users' alert rules, reproduced as sustained-threshold checks: RSS above 90% of the
/// memory limit for 5 minutes fails the run; CPU above 95% of the CPU limit for 3 minutes
/// warns. The spans are the rules' own (wall clock by definition, like a Prometheus
/// `for: 5m`), not tuning knobs: they do not scale with the run length or the interval,
/// so a run shorter than the span can never trip them.
pub const MEM_ALERT_FRACTION: f64 = 0.90;
/// See `MEM_ALERT_FRACTION`.
pub const MEM_ALERT_FOR_S: f64 = 5.0 * 60.0;
/// See `MEM_ALERT_FRACTION`.
pub const CPU_ALERT_FRACTION: f64 = 0.95;
/// See `MEM_ALERT_FRACTION`.
pub const CPU_ALERT_FOR_S: f64 = 3.0 * 60.0;
/// A gap between two samples longer than this many sampling intervals (the median spacing
/// of the samples), and longer than `SPAN_BREAK_MIN_S`, breaks a sustained span: the value
/// was not seen in between, so it is not claimed to have stayed over. The floor keeps a
/// scheduler hiccup at a 10 ms interval from breaking a five-minute span.
pub const SPAN_BREAK_INTERVALS: f64 = 3.0;
/// See `SPAN_BREAK_INTERVALS`.
pub const SPAN_BREAK_MIN_S: f64 = 1.0;
/// A non-pass RSS reason mentions the projected time to the memory limit when it is
/// shorter than this many run lengths, or shorter than `TIME_TO_LIMIT_HORIZON_S`
/// (whichever is longer): near enough to act on, and not a wild extrapolation.
pub const TIME_TO_LIMIT_RUN_MULTIPLE: f64 = 10.0;
/// See `TIME_TO_LIMIT_RUN_MULTIPLE`.
pub const TIME_TO_LIMIT_HORIZON_S: f64 = 24.0 * 3600.0;

/// A continuous span where a sustained-threshold condition held.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    /// Sample time of its first sample, seconds since the start of the run.
    from_s: f64,
    length_s: f64,
}

/// Longest span of consecutive (t, over) points where `over` held, measured from its first
/// to its last sample time: like an alert rule's `for:`, the condition was seen true at
/// every sample from the first to the last. A point with `over` false ends a span, and so
/// does a gap between two points longer than `max_gap_s` (nothing was seen in between).
/// `None` when the condition never held.
fn longest_span(points: impl IntoIterator<Item = (f64, bool)>, max_gap_s: f64) -> Option<Span> {
    let mut best: Option<Span> = None;
    let mut current: Option<Span> = None;
    let mut prev_t = f64::NEG_INFINITY;
    for (t, over) in points {
        let contiguous = t - prev_t <= max_gap_s;
        prev_t = t;
        current = match (over, current) {
            (false, _) => None,
            (true, Some(span)) if contiguous => Some(Span {
                length_s: t - span.from_s,
                ..span
            }),
            (true, _) => Some(Span {
                from_s: t,
                length_s: 0.0,
            }),
        };
        if let Some(span) = current
            && best.is_none_or(|b| span.length_s > b.length_s)
        {
            best = Some(span);
        }
    }
    best
}

/// Longest gap between samples that does not break a sustained span (`SPAN_BREAK_INTERVALS`).
fn span_break_s(samples: &[Sample]) -> f64 {
    let steps: Vec<f64> = samples
        .windows(2)
        .map(|w| w[1].t - w[0].t)
        .filter(|d| *d > 0.0)
        .collect();
    let interval = median(&steps).unwrap_or(0.0);
    (SPAN_BREAK_INTERVALS * interval).max(SPAN_BREAK_MIN_S)
}

/// Median (mean of the middle two for an even count); `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// Longest span with CPU above `CPU_ALERT_FRACTION` of `limit` cores.
fn cpu_over_span(samples: &[Sample], limit: f64) -> Option<Span> {
    let level = CPU_ALERT_FRACTION * limit;
    longest_span(
        samples
            .iter()
            .filter_map(|s| s.cpu.map(|c| (s.t, c > level))),
        span_break_s(samples),
    )
}

/// Longest span with RSS above `MEM_ALERT_FRACTION` of `limit` bytes.
fn mem_over_span(samples: &[Sample], limit: u64) -> Option<Span> {
    let level = MEM_ALERT_FRACTION * limit as f64;
    longest_span(
        samples
            .iter()
            .filter_map(|s| s.rss.map(|r| (s.t, r as f64 > level))),
        span_break_s(samples),
    )
}

/// "RSS stayed above 90% of the 512 MiB limit for 6 m 10 s (from 12 m); alert rule: 5 min".
fn sustained_reason(
    what: &str,
    fraction: f64,
    limit: &str,
    span: Span,
    rule_s: f64,
    run_start: f64,
) -> String {
    let from = if span.from_s <= run_start {
        "from the start".to_string()
    } else {
        format!("from {}", short_duration(span.from_s))
    };
    format!(
        "{what} stayed above {:.0}% of the {limit} limit for {} ({from}); alert rule: {} min",
        fraction * 100.0,
        format_duration_s(span.length_s),
        rule_s / 60.0
    )
}

fn analyse_cpu(
    samples: &[Sample],
    limits: &Limits,
    reasons: &mut Vec<String>,
) -> Option<CpuSummary> {
    let cores: Vec<f64> = samples.iter().filter_map(|s| s.cpu).collect();
    if cores.is_empty() {
        return None;
    }
    let mean_cores = cores.iter().sum::<f64>() / cores.len() as f64;
    let mut verdict = Verdict::Pass;
    if let Some(limit) = limits.cpu_limit_cores {
        if mean_cores > limit {
            verdict = Verdict::Warn;
            reasons.push(format!(
                "CPU averages {} cores, above the {} core limit: the target would be throttled",
                three_figures(mean_cores),
                three_figures(limit)
            ));
        }
        if let Some(span) = cpu_over_span(samples, limit)
            && span.length_s >= CPU_ALERT_FOR_S
        {
            verdict = Verdict::Warn;
            let run_start = samples.first().map_or(0.0, |s| s.t);
            reasons.push(sustained_reason(
                "CPU",
                CPU_ALERT_FRACTION,
                &format!("{} core", three_figures(limit)),
                span,
                CPU_ALERT_FOR_S,
                run_start,
            ));
        }
    }
    Some(CpuSummary {
        mean_cores,
        p95_cores: quantile(&cores, 0.95),
        max_cores: cores.iter().copied().fold(0.0, f64::max),
        verdict,
    })
}

fn analyse_capacity(
    samples: &[Sample],
    rss: Option<&MetricTrend>,
    limits: &Limits,
    verdict: &mut Verdict,
    reasons: &mut Vec<String>,
) -> Capacity {
    let (rss_t, rss_y) = series(samples, MetricKind::Rss);
    let peak_rss_bytes = samples.iter().filter_map(|s| s.rss).max();
    // Steady memory: the median after the warm-up the RSS trend found (none without a trend).
    let steady_rss_bytes = rss_t.first().and_then(|&first_t| {
        let from = first_t + rss.map_or(0.0, |r| r.warmup_s);
        let after: Vec<f64> = rss_t
            .iter()
            .zip(&rss_y)
            .filter(|(t, _)| **t >= from)
            .map(|(_, y)| *y)
            .collect();
        median(if after.is_empty() { &rss_y } else { &after }).map(|m| m.round() as u64)
    });
    let mut capacity = Capacity {
        mem_limit_bytes: limits.mem_limit_bytes,
        mem_limit_source: limits.mem_limit_source.clone(),
        peak_rss_bytes,
        steady_rss_bytes,
        cpu_limit_cores: limits.cpu_limit_cores,
        cpu_limit_source: limits.cpu_limit_source.clone(),
        ..Capacity::default()
    };
    let run_start = samples.first().map_or(0.0, |s| s.t);
    let run_s = samples.last().map_or(0.0, |s| s.t) - run_start;
    if let (Some(limit), Some(peak)) = (limits.mem_limit_bytes, peak_rss_bytes) {
        let limit_f = limit as f64;
        let headroom = |bytes: u64| (limit_f - bytes as f64) / limit_f * 100.0;
        capacity.headroom_pct = Some(headroom(peak));
        capacity.steady_headroom_pct = steady_rss_bytes.map(headroom);
        if peak > limit {
            *verdict = Verdict::Fail;
            reasons.push(format!(
                "peak RSS {} is above the memory limit {}",
                format_bytes(peak as f64),
                format_limit(limit)
            ));
        }
        let span = mem_over_span(samples, limit);
        capacity.mem_over_90pct_longest_s = Some(span.map_or(0.0, |s| s.length_s));
        capacity.mem_over_90pct_from_s = span.map(|s| s.from_s);
        if let Some(span) = span.filter(|s| s.length_s >= MEM_ALERT_FOR_S) {
            *verdict = Verdict::Fail;
            reasons.push(sustained_reason(
                "RSS",
                MEM_ALERT_FRACTION,
                &format_limit(limit),
                span,
                MEM_ALERT_FOR_S,
                run_start,
            ));
        }
        // The projection uses the least-squares line as fitted, slope and end point
        // together: both describe the analysed span (after the warm-up or from the onset,
        // on the GC floor when there is a sawtooth), which is what the RSS verdict judged.
        // Putting the Theil–Sen slope through the least-squares end point would draw a
        // line nobody fitted. On a sawtooth the line is the floor, so the peaks reach the
        // limit somewhat sooner. The line is extended from its last analysed point to the
        // end of the run before measuring what is left.
        if let (Some(trend), Some(&last_t)) = (rss.filter(|r| r.slope_per_min > 0.0), rss_t.last())
        {
            let per_s = trend.slope_per_min / 60.0;
            let at_end = trend.fit_end[1] + per_s * (last_t - trend.fit_end[0]);
            let ttl = ((limit_f - at_end) / per_s).max(0.0);
            capacity.time_to_limit_s = Some(ttl);
            let horizon = (TIME_TO_LIMIT_RUN_MULTIPLE * run_s).max(TIME_TO_LIMIT_HORIZON_S);
            if trend.verdict != Verdict::Pass && ttl > 0.0 && ttl < horizon {
                let note = format!(
                    "at this rate the {} limit is reached in {}",
                    format_limit(limit),
                    short_duration(ttl)
                );
                // Said in the RSS growth reason when there is one.
                let prefix = format!("{} grows ", MetricKind::Rss.label());
                match reasons.iter_mut().find(|r| r.starts_with(&prefix)) {
                    Some(reason) => {
                        reason.push_str("; ");
                        reason.push_str(&note);
                    }
                    None => reasons.push(format!("RSS: {note}")),
                }
            }
        }
    }
    if let Some(limit) = limits.cpu_limit_cores {
        let cores: Vec<f64> = samples.iter().filter_map(|s| s.cpu).collect();
        if !cores.is_empty() {
            let over = cores.iter().filter(|&&c| c > limit).count();
            capacity.over_quota_pct = Some(over as f64 / cores.len() as f64 * 100.0);
            let span = cpu_over_span(samples, limit);
            capacity.cpu_over_95pct_longest_s = Some(span.map_or(0.0, |s| s.length_s));
            capacity.cpu_over_95pct_from_s = span.map(|s| s.from_s);
        }
    }
    capacity
}

/// Reasons and verdict from how the target ended.
fn judge_exits(run: &RunData, verdict: &mut Verdict, reasons: &mut Vec<String>) {
    for event in &run.events {
        match &event.kind {
            EventKind::TargetExit {
                by_profiler: true, ..
            } => {}
            EventKind::TargetExit {
                pid, code, signal, ..
            } => {
                let at = format_duration_s(event.t);
                match (code, signal) {
                    (_, Some(sig)) => {
                        *verdict = Verdict::Fail;
                        reasons.push(format!(
                            "target (pid {pid}) was killed by signal {sig} ({}) after {at}",
                            signal_name(*sig)
                        ));
                    }
                    (Some(0), None) => {
                        reasons.push(format!(
                            "target (pid {pid}) exited with status 0 after {at}"
                        ));
                    }
                    (Some(code), None) => {
                        *verdict = Verdict::Fail;
                        reasons.push(format!(
                            "target (pid {pid}) exited with status {code} after {at}"
                        ));
                    }
                    (None, None) => {
                        *verdict = (*verdict).max(Verdict::Warn);
                        reasons.push(format!(
                            "target (pid {pid}) exited after {at}; its exit status is unknown (not a child of soakprof)"
                        ));
                    }
                }
            }
            EventKind::FailFast { reason } => {
                *verdict = Verdict::Fail;
                reasons.push(format!(
                    "stopped early at {} by --fail-fast: {reason}",
                    format_duration_s(event.t)
                ));
            }
            EventKind::PidReused { pid } => {
                *verdict = (*verdict).max(Verdict::Warn);
                reasons.push(format!(
                    "target pid {pid} was reused by another program at {}; sampling stopped there",
                    format_duration_s(event.t)
                ));
            }
            _ => {}
        }
    }
}

/// Conventional name of a signal number, for reasons people read.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// Analyse a whole run.
pub fn analyse(run: &RunData, config: &AnalysisConfig) -> RunVerdict {
    let samples = &run.samples;
    let mut reasons = Vec::new();
    let th = &config.thresholds;
    let warmup = sequential::warmup_setting(th);
    let metrics = Metrics {
        rss: analyse_metric_with(samples, MetricKind::Rss, th, warmup, &mut reasons),
        vms: analyse_metric_with(samples, MetricKind::Vms, th, warmup, &mut reasons),
        pss: analyse_metric_with(samples, MetricKind::Pss, th, warmup, &mut reasons),
        uss: analyse_metric_with(samples, MetricKind::Uss, th, warmup, &mut reasons),
        threads: analyse_metric_with(samples, MetricKind::Threads, th, warmup, &mut reasons),
        fds: analyse_metric_with(samples, MetricKind::Fds, th, warmup, &mut reasons),
        cpu: analyse_cpu(samples, &config.limits, &mut reasons),
    };
    let mut verdict = [&metrics.rss, &metrics.uss, &metrics.threads, &metrics.fds]
        .iter()
        .filter_map(|m| m.as_ref().map(|m| m.verdict))
        .chain(metrics.cpu.as_ref().map(|c| c.verdict))
        .max()
        .unwrap_or(Verdict::Pass);
    let capacity = analyse_capacity(
        samples,
        metrics.rss.as_ref(),
        &config.limits,
        &mut verdict,
        &mut reasons,
    );
    judge_exits(run, &mut verdict, &mut reasons);
    let load = run.load.as_ref().map(|l| {
        let summary = load::analyse_load(l, th, &mut reasons);
        verdict = verdict.max(summary.verdict);
        summary
    });

    if samples.len() < MIN_SAMPLES_FOR_TREND {
        verdict = verdict.max(Verdict::Warn);
        reasons.push(format!(
            "only {} samples: too few to judge growth (at least {MIN_SAMPLES_FOR_TREND} needed)",
            samples.len()
        ));
    }
    if run.stop_reason.is_none() {
        reasons.push(
            "the log has no end record: the profiler was killed; analysed what was written"
                .to_string(),
        );
    }
    if run.skipped_lines > 0 {
        reasons.push(format!(
            "{} unreadable line(s) in the log were skipped",
            run.skipped_lines
        ));
    }
    if verdict == Verdict::Pass
        && reasons.is_empty()
        && let Some(rss) = &metrics.rss
    {
        // Say why it passed in the terms the verdict used: no established growth, or
        // growth below the warning level.
        let estimate = format!(
            "{} (95% CI {} to {}, robust {}, trend p = {:.2})",
            format_byte_rate(rss.slope_per_min),
            format_byte_rate(rss.slope_ci[0]),
            format_byte_rate(rss.slope_ci[1]),
            rss.robust_slope_per_min
                .map_or_else(|| "n/a".to_string(), format_byte_rate),
            rss.trend_p_value
        );
        if rss.slope_per_min <= th.warn_growth_bytes_per_min {
            reasons.push(format!(
                "RSS trend {estimate} is within the warn threshold {}",
                format_byte_rate(th.warn_growth_bytes_per_min)
            ));
        } else {
            reasons.push(format!(
                "no established RSS growth: trend {estimate} is not significant"
            ));
        }
    }
    let gaps = run
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Gap { .. }))
        .count();
    let duration_s = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => b.t - a.t,
        _ => 0.0,
    };
    RunVerdict {
        schema_version: 1,
        verdict,
        reasons,
        target: run.header.target.clone(),
        started_at: run.header.started_at.clone(),
        duration_s,
        samples: samples.len(),
        metrics,
        capacity,
        thresholds: th.clone(),
        run: RunSummary {
            interval_s: run.header.interval_s,
            stop_reason: run.stop_reason,
            skipped_lines: run.skipped_lines,
            gaps,
            max_procs: samples.iter().filter_map(|s| s.procs).max(),
        },
        load,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::{Event, Header, HostInfo};
    use crate::sample::Backend;

    fn run_with(samples: Vec<Sample>, events: Vec<Event>) -> RunData {
        RunData {
            header: Header {
                schema_version: 1,
                tool_version: "test".into(),
                started_at: "2026-11-23T00:00:00Z".into(),
                started_unix_s: 0.0,
                host: HostInfo::default(),
                command_line: vec![],
                target: TargetInfo::default(),
                interval_s: 1.0,
                duration_s: None,
                backend: Backend::Linux,
                smaps_every: 1,
                smaps_read_ms: None,
                detail_every: 1,
                limits: Limits::default(),
                thresholds: Thresholds::default(),
            },
            samples,
            events,
            skipped_lines: 0,
            stop_reason: Some(StopReason::Duration),
            load: None,
        }
    }

    /// RSS = base + rate·t + a deterministic wobble, 1 Hz.
    fn linear_samples(n: usize, bytes_per_min: f64) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let t = i as f64;
                let wobble = ((i * 7919) % 13) as f64 * 50_000.0;
                Sample {
                    t,
                    rss: Some((100e6 + bytes_per_min / 60.0 * t + wobble) as u64),
                    threads: Some(8),
                    fds: Some(12),
                    cpu: Some(0.25),
                    ..Sample::default()
                }
            })
            .collect()
    }

    #[test]
    fn load_gates_join_the_verdict() {
        use crate::runlog::load::{
            ErrorCounts, LoadInterval, LoadRun, LoadTotals, new_latency_histogram,
        };
        let mut latency = new_latency_histogram().unwrap();
        latency.record_n(800_000, 5000).unwrap(); // 800 ms
        let load = LoadRun {
            start: None,
            intervals: (1..=300)
                .map(|i| LoadInterval {
                    t: i as f64,
                    dt_s: 1.0,
                    requests: 17,
                    rps: 17.0,
                    ..LoadInterval::default()
                })
                .collect(),
            stages: vec![],
            external: None,
            end_in_flight: Some(0),
            total: LoadTotals {
                requests: 5000,
                errors: ErrorCounts::default(),
                latency: Some(latency),
            },
            by_name: Default::default(),
            skipped_lines: 0,
        };
        let mut run = run_with(linear_samples(300, 0.0), vec![]);
        run.load = Some(load);
        let mut config = AnalysisConfig::default();
        let v = analyse(&run, &config);
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
        let summary = v.load.as_ref().unwrap();
        assert_eq!(summary.requests, 5000);
        assert!(summary.gates.is_empty());

        config.thresholds.max_p95_ms = Some(500.0);
        let v = analyse(&run, &config);
        assert_eq!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
        assert!(
            v.reasons
                .iter()
                .any(|r| r == "load gate: p95 latency 800 ms is above --max-p95 500 ms"),
            "{:?}",
            v.reasons
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["load"]["gates"][0]["passed"], false);
        assert_eq!(json["load"]["gates"][0]["limit"], 500.0);

        // No load driver: `load` is null, and older verdicts without the field still read.
        let plain = analyse(&run_with(linear_samples(300, 0.0), vec![]), &config);
        assert_eq!(plain.verdict, Verdict::Pass, "{:?}", plain.reasons);
        let mut json = serde_json::to_value(&plain).unwrap();
        assert!(json["load"].is_null());
        json.as_object_mut().unwrap().remove("load");
        let old: RunVerdict = serde_json::from_value(json).unwrap();
        assert_eq!(old.load, None);
    }

    /// A leak whose rate follows load stages (1, then 4, then 1 MB/s over 40 s at 5 Hz):
    /// a curve whose residuals leave the interval spanning zero on 3 effective points.
    #[test]
    fn a_leak_that_follows_load_stages_fails() {
        let samples: Vec<Sample> = (0..200)
            .map(|i| {
                let t = i as f64 * 0.2;
                let mb = match t {
                    t if t < 15.0 => t,
                    t if t < 25.0 => 15.0 + 4.0 * (t - 15.0),
                    t => 55.0 + (t - 25.0),
                };
                let wobble = ((i * 7919) % 13) as f64 * 20_000.0;
                Sample {
                    t,
                    rss: Some((20e6 + mb * 1e6 + wobble) as u64),
                    threads: Some(8),
                    fds: Some(12),
                    ..Sample::default()
                }
            })
            .collect();
        let v = analyse(&run_with(samples, vec![]), &AnalysisConfig::default());
        let rss = v.metrics.rss.as_ref().unwrap();
        assert_eq!(rss.verdict, Verdict::Fail, "{:?} {rss:?}", v.reasons);
        // Overlapping quarters (noise around a level) are not gross growth.
        let flat_t: Vec<f64> = (0..100).map(f64::from).collect();
        let flat_y: Vec<f64> = (0..100).map(|i| f64::from(i % 7)).collect();
        assert_eq!(quarter_growth_per_s(&flat_t, &flat_y), None);
        let rising: Vec<f64> = (0..100).map(|i| f64::from(i) + f64::from(i % 3)).collect();
        assert!(quarter_growth_per_s(&flat_t, &rising).is_some_and(|r| (r - 1.0).abs() < 0.1));
        // A warm-up still settling at the end (60 MB · (1 − e^(−t/τ)) seen from 2.3 τ on)
        // rises without overlap but slows down: not gross growth.
        let settling: Vec<f64> = (0..100)
            .map(|i| 60.0 * (1.0 - (-(2.3 + 0.077 * f64::from(i))).exp()))
            .collect();
        assert_eq!(quarter_growth_per_s(&flat_t, &settling), None);
    }

    #[test]
    fn leak_fails_and_flat_passes() {
        let config = AnalysisConfig::default();
        let leak = analyse(&run_with(linear_samples(300, 30e6), vec![]), &config);
        assert_eq!(leak.verdict, Verdict::Fail, "{:?}", leak.reasons);
        let rss = leak.metrics.rss.as_ref().unwrap();
        assert!(
            (rss.slope_per_min - 30e6).abs() < 0.5e6,
            "{}",
            rss.slope_per_min
        );
        assert!(
            leak.reasons[0].starts_with("RSS grows 30."),
            "{}",
            leak.reasons[0]
        );

        let flat = analyse(&run_with(linear_samples(300, 0.0), vec![]), &config);
        assert_eq!(flat.verdict, Verdict::Pass, "{:?}", flat.reasons);
        assert_eq!(flat.metrics.threads.as_ref().unwrap().slope_per_min, 0.0);
    }

    #[test]
    fn jitter_on_a_short_run_is_not_growth() {
        // 20 samples over 1 s, RSS creeping by 300 kB: "18 MB/min" extrapolated, but the
        // fitted growth over the span is below 1 MB, so it is not judged as growth.
        let samples: Vec<Sample> = (0..20)
            .map(|i| Sample {
                t: i as f64 * 0.05,
                rss: Some(50_000_000 + i * 15_000 + (i % 3) * 20_000),
                ..Sample::default()
            })
            .collect();
        let v = analyse(&run_with(samples, vec![]), &AnalysisConfig::default());
        let rss = v.metrics.rss.as_ref().unwrap();
        assert!(rss.slope_per_min > 10e6, "{}", rss.slope_per_min);
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
    }

    #[test]
    fn pss_and_vms_are_reported_not_judged() {
        let mut samples = linear_samples(300, 0.0);
        for s in &mut samples {
            s.pss = Some((s.t * 1e6) as u64); // 60 MB/min of PSS, from sharers coming and going
            s.vms = s.pss;
        }
        let v = analyse(&run_with(samples, vec![]), &AnalysisConfig::default());
        let pss = v.metrics.pss.as_ref().unwrap();
        assert!(!pss.judged && pss.verdict == Verdict::Pass);
        assert!(v.metrics.rss.as_ref().unwrap().judged);
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
    }

    #[test]
    fn between_thresholds_warns() {
        let v = analyse(
            &run_with(linear_samples(300, 7e6), vec![]),
            &AnalysisConfig::default(),
        );
        assert_eq!(v.verdict, Verdict::Warn, "{:?}", v.reasons);
    }

    #[test]
    fn missing_metric_is_absent_not_zero() {
        let mut samples = linear_samples(50, 0.0);
        for s in &mut samples {
            s.fds = None;
        }
        let v = analyse(&run_with(samples, vec![]), &AnalysisConfig::default());
        assert!(v.metrics.fds.is_none());
        assert!(v.metrics.pss.is_none());
    }

    #[test]
    fn exit_status_and_signal_fail() {
        let exit = |code, signal| Event {
            t: 20.0,
            kind: EventKind::TargetExit {
                pid: 42,
                code,
                signal,
                by_profiler: false,
            },
        };
        let samples = linear_samples(30, 0.0);
        let v = analyse(
            &run_with(samples.clone(), vec![exit(Some(3), None)]),
            &AnalysisConfig::default(),
        );
        assert_eq!(v.verdict, Verdict::Fail);
        assert!(
            v.reasons.iter().any(|r| r.contains("exited with status 3")),
            "{:?}",
            v.reasons
        );
        let v = analyse(
            &run_with(samples.clone(), vec![exit(None, Some(9))]),
            &AnalysisConfig::default(),
        );
        assert!(
            v.reasons.iter().any(|r| r.contains("signal 9 (SIGKILL)")),
            "{:?}",
            v.reasons
        );
        let v = analyse(
            &run_with(samples.clone(), vec![exit(Some(0), None)]),
            &AnalysisConfig::default(),
        );
        assert_eq!(v.verdict, Verdict::Pass);
        let stopped = Event {
            t: 20.0,
            kind: EventKind::TargetExit {
                pid: 1,
                code: None,
                signal: Some(15),
                by_profiler: true,
            },
        };
        assert_eq!(
            analyse(
                &run_with(samples, vec![stopped]),
                &AnalysisConfig::default()
            )
            .verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn capacity_against_limit() {
        let config = AnalysisConfig {
            limits: Limits {
                mem_limit_bytes: Some(200_000_000),
                cpu_limit_cores: Some(0.2),
                ..Limits::default()
            },
            ..AnalysisConfig::default()
        };
        let v = analyse(&run_with(linear_samples(600, 3e6), vec![]), &config);
        let cap = &v.capacity;
        let peak = cap.peak_rss_bytes.unwrap() as f64;
        assert!((cap.headroom_pct.unwrap() - (200e6 - peak) / 200e6 * 100.0).abs() < 1e-9);
        // Fitted end ≈ 130 MB, 70 MB left at 3 MB/min ≈ 23 min.
        let ttl = cap.time_to_limit_s.unwrap();
        assert!((ttl - 70.0 / 3.0 * 60.0).abs() < 60.0, "{ttl}");
        assert_eq!(cap.over_quota_pct, Some(100.0));
        assert_eq!(v.metrics.cpu.as_ref().unwrap().verdict, Verdict::Warn);
    }

    #[test]
    fn quantile_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.95), 19.0);
        assert_eq!(quantile(&v, 1.0), 20.0);
        assert_eq!(quantile(&[3.0], 0.5), 3.0);
    }

    const MIB: u64 = 1 << 20;

    fn limits(mem: Option<u64>, cpu: Option<f64>) -> AnalysisConfig {
        AnalysisConfig {
            limits: Limits {
                mem_limit_bytes: mem,
                mem_limit_source: mem.map(|_| "option".into()),
                cpu_limit_cores: cpu,
                cpu_limit_source: cpu.map(|_| "option".into()),
            },
            ..AnalysisConfig::default()
        }
    }

    /// 1 Hz samples over `n` seconds with RSS and CPU given by functions of t.
    fn shaped(n: usize, rss: impl Fn(f64) -> u64, cpu: impl Fn(f64) -> f64) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let t = i as f64;
                Sample {
                    t,
                    rss: Some(rss(t)),
                    threads: Some(8),
                    fds: Some(12),
                    cpu: Some(cpu(t)),
                    ..Sample::default()
                }
            })
            .collect()
    }

    #[test]
    fn rss_over_90pct_for_6_minutes_fails() {
        // 512 MiB limit; RSS at 95% of it from 12 m to 18 m 10 s, 300 MiB otherwise.
        let samples = shaped(
            1500,
            |t| {
                if (720.0..=1090.0).contains(&t) {
                    510 * MIB - 24 * MIB
                } else {
                    300 * MIB
                }
            },
            |_| 0.1,
        );
        let v = analyse(&run_with(samples, vec![]), &limits(Some(512 * MIB), None));
        assert_eq!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
        assert!(
            v.reasons.iter().any(|r| r
                == "RSS stayed above 90% of the 512 MiB limit for 6 m 10 s (from 12 m); alert rule: 5 min"),
            "{:?}",
            v.reasons
        );
        assert_eq!(v.capacity.mem_over_90pct_longest_s, Some(370.0));
        assert_eq!(v.capacity.mem_over_90pct_from_s, Some(720.0));
        assert!(v.capacity.headroom_pct.unwrap() > 0.0);
    }

    #[test]
    fn rss_over_90pct_broken_spans_do_not_fail() {
        let over = 500 * MIB; // 97.7% of 512 MiB
        // RSS over the 90% line from 100 s to 460 s (6 min), 300 MiB otherwise.
        let over_from_100_to_460_s = || {
            shaped(
                900,
                |t| {
                    if (100.0..=460.0).contains(&t) {
                        over
                    } else {
                        300 * MIB
                    }
                },
                |_| 0.1,
            )
        };
        // 4 min over, one sample below, 3 min over: 7 min in all, but never 5 continuously.
        let dip = shaped(
            900,
            |t| match t {
                t if (100.0..340.0).contains(&t) || (341.0..520.0).contains(&t) => over,
                _ => 300 * MIB,
            },
            |_| 0.1,
        );
        let v = analyse(&run_with(dip, vec![]), &limits(Some(512 * MIB), None));
        assert_eq!(v.capacity.mem_over_90pct_longest_s, Some(239.0));
        assert!(
            !v.reasons.iter().any(|r| r.contains("stayed above")),
            "{:?}",
            v.reasons
        );
        assert_ne!(v.verdict, Verdict::Fail, "{:?}", v.reasons);

        // Over for 6 min of sample times, but with a 30 s hole in the samples at 4 min:
        // nothing was seen there, so the span is broken.
        let mut gap = over_from_100_to_460_s();
        gap.retain(|s| !(340.0..370.0).contains(&s.t));
        let v = analyse(
            &run_with(gap.clone(), vec![]),
            &limits(Some(512 * MIB), None),
        );
        assert_eq!(v.capacity.mem_over_90pct_longest_s, Some(239.0));
        assert_ne!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
        // A hole of two intervals does not break it.
        let mut short_gap = over_from_100_to_460_s();
        short_gap.retain(|s| s.t != 340.0);
        let v = analyse(&run_with(short_gap, vec![]), &limits(Some(512 * MIB), None));
        assert_eq!(v.capacity.mem_over_90pct_longest_s, Some(360.0));
        assert_eq!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
    }

    #[test]
    fn cpu_over_95pct_for_3_5_minutes_warns() {
        // 0.5-core limit; 0.49 cores (98%) from 2 m for 3 m 30 s, 0.1 otherwise: the mean
        // stays well under the limit.
        let busy = |t: f64| {
            if (120.0..=330.0).contains(&t) {
                0.49
            } else {
                0.1
            }
        };
        let v = analyse(
            &run_with(shaped(600, |_| 300 * MIB, busy), vec![]),
            &limits(None, Some(0.5)),
        );
        let cpu = v.metrics.cpu.as_ref().unwrap();
        assert!(cpu.mean_cores < 0.5);
        assert_eq!(cpu.verdict, Verdict::Warn);
        assert_eq!(v.verdict, Verdict::Warn, "{:?}", v.reasons);
        assert!(
            v.reasons.iter().any(|r| r
                == "CPU stayed above 95% of the 0.50 core limit for 3 m 30 s (from 2 m); alert rule: 3 min"),
            "{:?}",
            v.reasons
        );
        assert_eq!(v.capacity.cpu_over_95pct_longest_s, Some(210.0));
        assert_eq!(v.capacity.cpu_over_95pct_from_s, Some(120.0));
        assert_eq!(v.capacity.over_quota_pct, Some(0.0));

        // 2 m 50 s over: under the 3-minute rule.
        let brief = |t: f64| {
            if (120.0..=290.0).contains(&t) {
                0.49
            } else {
                0.1
            }
        };
        let v = analyse(
            &run_with(shaped(600, |_| 300 * MIB, brief), vec![]),
            &limits(None, Some(0.5)),
        );
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
        assert_eq!(v.capacity.cpu_over_95pct_longest_s, Some(170.0));
    }

    #[test]
    fn steady_memory_is_the_post_warmup_median() {
        // Warm-up: 50 → 200 MB over the first 2 minutes, then a plateau with a wobble.
        let samples = shaped(
            900,
            |t| {
                let wobble = ((t as u64 * 7919) % 11) * 100_000;
                if t < 120.0 {
                    50_000_000 + (t * 1.25e6) as u64 + wobble
                } else {
                    200_000_000 + wobble
                }
            },
            |_| 0.1,
        );
        let v = analyse(
            &run_with(samples.clone(), vec![]),
            &limits(Some(400_000_000), None),
        );
        let rss = v.metrics.rss.as_ref().unwrap();
        assert!(rss.warmup_s > 60.0, "warm-up {}", rss.warmup_s);
        let mut after: Vec<u64> = samples
            .iter()
            .filter(|s| s.t >= rss.warmup_s)
            .filter_map(|s| s.rss)
            .collect();
        after.sort();
        let steady = v.capacity.steady_rss_bytes.unwrap();
        let mid = after.len() / 2;
        let expected = if after.len() % 2 == 1 {
            after[mid]
        } else {
            (after[mid - 1] + after[mid]).div_ceil(2)
        };
        assert!(steady.abs_diff(expected) <= 1, "{steady} vs {expected}");
        assert!((200_000_000..=201_100_000).contains(&steady), "{steady}");

        // Directly: the warm-up the trend reports decides which samples count.
        let mut trend = rss.clone();
        let flat = shaped(10, |t| (t as u64 + 1) * MIB, |_| 0.1); // 1..=10 MiB
        trend.warmup_s = 5.0; // samples at t = 5..9: 6..=10 MiB
        let mut verdict = Verdict::Pass;
        let cap = analyse_capacity(
            &flat,
            Some(&trend),
            &Limits::default(),
            &mut verdict,
            &mut vec![],
        );
        assert_eq!(cap.steady_rss_bytes, Some(8 * MIB));
        trend.warmup_s = 0.0; // all ten: median of 1..=10 MiB
        let cap = analyse_capacity(
            &flat,
            Some(&trend),
            &Limits::default(),
            &mut verdict,
            &mut vec![],
        );
        assert_eq!(cap.steady_rss_bytes, Some(11 * MIB / 2));
        let cap = analyse_capacity(&flat, None, &Limits::default(), &mut verdict, &mut vec![]);
        assert_eq!(cap.steady_rss_bytes, Some(11 * MIB / 2));
    }

    #[test]
    fn headroom_of_peak_and_steady() {
        // 512 MiB limit, 300 MiB steady, one 400 MiB spike.
        let samples = shaped(
            600,
            |t| if t == 300.0 { 400 * MIB } else { 300 * MIB },
            |_| 0.1,
        );
        let v = analyse(
            &run_with(samples, vec![]),
            &limits(Some(512 * MIB), Some(0.5)),
        );
        let cap = &v.capacity;
        assert_eq!(cap.peak_rss_bytes, Some(400 * MIB));
        assert_eq!(cap.steady_rss_bytes, Some(300 * MIB));
        assert!((cap.headroom_pct.unwrap() - 21.875).abs() < 1e-9);
        assert!((cap.steady_headroom_pct.unwrap() - 41.40625).abs() < 1e-9);
        assert_eq!(cap.mem_over_90pct_longest_s, Some(0.0));
        assert_eq!(cap.mem_over_90pct_from_s, None);
        assert_eq!(cap.cpu_over_95pct_longest_s, Some(0.0));
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
    }

    #[test]
    fn no_limit_means_nulls_not_zeros() {
        let v = analyse(
            &run_with(linear_samples(600, 7e6), vec![]),
            &AnalysisConfig::default(),
        );
        let cap = &v.capacity;
        assert!(cap.peak_rss_bytes.is_some() && cap.steady_rss_bytes.is_some());
        assert_eq!(cap.mem_limit_bytes, None);
        assert_eq!(cap.headroom_pct, None);
        assert_eq!(cap.steady_headroom_pct, None);
        assert_eq!(cap.time_to_limit_s, None);
        assert_eq!(cap.mem_over_90pct_longest_s, None);
        assert_eq!(cap.mem_over_90pct_from_s, None);
        assert_eq!(cap.cpu_limit_cores, None);
        assert_eq!(cap.over_quota_pct, None);
        assert_eq!(cap.cpu_over_95pct_longest_s, None);
        assert_eq!(cap.cpu_over_95pct_from_s, None);
        let json = serde_json::to_value(cap).unwrap();
        for key in [
            "headroom_pct",
            "steady_headroom_pct",
            "time_to_limit_s",
            "mem_over_90pct_longest_s",
            "cpu_over_95pct_longest_s",
            "over_quota_pct",
        ] {
            assert!(json[key].is_null(), "{key}: {}", json[key]);
        }
        // An older verdict.json without the new fields still reads.
        let old: Capacity =
            serde_json::from_str(r#"{"mem_limit_bytes": 1, "peak_rss_bytes": 2}"#).unwrap();
        assert_eq!(old.steady_rss_bytes, None);
    }

    #[test]
    fn time_to_limit_is_said_when_near() {
        // 7 MB/min (warn) from 100 MB for 10 min: the line ends near 170 MB.
        let near = analyse(
            &run_with(linear_samples(600, 7e6), vec![]),
            &limits(Some(200_000_000), None),
        );
        assert_eq!(near.verdict, Verdict::Warn, "{:?}", near.reasons);
        let ttl = near.capacity.time_to_limit_s.unwrap();
        assert!((ttl - 30.0 / 7.0 * 60.0).abs() < 30.0, "{ttl}");
        let rss_reason = &near.reasons[0];
        assert!(rss_reason.starts_with("RSS grows "), "{rss_reason}");
        assert!(
            rss_reason.ends_with(&format!(
                "; at this rate the 200 MB limit is reached in {}",
                short_duration(ttl)
            )),
            "{rss_reason}"
        );
        // 1 GiB: about 2 h away, under 24 h, so still said.
        let day = analyse(
            &run_with(linear_samples(600, 7e6), vec![]),
            &limits(Some(1 << 30), None),
        );
        assert!(
            day.reasons[0].contains("the 1 GiB limit is reached in 2 h"),
            "{:?}",
            day.reasons
        );
        // 100 GB: weeks away and beyond 10 run lengths: the projection is kept, not said.
        let far = analyse(
            &run_with(linear_samples(600, 7e6), vec![]),
            &limits(Some(100_000_000_000), None),
        );
        assert!(far.capacity.time_to_limit_s.unwrap() > 86400.0);
        assert!(
            !far.reasons.iter().any(|r| r.contains("reached in")),
            "{:?}",
            far.reasons
        );
        // A passing RSS trend is not given a projection in the reasons.
        let pass = analyse(
            &run_with(linear_samples(600, 3e6), vec![]),
            &limits(Some(200_000_000), None),
        );
        assert!(pass.capacity.time_to_limit_s.is_some());
        assert!(
            !pass.reasons.iter().any(|r| r.contains("reached in")),
            "{:?}",
            pass.reasons
        );
    }

    #[test]
    fn longest_span_rules() {
        let pts = |v: &[(f64, bool)]| v.to_vec();
        assert_eq!(longest_span(pts(&[]), 3.0), None);
        assert_eq!(longest_span(pts(&[(0.0, false), (1.0, false)]), 3.0), None);
        assert_eq!(
            longest_span(
                pts(&[
                    (0.0, true),
                    (1.0, true),
                    (2.0, false),
                    (3.0, true),
                    (6.0, true),
                    (7.0, true)
                ]),
                3.0
            ),
            Some(Span {
                from_s: 3.0,
                length_s: 4.0
            })
        );
        // A gap over max_gap_s breaks the span.
        assert_eq!(
            longest_span(
                pts(&[(0.0, true), (1.0, true), (5.0, true), (6.0, true)]),
                3.0
            ),
            Some(Span {
                from_s: 0.0,
                length_s: 1.0
            })
        );
        assert_eq!(
            longest_span(pts(&[(4.0, true)]), 3.0),
            Some(Span {
                from_s: 4.0,
                length_s: 0.0
            })
        );
        assert_eq!(short_duration(720.0), "12 m");
        assert_eq!(short_duration(370.0), "6 m 10 s");
        assert_eq!(short_duration(3.0 * 3600.0 + 1200.0), "3 h 20 m");
        assert_eq!(format_limit(512 * MIB), "512 MiB");
        assert_eq!(format_limit(2 << 30), "2 GiB");
        assert_eq!(format_limit(400_000_000), "400 MB");
    }

    /// RSS samples at 1 Hz from a function of t, with a deterministic ±150 kB wobble.
    fn rss_from(n: usize, f: impl Fn(f64) -> f64) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let t = i as f64;
                let wobble = ((i * 7919) % 7) as f64 * 50_000.0;
                Sample {
                    t,
                    rss: Some((f(t) + wobble) as u64),
                    ..Sample::default()
                }
            })
            .collect()
    }

    #[test]
    fn growth_starting_mid_run_is_judged_from_its_onset() {
        // Flat for 24 min, then 20 MB/min for 36 min: over the whole hour the least-squares
        // slope is diluted, but the part after the onset is what a release manager cares about.
        let samples = rss_from(3600, |t| 200e6 + (t - 1440.0).max(0.0) * 20e6 / 60.0);
        let mut reasons = vec![];
        let rss = analyse_metric(
            &samples,
            MetricKind::Rss,
            &Thresholds::default(),
            &mut reasons,
        )
        .unwrap();
        let onset = rss.onset_s.unwrap();
        assert!((1300.0..1700.0).contains(&onset), "onset {onset}");
        assert!(
            (rss.slope_per_min - 20e6).abs() < 1e6,
            "{}",
            rss.slope_per_min
        );
        assert_eq!(rss.verdict, Verdict::Fail);
        assert!(reasons[0].contains("growth starting at"), "{reasons:?}");
        // A leak from the start has no onset.
        let steady = rss_from(3600, |t| 200e6 + t * 20e6 / 60.0);
        let rss = analyse_metric(
            &steady,
            MetricKind::Rss,
            &Thresholds::default(),
            &mut vec![],
        )
        .unwrap();
        assert_eq!(rss.onset_s, None);
        assert_eq!(rss.warmup_s, 0.0);
    }

    #[test]
    fn warm_up_is_cut_automatically_or_as_told() {
        // A cache filling with τ = 3 min to +200 MB, then flat: passes, warm-up found.
        let samples = rss_from(3600, |t| 200e6 + 200e6 * (1.0 - (-t / 180.0).exp()));
        let mut reasons = vec![];
        let rss = analyse_metric(
            &samples,
            MetricKind::Rss,
            &Thresholds::default(),
            &mut reasons,
        )
        .unwrap();
        assert!(
            (270.0..=1800.0).contains(&rss.warmup_s),
            "warm-up {}",
            rss.warmup_s
        );
        assert_eq!(rss.verdict, Verdict::Pass, "{reasons:?}");
        // Told: exactly that span is left out.
        let rss = analyse_metric_with(
            &samples,
            MetricKind::Rss,
            &Thresholds::default(),
            Warmup::Fixed(1200.0),
            &mut vec![],
        )
        .unwrap();
        assert_eq!(rss.warmup_s, 1200.0);
        assert!(rss.fit_start[0] >= 1200.0);
        // Without any warm-up handling the same data would read as growth: the naive
        // first-to-last rate is far above the threshold.
        assert!((samples[3599].rss.unwrap() - samples[0].rss.unwrap()) as f64 / 60.0 > 3e6);
    }

    #[test]
    fn sawtooth_is_fitted_on_its_floor() {
        // A 60 MB GC sawtooth with a 2 min cycle over 1 h, no leak: the run ends mid-cycle,
        // which tilts a fit on the raw samples; the envelope sees a flat floor.
        let flat = rss_from(3600, |t| 200e6 + 60e6 * ((t % 120.0) / 120.0));
        let mut reasons = vec![];
        let rss =
            analyse_metric(&flat, MetricKind::Rss, &Thresholds::default(), &mut reasons).unwrap();
        assert!(
            (rss.cycle_period_s.unwrap() - 120.0).abs() < 6.0,
            "{:?}",
            rss.cycle_period_s
        );
        assert_eq!(rss.verdict, Verdict::Pass, "{reasons:?}");
        // The same sawtooth over a 15 MB/min leak: the floor rises at the leak's rate.
        let leak = rss_from(3600, |t| {
            200e6 + 60e6 * ((t % 120.0) / 120.0) + t * 15e6 / 60.0
        });
        let mut reasons = vec![];
        let rss =
            analyse_metric(&leak, MetricKind::Rss, &Thresholds::default(), &mut reasons).unwrap();
        assert!(
            (rss.slope_per_min - 15e6).abs() < 1.5e6,
            "{}",
            rss.slope_per_min
        );
        assert_eq!(rss.verdict, Verdict::Fail);
        assert!(reasons[0].contains("GC cycle"), "{reasons:?}");
    }
}
