//! Resources against their limits: CPU (mean, p95, sustained use near the quota) and
//! memory (peak, steady level, headroom, sustained use near the limit, and when the fitted
//! growth reaches the limit). Pure over a run's columns.

use super::memory::MemoryBasis;
use super::stats;
use super::verdict::{Capacity, CpuSummary, Finding, MetricTrend, Note, Subject, Verdict};
use crate::columns::{Columns, Metric};
use crate::runlog::Limits;
use crate::units::{format_bytes, format_duration_s, format_limit, short_duration, three_figures};

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
fn span_break_s(t: &[f64]) -> f64 {
    let steps = || t.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0);
    let interval = stats::median_of(steps).unwrap_or(0.0);
    (SPAN_BREAK_INTERVALS * interval).max(SPAN_BREAK_MIN_S)
}

/// Longest span with CPU above `CPU_ALERT_FRACTION` of `limit` cores.
fn cpu_over_span(columns: &Columns, limit: f64) -> Option<Span> {
    let level = CPU_ALERT_FRACTION * limit;
    longest_span(
        columns.points(Metric::Cpu).map(|(t, c)| (t, c > level)),
        span_break_s(columns.t()),
    )
}

/// Longest span with the judged memory `metric` above `MEM_ALERT_FRACTION` of `limit` bytes.
fn mem_over_span(columns: &Columns, metric: Metric, limit: u64) -> Option<Span> {
    let level = MEM_ALERT_FRACTION * limit as f64;
    longest_span(
        columns.points(metric).map(|(t, r)| (t, r > level)),
        span_break_s(columns.t()),
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

/// The CPU summary and its findings; `None` when CPU was never read.
pub fn judge_cpu(columns: &Columns, limits: &Limits) -> Option<(CpuSummary, Vec<Finding>)> {
    let cores = || columns.points(Metric::Cpu).map(|(_, c)| c);
    let count = columns.present(Metric::Cpu);
    if count == 0 {
        return None;
    }
    let mean_cores = cores().sum::<f64>() / count as f64;
    let mut findings = Vec::new();
    if let Some(limit) = limits.cpu_limit_cores {
        if mean_cores > limit {
            findings.push(Finding::new(
                Verdict::Warn,
                Subject::Cpu,
                format!(
                    "CPU averages {} cores, above the {} core limit: the target would be throttled",
                    three_figures(mean_cores),
                    three_figures(limit)
                ),
            ));
        }
        if let Some(span) = cpu_over_span(columns, limit)
            && span.length_s >= CPU_ALERT_FOR_S
        {
            let run_start = columns.t().first().copied().unwrap_or(0.0);
            findings.push(Finding::new(
                Verdict::Warn,
                Subject::Cpu,
                sustained_reason(
                    "CPU",
                    CPU_ALERT_FRACTION,
                    &format!("{} core", three_figures(limit)),
                    span,
                    CPU_ALERT_FOR_S,
                    run_start,
                ),
            ));
        }
    }
    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    let summary = CpuSummary {
        mean_cores,
        p95_cores: stats::quantile_of(cores, 0.95).unwrap_or(0.0),
        max_cores: cores().fold(0.0, f64::max),
        verdict,
    };
    Some((summary, findings))
}

/// What the capacity judge found.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityJudged {
    pub capacity: Capacity,
    pub findings: Vec<Finding>,
    /// When the RSS trend is not a pass and reaches the memory limit soon enough to act
    /// on: said as a note on the RSS growth finding.
    pub time_to_limit: Option<Note>,
}

/// Median of `metric` after the warm-up its trend found (all samples without a trend).
pub(super) fn steady(
    columns: &Columns,
    metric: Metric,
    trend: Option<&MetricTrend>,
) -> Option<u64> {
    let (first_t, _) = columns.points(metric).next()?;
    let from = first_t + trend.map_or(0.0, |r| r.warmup_s);
    let after = || {
        columns
            .points(metric)
            .filter(move |(t, _)| *t >= from)
            .map(|(_, y)| y)
    };
    let median = match after().next() {
        Some(_) => stats::median_of(after),
        None => stats::median_of(|| columns.points(metric).map(|(_, y)| y)),
    };
    median.map(|m| m.round() as u64)
}

/// Memory and CPU against the limits. Memory is the judged memory (`basis`: RSS for one
/// process, PSS for several), `judged` its trend when one was fitted, and `rss` the RSS
/// trend (for the summed-RSS figures, reported either way).
pub fn judge_capacity(
    columns: &Columns,
    basis: &MemoryBasis,
    judged: Option<&MetricTrend>,
    rss: Option<&MetricTrend>,
    limits: &Limits,
) -> CapacityJudged {
    let metric = basis.metric.kind().column();
    let label = basis.metric.kind().label();
    let peak_bytes = columns.max_int(metric);
    let steady_bytes = steady(columns, metric, judged);
    let mut capacity = Capacity {
        mem_limit_bytes: limits.mem_limit_bytes,
        mem_limit_source: limits.mem_limit_source.clone(),
        peak_rss_bytes: columns.max_int(Metric::Rss),
        steady_rss_bytes: steady(columns, Metric::Rss, rss),
        judged_memory: basis.metric,
        judged_memory_reason: basis.reason.clone(),
        peak_bytes,
        steady_bytes,
        cpu_limit_cores: limits.cpu_limit_cores,
        cpu_limit_source: limits.cpu_limit_source.clone(),
        ..Capacity::default()
    };
    let mut findings = Vec::new();
    let mut time_to_limit = None;
    if let (Some(limit), Some(peak)) = (limits.mem_limit_bytes, peak_bytes) {
        let limit_f = limit as f64;
        let headroom = |bytes: u64| (limit_f - bytes as f64) / limit_f * 100.0;
        capacity.headroom_pct = Some(headroom(peak));
        capacity.steady_headroom_pct = steady_bytes.map(headroom);
        if peak > limit {
            findings.push(Finding::new(
                Verdict::Fail,
                Subject::Memory,
                format!(
                    "peak {label} {} is above the memory limit {}",
                    format_bytes(peak as f64),
                    format_limit(limit)
                ),
            ));
        }
        let span = mem_over_span(columns, metric, limit);
        capacity.mem_over_90pct_longest_s = Some(span.map_or(0.0, |s| s.length_s));
        capacity.mem_over_90pct_from_s = span.map(|s| s.from_s);
        if let Some(span) = span.filter(|s| s.length_s >= MEM_ALERT_FOR_S) {
            let run_start = columns.t().first().copied().unwrap_or(0.0);
            findings.push(Finding::new(
                Verdict::Fail,
                Subject::Memory,
                sustained_reason(
                    label,
                    MEM_ALERT_FRACTION,
                    &format_limit(limit),
                    span,
                    MEM_ALERT_FOR_S,
                    run_start,
                ),
            ));
        }
        let last_t = columns.points(metric).last().map(|(t, _)| t);
        if let (Some(trend), Some(last_t)) = (judged, last_t)
            && let Some(ttl) = projected_time_to_limit(trend, last_t, limit_f)
        {
            capacity.time_to_limit_s = Some(ttl);
            let run_s = run_span_s(columns.t());
            let horizon = (TIME_TO_LIMIT_RUN_MULTIPLE * run_s).max(TIME_TO_LIMIT_HORIZON_S);
            if trend.verdict != Verdict::Pass && ttl > 0.0 && ttl < horizon {
                time_to_limit = Some(Note::TimeToLimit {
                    limit_bytes: limit,
                    after_s: ttl,
                });
            }
        }
    }
    if let Some(limit) = limits.cpu_limit_cores {
        let count = columns.present(Metric::Cpu);
        if count > 0 {
            let over = columns
                .points(Metric::Cpu)
                .filter(|&(_, c)| c > limit)
                .count();
            capacity.over_quota_pct = Some(over as f64 / count as f64 * 100.0);
            let span = cpu_over_span(columns, limit);
            capacity.cpu_over_95pct_longest_s = Some(span.map_or(0.0, |s| s.length_s));
            capacity.cpu_over_95pct_from_s = span.map(|s| s.from_s);
        }
    }
    CapacityJudged {
        capacity,
        findings,
        time_to_limit,
    }
}

/// Seconds from the first to the last sample.
fn run_span_s(t: &[f64]) -> f64 {
    let start = t.first().copied().unwrap_or(0.0);
    t.last().copied().unwrap_or(0.0) - start
}

/// Seconds from the last RSS sample (at `last_t`) until the fitted line reaches `limit`;
/// `None` unless the line grows.
///
/// The projection uses the least-squares line as fitted, slope and end point together: both
/// describe the analysed span (after the warm-up or from the onset, on the GC floor when
/// there is a sawtooth), which is what the RSS verdict judged. Putting the Theil–Sen slope
/// through the least-squares end point would draw a line nobody fitted. On a sawtooth the
/// line is the floor, so the peaks reach the limit somewhat sooner. The line is extended
/// from its last analysed point to the end of the run before measuring what is left.
fn projected_time_to_limit(trend: &MetricTrend, last_t: f64, limit: f64) -> Option<f64> {
    if trend.slope_per_min <= 0.0 {
        return None;
    }
    let per_s = trend.slope_per_min / 60.0;
    let at_end = trend.fit_end[1] + per_s * (last_t - trend.fit_end[0]);
    Some(((limit - at_end) / per_s).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{AnalysisConfig, analyse};
    use crate::synthetic;

    const MIB: u64 = 1 << 20;

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
        let v = analyse(
            &synthetic::run(&synthetic::linear_rss(600, 3e6), vec![]),
            &config,
        );
        let cap = &v.capacity;
        let peak = cap.peak_rss_bytes.unwrap() as f64;
        assert!((cap.headroom_pct.unwrap() - (200e6 - peak) / 200e6 * 100.0).abs() < 1e-9);
        // Fitted end ≈ 130 MB, 70 MB left at 3 MB/min ≈ 23 min.
        let ttl = cap.time_to_limit_s.unwrap();
        assert!((ttl - 70.0 / 3.0 * 60.0).abs() < 60.0, "{ttl}");
        assert_eq!(cap.over_quota_pct, Some(100.0));
        assert_eq!(v.metrics.cpu.as_ref().unwrap().verdict, Verdict::Warn);
    }

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

    #[test]
    fn rss_over_90pct_for_6_minutes_fails() {
        // 512 MiB limit; RSS at 95% of it from 12 m to 18 m 10 s, 300 MiB otherwise.
        let samples = synthetic::shaped(
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
        let v = analyse(
            &synthetic::run(&samples, vec![]),
            &limits(Some(512 * MIB), None),
        );
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
            synthetic::shaped(
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
        let dip = synthetic::shaped(
            900,
            |t| match t {
                t if (100.0..340.0).contains(&t) || (341.0..520.0).contains(&t) => over,
                _ => 300 * MIB,
            },
            |_| 0.1,
        );
        let v = analyse(
            &synthetic::run(&dip, vec![]),
            &limits(Some(512 * MIB), None),
        );
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
            &synthetic::run(&gap, vec![]),
            &limits(Some(512 * MIB), None),
        );
        assert_eq!(v.capacity.mem_over_90pct_longest_s, Some(239.0));
        assert_ne!(v.verdict, Verdict::Fail, "{:?}", v.reasons);
        // A hole of two intervals does not break it.
        let mut short_gap = over_from_100_to_460_s();
        short_gap.retain(|s| s.t != 340.0);
        let v = analyse(
            &synthetic::run(&short_gap, vec![]),
            &limits(Some(512 * MIB), None),
        );
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
            &synthetic::run(&synthetic::shaped(600, |_| 300 * MIB, busy), vec![]),
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
            &synthetic::run(&synthetic::shaped(600, |_| 300 * MIB, brief), vec![]),
            &limits(None, Some(0.5)),
        );
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
        assert_eq!(v.capacity.cpu_over_95pct_longest_s, Some(170.0));
    }

    #[test]
    fn steady_memory_is_the_post_warmup_median() {
        // Warm-up: 50 → 200 MB over the first 2 minutes, then a plateau with a wobble.
        let samples = synthetic::shaped(
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
            &synthetic::run(&samples, vec![]),
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
        let flat = synthetic::shaped(10, |t| (t as u64 + 1) * MIB, |_| 0.1); // 1..=10 MiB
        trend.warmup_s = 5.0; // samples at t = 5..9: 6..=10 MiB
        let cap = rss_capacity(&synthetic::columns(&flat), Some(&trend));
        assert_eq!(cap.steady_rss_bytes, Some(8 * MIB));
        trend.warmup_s = 0.0; // all ten: median of 1..=10 MiB
        let cap = rss_capacity(&synthetic::columns(&flat), Some(&trend));
        assert_eq!(cap.steady_rss_bytes, Some(11 * MIB / 2));
        let cap = rss_capacity(&synthetic::columns(&flat), None);
        assert_eq!(cap.steady_rss_bytes, Some(11 * MIB / 2));
    }

    /// Capacity of a one-process run without limits, judged on RSS.
    fn rss_capacity(columns: &Columns, rss: Option<&MetricTrend>) -> Capacity {
        let basis = crate::analysis::memory::memory_basis(columns);
        judge_capacity(columns, &basis, rss, rss, &Limits::default()).capacity
    }

    #[test]
    fn headroom_of_peak_and_steady() {
        // 512 MiB limit, 300 MiB steady, one 400 MiB spike.
        let samples = synthetic::shaped(
            600,
            |t| if t == 300.0 { 400 * MIB } else { 300 * MIB },
            |_| 0.1,
        );
        let v = analyse(
            &synthetic::run(&samples, vec![]),
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
            &synthetic::run(&synthetic::linear_rss(600, 7e6), vec![]),
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
            &synthetic::run(&synthetic::linear_rss(600, 7e6), vec![]),
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
            &synthetic::run(&synthetic::linear_rss(600, 7e6), vec![]),
            &limits(Some(1 << 30), None),
        );
        assert!(
            day.reasons[0].contains("the 1 GiB limit is reached in 2 h"),
            "{:?}",
            day.reasons
        );
        // 100 GB: weeks away and beyond 10 run lengths: the projection is kept, not said.
        let far = analyse(
            &synthetic::run(&synthetic::linear_rss(600, 7e6), vec![]),
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
            &synthetic::run(&synthetic::linear_rss(600, 3e6), vec![]),
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
}
