//! Memory, threads and FDs compared: growth as the difference of the two runs' fitted
//! slopes (each on its prepared series, with its autocorrelation-corrected interval), the
//! steady level by block means, the peak by block maxima.

use super::Side;
use super::judge::{ItemSpec, Tested, Worse, judged, not_compared};
use super::stats::{self, Change};
use super::types::{CompareLimits, ComparedItem, Judgement, LimitKind};
use crate::analysis::{JudgedMemory, MetricKind, MetricTrend, Verdict};
use crate::columns::Metric;
use crate::units::{format_byte_rate, format_bytes, format_count_rate};

/// The growth of one metric: `memory.growth`, `threads.growth`, `fds.growth`.
pub struct Growth<'a> {
    pub id: &'a str,
    pub kind: MetricKind,
    pub baseline: Option<&'a MetricTrend>,
    pub candidate: Option<&'a MetricTrend>,
    /// The increase beyond which a significant one regresses, per minute.
    pub limit_per_min: f64,
    /// The candidate's own fail threshold, per minute (said when it forces the judgement).
    pub fail_per_min: Option<f64>,
}

fn side_missing(baseline: bool, candidate: bool) -> &'static str {
    match (baseline, candidate) {
        (false, false) => "neither run",
        (false, true) => "the baseline",
        _ => "the candidate",
    }
}

/// Compare the growth of one metric.
pub fn growth(g: &Growth) -> ComparedItem {
    let format_rate = |v: f64| {
        if g.kind.is_bytes() {
            format_byte_rate(v)
        } else {
            format_count_rate(v)
        }
    };
    let spec = ItemSpec {
        id: g.id,
        label: format!("{} growth", g.kind.label()),
        unit: match g.kind {
            MetricKind::Threads => "threads/min",
            MetricKind::Fds => "fds/min",
            _ => "bytes/min",
        },
        format: &format_rate,
        worse: Worse::Higher,
    };
    let (Some(b), Some(c)) = (g.baseline, g.candidate) else {
        let who = side_missing(g.baseline.is_some(), g.candidate.is_some());
        return not_compared(
            &spec,
            g.baseline.map(|t| t.slope_per_min),
            g.candidate.map(|t| t.slope_per_min),
            &format!(
                "{who} has too few {} samples to fit a trend",
                g.kind.label()
            ),
        );
    };
    let Some(change) = stats::slope_difference(
        b.slope_per_min,
        b.slope_ci,
        b.n_effective,
        c.slope_per_min,
        c.slope_ci,
        c.n_effective,
    ) else {
        return not_compared(
            &spec,
            Some(b.slope_per_min),
            Some(c.slope_per_min),
            "a trend's interval is unbounded (too few effective points)",
        );
    };
    let threshold = g
        .fail_per_min
        .map_or(String::new(), |f| format!(" {}", format_rate(f)));
    // A run that fails its own thresholds where the other does not decides, whatever the
    // size of the difference, when the difference is significant that way: two runs that
    // both grow near the threshold, one failing and one not, have not moved.
    let forced = match (b.verdict == Verdict::Fail, c.verdict == Verdict::Fail) {
        (false, true) if change.ci[0] > 0.0 => Some((
            Judgement::Regressed,
            format!(
                "the candidate fails its own growth threshold{threshold}; the baseline did not"
            ),
        )),
        (true, false) if change.ci[1] < 0.0 => Some((
            Judgement::Improved,
            "the baseline failed its growth threshold; the candidate does not".to_string(),
        )),
        _ => None,
    };
    // The single-run judge's noise floor (1 MB, or 2 threads / FDs, over the fitted span)
    // holds for a difference too: one more connection's thread is a step, not a leak.
    let span_min = |t: &MetricTrend| (t.fit_end[0] - t.fit_start[0]) / 60.0;
    let span = span_min(b).min(span_min(c));
    let floor = (span > 0.0).then(|| {
        let total = g.kind.min_total_growth();
        let amount = if g.kind.is_bytes() {
            format_bytes(total)
        } else {
            format!("{total:.0}")
        };
        (
            total / span,
            format!(
                "{} ({amount} over the {} fitted)",
                format_rate(total / span),
                crate::units::format_duration_s(span * 60.0)
            ),
        )
    });
    let tested = Tested {
        change,
        significant: change.significant(),
        limit: g.limit_per_min,
        limit_kind: LimitKind::Absolute,
        floor,
        ci_of: None,
    };
    judged(&spec, b.slope_per_min, c.slope_per_min, &tested, forced)
}

/// The judged memory's samples after its warm-up, with the run's own established growth
/// taken out (a leak raises the level it ends at, not the one it settled at; the growth is
/// judged on its own). `None` without samples.
fn level_series(side: &Side, metric: Metric, trend: Option<&MetricTrend>) -> Option<Vec<f64>> {
    let columns = &side.run.columns;
    let (first_t, _) = columns.points(metric).next()?;
    let from = first_t + trend.map_or(0.0, |t| t.warmup_s);
    let slope_per_s = trend
        .filter(|t| t.verdict != Verdict::Pass)
        .map_or(0.0, |t| t.slope_per_min / 60.0);
    let after: Vec<f64> = columns
        .points(metric)
        .filter(|(t, _)| *t >= from)
        .map(|(t, y)| y - slope_per_s * (t - from))
        .collect();
    if after.is_empty() {
        Some(columns.points(metric).map(|(_, y)| y).collect())
    } else {
        Some(after)
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Whose memory grows (a warn or fail trend), for the peak's reason.
fn growing<'a>(
    b: Option<&'a MetricTrend>,
    c: Option<&'a MetricTrend>,
) -> Option<(&'static str, &'a MetricTrend)> {
    let grows = |t: Option<&'a MetricTrend>| t.filter(|t| t.verdict != Verdict::Pass);
    grows(c)
        .map(|t| ("the candidate", t))
        .or_else(|| grows(b).map(|t| ("the baseline", t)))
}

/// Steady memory and peak of the judged memory (`memory`, the same on both sides).
pub fn level_and_peak(
    baseline: &Side,
    candidate: &Side,
    memory: JudgedMemory,
    limits: &CompareLimits,
) -> [ComparedItem; 2] {
    let kind = memory.kind();
    let metric = kind.column();
    let (bt, ct) = (
        super::trend_of(baseline, kind),
        super::trend_of(candidate, kind),
    );
    let format = |v: f64| format_bytes(v);
    let steady_spec = ItemSpec {
        id: "memory.steady",
        label: format!("steady {}", kind.label()),
        unit: "bytes",
        format: &format,
        worse: Worse::Higher,
    };
    let peak_spec = ItemSpec {
        id: "memory.peak",
        label: format!("peak {}", kind.label()),
        unit: "bytes",
        format: &format,
        worse: Worse::Higher,
    };
    let (Some(bs), Some(cs)) = (
        level_series(baseline, metric, bt),
        level_series(candidate, metric, ct),
    ) else {
        let who = side_missing(
            baseline.run.columns.present(metric) > 0,
            candidate.run.columns.present(metric) > 0,
        );
        let why = format!("{who} has no {} samples", kind.label());
        return [
            not_compared(&steady_spec, None, None, &why),
            not_compared(&peak_spec, None, None, &why),
        ];
    };
    let steady = relative_item(
        &steady_spec,
        (mean(&bs), mean(&cs)),
        stats::welch_relative(&stats::block_means(&bs), &stats::block_means(&cs)),
        limits.max_memory_increase,
        None,
    );
    let peak_of = |side: &Side| side.run.columns.max_int(metric).map(|p| p as f64);
    let (Some(bp), Some(cp)) = (peak_of(baseline), peak_of(candidate)) else {
        return [steady, not_compared(&peak_spec, None, None, "no peak")];
    };
    // A growing series peaks where the run happens to end: that is the growth, judged
    // under its own item, not a higher peak.
    let peak = if let Some((who, t)) = growing(bt, ct) {
        not_compared(
            &peak_spec,
            Some(bp),
            Some(cp),
            &format!(
                "{} grows {} in {who}, so its peak follows the growth and the run's length; see {} growth",
                kind.label(),
                format_byte_rate(t.slope_per_min),
                kind.label()
            ),
        )
    } else {
        let block_maxima = |side: &Side| -> Vec<f64> {
            let all: Vec<f64> = side.run.columns.points(metric).map(|(_, y)| y).collect();
            stats::blocks(&all, stats::block_count(&all))
                .map(|b| b.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                .collect()
        };
        let test = stats::welch_relative(&block_maxima(baseline), &block_maxima(candidate));
        relative_item(
            &peak_spec,
            (bp, cp),
            test.map(|t| Change {
                estimate: cp / bp - 1.0,
                ..t
            })
            .filter(|_| bp > 0.0),
            limits.max_memory_increase,
            Some("block maxima"),
        )
    };
    [steady, peak]
}

/// A relative item from its values and its test (`None`: too little data for one).
pub fn relative_item(
    spec: &ItemSpec,
    (baseline, candidate): (f64, f64),
    test: Option<Change>,
    limit: f64,
    ci_of: Option<&'static str>,
) -> ComparedItem {
    relative_item_floored(spec, (baseline, candidate), test, limit, ci_of, None)
}

/// [`relative_item`] with an absolute floor under the relative limit.
pub fn relative_item_floored(
    spec: &ItemSpec,
    (baseline, candidate): (f64, f64),
    test: Option<Change>,
    limit: f64,
    ci_of: Option<&'static str>,
    floor: Option<(f64, String)>,
) -> ComparedItem {
    let Some(change) = test else {
        return not_compared(
            spec,
            Some(baseline),
            Some(candidate),
            "too few samples on a side for a test, or a zero baseline",
        );
    };
    let significant = match ci_of {
        // The interval is of the blocks (or intervals) themselves: its sign says.
        Some(_) => {
            let mut basis = change;
            basis.estimate = (basis.ci[0] + basis.ci[1]) / 2.0;
            basis.significant()
        }
        None => change.significant(),
    };
    let tested = Tested {
        change,
        significant,
        limit,
        limit_kind: LimitKind::Relative,
        floor,
        ci_of,
    };
    judged(spec, baseline, candidate, &tested, None)
}
