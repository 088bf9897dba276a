//! What a fitted trend brings to a chart (memory, threads, FDs): its slope in words, its
//! line and the fail threshold's slope from the same start, and its warm-up shaded.

use super::marks::{Mark, MarkKind};
use super::panel::{RefLine, Shade};
use super::style::{FIT_LOOK, THRESHOLD_LOOK};
use crate::analysis::MetricTrend;

/// `+24.4 MB/min`, `-3.20/h`.
pub(super) fn signed(rate: String, value: f64) -> String {
    if value >= 0.0 && !rate.starts_with('-') {
        format!("+{rate}")
    } else {
        rate
    }
}

/// A trend's verdict word; `info` for a metric that is reported but not judged.
pub(super) fn verdict_word(trend: &MetricTrend) -> &'static str {
    if trend.judged {
        trend.verdict.as_str()
    } else {
        "info"
    }
}

/// The fitted line of a trend, and the fail threshold's slope from its start over the
/// same span, in the chart's unit (`scale` units per value unit).
pub(super) fn trend_lines(
    trend: &MetricTrend,
    threshold_per_min: Option<f64>,
    scale: f64,
) -> Vec<RefLine> {
    let (t0, v0) = (trend.fit_start[0], trend.fit_start[1] / scale);
    let (t1, v1) = (trend.fit_end[0], trend.fit_end[1] / scale);
    let mut lines = vec![RefLine::new((t0, v0), (t1, v1), FIT_LOOK)];
    if let Some(per_min) = threshold_per_min.filter(|_| t1 > t0) {
        let v = v0 + per_min / scale * (t1 - t0) / 60.0;
        lines.push(RefLine::new((t0, v0), (t1, v), THRESHOLD_LOOK));
    }
    lines
}

/// The warm-up of a trend as a shaded span, when there was one.
pub(super) fn warmup_shade(trend: Option<&MetricTrend>, first_t: f64) -> Option<Shade> {
    let trend = trend.filter(|t| t.warmup_s > 0.0)?;
    Some(Shade {
        from_s: first_t,
        to_s: first_t + trend.warmup_s,
    })
}

/// The label of a warm-up's shading, placed with the event labels.
pub(super) fn warmup_mark(first_t: f64) -> Mark {
    Mark {
        t: first_t,
        kind: MarkKind::WarmUp,
        label: "warm-up".to_string(),
    }
}
