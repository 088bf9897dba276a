//! The threads and FDs chart: threads above, open FDs below, each with its fitted trend,
//! its fail threshold's slope and its warm-up.

use super::axis::{TimeAxis, extent, padded};
use super::legend::{legend_item, warmup_legend};
use super::marks::{Mark, place_marks};
use super::panel::{ChartSpec, PanelSpec};
use super::series::{SampleSeries, trace_values};
use super::style::{
    DOUBLE_PANEL_PX, FDS_LOOK, FIT_LOOK, SINGLE_PANEL_PX, THREADS_LOOK, THRESHOLD_LOOK,
};
use super::trend::{signed, trend_lines, verdict_word, warmup_mark, warmup_shade};
use crate::analysis::{MetricTrend, RunVerdict};
use crate::columns::Metric;
use crate::runlog::RunData;
use crate::units::format_count_rate;

/// "Threads +0.00/h (pass)".
fn count_title(name: &str, trend: Option<&MetricTrend>, measured: bool) -> String {
    match trend {
        Some(t) => format!(
            "{name} {} ({})",
            signed(format_count_rate(t.slope_per_min), t.slope_per_min),
            verdict_word(t)
        ),
        None if measured => format!("{name}: too few samples for a trend"),
        None => format!("{name}: not measured"),
    }
}

pub(super) fn chart(
    run: &RunData,
    verdict: &RunVerdict,
    axis: &TimeAxis,
    marks: &[Mark],
) -> ChartSpec {
    let m = &verdict.metrics;
    let th = &verdict.thresholds;
    let first_t = run.columns.t().first().copied().unwrap_or(0.0);
    let threads = SampleSeries::new(&run.columns, Metric::Threads, 1.0).trace(THREADS_LOOK);
    let fds = SampleSeries::new(&run.columns, Metric::Fds, 1.0).trace(FDS_LOOK);
    let title = format!(
        "{}, {}",
        count_title("Threads", m.threads.as_ref(), !threads.is_empty()),
        count_title("FDs", m.fds.as_ref(), !fds.is_empty())
    );
    let mut legend = Vec::new();
    let mut panels = Vec::new();
    let mut any_warmup = false;
    let mut any_trend = false;
    for (caption, name, trace, trend, per_min) in [
        (
            "Threads",
            "threads",
            threads,
            m.threads.as_ref(),
            th.max_thread_growth_per_min,
        ),
        (
            "Open FDs",
            "open FDs",
            fds,
            m.fds.as_ref(),
            th.max_fd_growth_per_min,
        ),
    ] {
        if trace.is_empty() {
            continue;
        }
        legend.push(legend_item(name, trace.look));
        let mut values: Vec<f64> = trace_values(std::slice::from_ref(&trace)).collect();
        let mut refs = Vec::new();
        if let Some(t) = trend {
            let lines = trend_lines(t, Some(per_min), 1.0);
            values.extend([lines[0].from.1, lines[0].to.1]);
            refs = lines;
            any_trend = true;
        }
        let shades: Vec<_> = warmup_shade(trend, first_t).into_iter().collect();
        any_warmup |= !shades.is_empty();
        let mut panel = PanelSpec::new("count", padded(extent(values)));
        panel.caption = Some(caption.to_string());
        panel.integer = true;
        panel.traces = vec![trace];
        panel.refs = refs;
        panel.shades = shades;
        panels.push(panel);
    }
    if panels.is_empty() {
        panels.push(PanelSpec::new("count", (0.0, 1.0)));
    }
    if any_trend {
        legend.push(legend_item("fitted trend", FIT_LOOK));
        legend.push(legend_item(
            format!(
                "fail threshold: threads {}, FDs {} (from the trend's start)",
                signed(format_count_rate(th.max_thread_growth_per_min), 1.0),
                signed(format_count_rate(th.max_fd_growth_per_min), 1.0)
            ),
            THRESHOLD_LOOK,
        ));
    }
    let mut marks = marks.to_vec();
    if any_warmup {
        legend.push(warmup_legend());
        marks.push(warmup_mark(first_t));
    }
    let panel_px = if panels.len() > 1 {
        DOUBLE_PANEL_PX
    } else {
        SINGLE_PANEL_PX
    };
    ChartSpec {
        title,
        panels,
        panel_px,
        marks: place_marks(&marks, axis),
        legend,
    }
}
