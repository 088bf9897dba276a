//! Growth of one metric: the series prepared (GC envelope, warm-up, onset), fitted, tested
//! and judged against its thresholds. Pure over `(t, y)` slices, so a run's columns, a
//! baseline run and a Prometheus series are judged by the same code.

use serde::{Deserialize, Serialize};

use super::prepare::{self, Values};
use super::verdict::{Finding, MetricTrend, Subject, Verdict};
use super::{fit_linear, robust};
use crate::columns::Metric;
use crate::runlog::Thresholds;
use crate::units::{format_byte_rate, format_count_rate, format_duration_s};

/// Fewer samples than this and a trend is not judged at all.
pub const MIN_SAMPLES_FOR_TREND: usize = 10;

/// A memory or count metric whose growth is fitted and (for some) judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Rss,
    Vms,
    Pss,
    Uss,
    Threads,
    Fds,
    /// The cgroup's memory in use (page cache and kernel memory included); reported.
    CgroupMemory,
    /// The cgroup's anonymous memory: judged for a cgroup target.
    CgroupAnon,
    /// The cgroup's page cache (reclaimable); reported.
    CgroupFile,
    /// The cgroup's working set (in use minus inactive page cache); reported.
    CgroupWorkingSet,
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
            MetricKind::CgroupMemory => "cgroup memory",
            MetricKind::CgroupAnon => "cgroup anon memory",
            MetricKind::CgroupFile => "cgroup page cache",
            MetricKind::CgroupWorkingSet => "cgroup working set",
        }
    }

    /// The column the metric is read from.
    pub fn column(self) -> Metric {
        match self {
            MetricKind::Rss => Metric::Rss,
            MetricKind::Vms => Metric::Vms,
            MetricKind::Pss => Metric::Pss,
            MetricKind::Uss => Metric::Uss,
            MetricKind::Threads => Metric::Threads,
            MetricKind::Fds => Metric::Fds,
            MetricKind::CgroupMemory => Metric::CgroupMemory,
            MetricKind::CgroupAnon => Metric::CgroupAnon,
            MetricKind::CgroupFile => Metric::CgroupFile,
            MetricKind::CgroupWorkingSet => Metric::CgroupWorkingSet,
        }
    }

    /// Every metric with a trend, in the order they are judged and reported.
    pub const ALL: [MetricKind; 10] = [
        MetricKind::Rss,
        MetricKind::Vms,
        MetricKind::Pss,
        MetricKind::Uss,
        MetricKind::Threads,
        MetricKind::Fds,
        MetricKind::CgroupMemory,
        MetricKind::CgroupAnon,
        MetricKind::CgroupFile,
        MetricKind::CgroupWorkingSet,
    ];

    pub fn is_bytes(self) -> bool {
        !matches!(self, MetricKind::Threads | MetricKind::Fds)
    }

    pub fn format_rate(self, per_min: f64) -> String {
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
    pub fn thresholds(self, th: &Thresholds) -> Option<(f64, f64)> {
        self.thresholds_judging(th, JudgedMemory::Rss)
    }

    /// [`MetricKind::thresholds`] in a run whose memory is judged on `memory`: with
    /// several processes PSS is judged in RSS's place (and RSS only reported); for a cgroup
    /// target its anon memory is, and summed RSS and USS (which counts private file pages
    /// the kernel can reclaim) are only reported. The cgroup's other memory figures are
    /// never judged: page cache grows on any busy service.
    pub fn thresholds_judging(self, th: &Thresholds, memory: JudgedMemory) -> Option<(f64, f64)> {
        let memory_judged = |kind| {
            if memory == kind {
                Some(MetricKind::Rss)
            } else {
                None
            }
        };
        let kind = match self {
            MetricKind::Rss => memory_judged(JudgedMemory::Rss)?,
            MetricKind::Pss => memory_judged(JudgedMemory::Pss)?,
            MetricKind::CgroupAnon => memory_judged(JudgedMemory::CgroupAnon)?,
            MetricKind::Uss if memory == JudgedMemory::CgroupAnon => return None,
            other => other,
        };
        match kind {
            MetricKind::Rss | MetricKind::Uss => {
                Some((th.warn_growth_bytes_per_min, th.max_growth_bytes_per_min))
            }
            MetricKind::Threads => {
                Some((th.max_thread_growth_per_min, th.max_thread_growth_per_min))
            }
            MetricKind::Fds => Some((th.max_fd_growth_per_min, th.max_fd_growth_per_min)),
            MetricKind::Vms
            | MetricKind::Pss
            | MetricKind::CgroupMemory
            | MetricKind::CgroupAnon
            | MetricKind::CgroupFile
            | MetricKind::CgroupWorkingSet => None,
        }
    }

    /// Growth over the whole analysed span below which a trend is measurement noise, not a
    /// finding: 1 MB of memory (about 250 pages), or 2 threads / FDs. Without it a
    /// one-second run turns a few pages of jitter into "MB per minute".
    pub fn min_total_growth(self) -> f64 {
        if self.is_bytes() { 1e6 } else { 2.0 }
    }
}

/// The memory that is judged for growth and set against the limit: RSS for one process;
/// PSS (each shared page split among the processes that map it) when a run covers several,
/// since summed RSS counts a shared page once per process; the cgroup's anon memory for a
/// cgroup target (its page cache is reclaimable). See `analysis::memory`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgedMemory {
    #[default]
    Rss,
    Pss,
    CgroupAnon,
}

impl JudgedMemory {
    pub fn kind(self) -> MetricKind {
        match self {
            JudgedMemory::Rss => MetricKind::Rss,
            JudgedMemory::Pss => MetricKind::Pss,
            JudgedMemory::CgroupAnon => MetricKind::CgroupAnon,
        }
    }
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
pub fn prepare_series<Y: Values + ?Sized>(t: &[f64], y: &Y, warmup: Warmup) -> Prepared {
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

/// A fitted trend and, when it is not a pass, the finding that says why.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub trend: MetricTrend,
    pub finding: Option<Finding>,
}

/// Fit and judge one metric's series (`t` in seconds, ascending; `y` in the metric's unit:
/// a slice, or a run's column read in place). `None` when it has fewer than
/// [`MIN_SAMPLES_FOR_TREND`] points.
pub fn judge_trend<Y: Values + ?Sized>(
    t: &[f64],
    y: &Y,
    kind: MetricKind,
    thresholds: &Thresholds,
    warmup: Warmup,
) -> Option<Judged> {
    judge_trend_judging(t, y, kind, thresholds, warmup, JudgedMemory::Rss)
}

/// [`judge_trend`] in a run whose memory is judged on `memory` (see
/// [`MetricKind::thresholds_judging`]).
pub fn judge_trend_judging<Y: Values + ?Sized>(
    t: &[f64],
    y: &Y,
    kind: MetricKind,
    thresholds: &Thresholds,
    warmup: Warmup,
    memory: JudgedMemory,
) -> Option<Judged> {
    let limits = kind.thresholds_judging(thresholds, memory);
    let n = y.count();
    if t.len() < MIN_SAMPLES_FOR_TREND || t.len() != n {
        return None;
    }
    let prepared = prepare_series(t, y, warmup);
    // Whether the fit is on the prepared series; when too little of it is left, every point
    // is fitted and no warm-up or onset was left out, so none is reported.
    let applied = prepared.t.len() >= MIN_ENVELOPE_POINTS;
    let shown = Shown {
        cycle_period_s: prepared.cycle_period_s,
        warmup_s: if applied { prepared.warmup_s } else { 0.0 },
        onset_s: prepared.onset_s.filter(|_| applied),
    };
    let every_value: Vec<f64>;
    let (pt, py) = if applied {
        (&prepared.t[..], &prepared.y[..])
    } else {
        // Too little left after the warm-up (or too few cycles): fit what there is.
        every_value = y.to_vec();
        (t, &every_value[..])
    };
    let fit = fit_linear(pt, py)?;
    let robust = robust::theil_sen(pt, py);
    let rank_test = robust::mann_kendall(py);
    let per_min = |x: f64| x * 60.0;
    let slope = per_min(fit.slope_per_s);
    let ci = [
        per_min(fit.slope_ci_per_s[0]),
        per_min(fit.slope_ci_per_s[1]),
    ];
    let robust_slope = robust.as_ref().map(|r| per_min(r.slope));
    let p_value = rank_test.as_ref().map_or(1.0, |m| m.p_value);
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
    let verdict = match limits {
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
    let finding = (verdict != Verdict::Pass).then(|| {
        Finding::new(
            verdict,
            Subject::Growth(kind),
            growth_reason(kind, limits, verdict, slope, ci, span_s, &shown, sure),
        )
    });
    let (first_t, last_t) = (pt[0], pt[pt.len() - 1]);
    let min = (0..n).map(|i| y.at(i)).fold(f64::INFINITY, f64::min);
    let max = (0..n).map(|i| y.at(i)).fold(f64::NEG_INFINITY, f64::max);
    let trend = MetricTrend {
        unit: if kind.is_bytes() { "bytes" } else { "count" }.to_string(),
        judged: limits.is_some(),
        slope_per_min: slope,
        slope_ci: ci,
        robust_slope_per_min: robust_slope,
        trend_p_value: p_value,
        r_squared: fit.r_squared,
        n_effective: fit.n_eff,
        warmup_s: shown.warmup_s,
        onset_s: shown.onset_s,
        cycle_period_s: shown.cycle_period_s,
        analysed_points: pt.len(),
        fit_start: [first_t, fit.value_at(first_t)],
        fit_end: [last_t, fit.value_at(last_t)],
        samples: n,
        first: y.at(0),
        last: y.at(n - 1),
        min,
        max,
        verdict,
    };
    Some(Judged { trend, finding })
}

/// How a trend's series was prepared, as reported: its GC cycle, and the warm-up and onset
/// that were actually left out of the fit.
struct Shown {
    cycle_period_s: Option<f64>,
    warmup_s: f64,
    onset_s: Option<f64>,
}

/// "RSS grows 12.4 MB/min (95% CI 11.8 to 13.0 MB/min) over 40 m after a 4 m warm-up; fail
/// threshold 10.0 MB/min".
#[allow(clippy::too_many_arguments)]
fn growth_reason(
    kind: MetricKind,
    limits: Option<(f64, f64)>,
    verdict: Verdict,
    slope: f64,
    ci: [f64; 2],
    span_s: f64,
    shown: &Shown,
    sure: bool,
) -> String {
    let (warn_at, fail_at) = limits.unwrap_or_default();
    let mut context = String::new();
    if let Some(period) = shown.cycle_period_s {
        context.push_str(&format!(
            ", fitted on the floor of a {} GC cycle",
            format_duration_s(period)
        ));
    }
    if let Some(onset) = shown.onset_s {
        context.push_str(&format!(
            ", growth starting at {}",
            format_duration_s(onset)
        ));
    } else if shown.warmup_s > 0.0 {
        context.push_str(&format!(
            " after a {} warm-up",
            format_duration_s(shown.warmup_s)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;
    use crate::synthetic;

    /// The RSS trend of these samples and its reason lines.
    fn judge_rss(samples: &[Sample], warmup: Warmup) -> (MetricTrend, Vec<String>) {
        let columns = synthetic::columns(samples);
        let judged = crate::analysis::judge_metric(
            &columns,
            MetricKind::Rss,
            &Thresholds::default(),
            warmup,
        )
        .unwrap();
        let reasons = judged.finding.iter().map(Finding::reason).collect();
        (judged.trend, reasons)
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
        let v = crate::analysis::analyse(
            &synthetic::run(&samples, vec![]),
            &crate::analysis::AnalysisConfig::default(),
        );
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
        let v = crate::analysis::analyse(
            &synthetic::run(&samples, vec![]),
            &crate::analysis::AnalysisConfig::default(),
        );
        let rss = v.metrics.rss.as_ref().unwrap();
        assert!(rss.slope_per_min > 10e6, "{}", rss.slope_per_min);
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
    }

    #[test]
    fn pss_and_vms_are_reported_not_judged() {
        let mut samples = synthetic::linear_rss(300, 0.0);
        for s in &mut samples {
            s.pss = Some((s.t * 1e6) as u64); // 60 MB/min of PSS, from sharers coming and going
            s.vms = s.pss;
        }
        let v = crate::analysis::analyse(
            &synthetic::run(&samples, vec![]),
            &crate::analysis::AnalysisConfig::default(),
        );
        let pss = v.metrics.pss.as_ref().unwrap();
        assert!(!pss.judged && pss.verdict == Verdict::Pass);
        assert!(v.metrics.rss.as_ref().unwrap().judged);
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
    }

    #[test]
    fn growth_starting_mid_run_is_judged_from_its_onset() {
        // Flat for 24 min, then 20 MB/min for 36 min: over the whole hour the least-squares
        // slope is diluted, but the part after the onset is what a release manager cares about.
        let samples = synthetic::rss_from(3600, |t| 200e6 + (t - 1440.0).max(0.0) * 20e6 / 60.0);
        let (rss, reasons) = judge_rss(&samples, Warmup::Auto);
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
        let steady = synthetic::rss_from(3600, |t| 200e6 + t * 20e6 / 60.0);
        let (rss, _) = judge_rss(&steady, Warmup::Auto);
        assert_eq!(rss.onset_s, None);
        assert_eq!(rss.warmup_s, 0.0);
    }

    #[test]
    fn warm_up_is_cut_automatically_or_as_told() {
        // A cache filling with τ = 3 min to +200 MB, then flat: passes, warm-up found.
        let samples = synthetic::rss_from(3600, |t| 200e6 + 200e6 * (1.0 - (-t / 180.0).exp()));
        let (rss, reasons) = judge_rss(&samples, Warmup::Auto);
        assert!(
            (270.0..=1800.0).contains(&rss.warmup_s),
            "warm-up {}",
            rss.warmup_s
        );
        assert_eq!(rss.verdict, Verdict::Pass, "{reasons:?}");
        // Told: exactly that span is left out.
        let (rss, _) = judge_rss(&samples, Warmup::Fixed(1200.0));
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
        let flat = synthetic::rss_from(3600, |t| 200e6 + 60e6 * ((t % 120.0) / 120.0));
        let (rss, reasons) = judge_rss(&flat, Warmup::Auto);
        assert!(
            (rss.cycle_period_s.unwrap() - 120.0).abs() < 6.0,
            "{:?}",
            rss.cycle_period_s
        );
        assert_eq!(rss.verdict, Verdict::Pass, "{reasons:?}");
        // The same sawtooth over a 15 MB/min leak: the floor rises at the leak's rate.
        let leak = synthetic::rss_from(3600, |t| {
            200e6 + 60e6 * ((t % 120.0) / 120.0) + t * 15e6 / 60.0
        });
        let (rss, reasons) = judge_rss(&leak, Warmup::Auto);
        assert!(
            (rss.slope_per_min - 15e6).abs() < 1.5e6,
            "{}",
            rss.slope_per_min
        );
        assert_eq!(rss.verdict, Verdict::Fail);
        assert!(reasons[0].contains("GC cycle"), "{reasons:?}");
    }
}
