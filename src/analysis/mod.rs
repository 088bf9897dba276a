//! Pure analysis of a run: trends per metric, CPU, capacity and the overall verdict.
//! No I/O here: input is a `RunData` already read, output a `RunVerdict` (verdict.json).

pub mod prepare;
pub mod regression;
pub mod robust;

use serde::{Deserialize, Serialize};

use crate::runlog::{EventKind, Limits, RunData, StopReason, TargetInfo, Thresholds};
use crate::sample::Sample;
use crate::units::{
    format_byte_rate, format_bytes, format_count_rate, format_duration_s, three_figures,
};
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
    /// Time from the end of the run until the fitted RSS line reaches the limit.
    pub time_to_limit_s: Option<f64>,
    pub cpu_limit_cores: Option<f64>,
    pub cpu_limit_source: Option<String>,
    /// Share of samples whose CPU use exceeded the limit, percent.
    pub over_quota_pct: Option<f64>,
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
    let significant = p_value < TREND_ALPHA && ci[0] > 0.0;
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
    if let Some(limit) = limits.cpu_limit_cores
        && mean_cores > limit
    {
        verdict = Verdict::Warn;
        reasons.push(format!(
            "CPU averages {} cores, above the {} core limit: the target would be throttled",
            three_figures(mean_cores),
            three_figures(limit)
        ));
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
    let peak_rss_bytes = samples.iter().filter_map(|s| s.rss).max();
    let mut capacity = Capacity {
        mem_limit_bytes: limits.mem_limit_bytes,
        mem_limit_source: limits.mem_limit_source.clone(),
        peak_rss_bytes,
        cpu_limit_cores: limits.cpu_limit_cores,
        cpu_limit_source: limits.cpu_limit_source.clone(),
        ..Capacity::default()
    };
    if let (Some(limit), Some(peak)) = (limits.mem_limit_bytes, peak_rss_bytes) {
        let limit_f = limit as f64;
        capacity.headroom_pct = Some((limit_f - peak as f64) / limit_f * 100.0);
        if peak > limit {
            *verdict = Verdict::Fail;
            reasons.push(format!(
                "peak RSS {} is above the memory limit {}",
                format_bytes(peak as f64),
                format_bytes(limit_f)
            ));
        }
        if let Some(trend) = rss.filter(|r| r.slope_per_min > 0.0) {
            let remaining = limit_f - trend.fit_end[1];
            capacity.time_to_limit_s = Some((remaining / trend.slope_per_min * 60.0).max(0.0));
        }
    }
    if let Some(limit) = limits.cpu_limit_cores {
        let cores: Vec<f64> = samples.iter().filter_map(|s| s.cpu).collect();
        if !cores.is_empty() {
            let over = cores.iter().filter(|&&c| c > limit).count();
            capacity.over_quota_pct = Some(over as f64 / cores.len() as f64 * 100.0);
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
    let metrics = Metrics {
        rss: analyse_metric(samples, MetricKind::Rss, th, &mut reasons),
        vms: analyse_metric(samples, MetricKind::Vms, th, &mut reasons),
        pss: analyse_metric(samples, MetricKind::Pss, th, &mut reasons),
        uss: analyse_metric(samples, MetricKind::Uss, th, &mut reasons),
        threads: analyse_metric(samples, MetricKind::Threads, th, &mut reasons),
        fds: analyse_metric(samples, MetricKind::Fds, th, &mut reasons),
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
                limits: Limits::default(),
                thresholds: Thresholds::default(),
            },
            samples,
            events,
            skipped_lines: 0,
            stop_reason: Some(StopReason::Duration),
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
}
